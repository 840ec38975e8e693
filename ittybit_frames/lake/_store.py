"""Lake locations as URLs, and the object store behind a remote lake.

``s3://bucket/prefix``, ``gs://bucket/prefix``, ``az://container/prefix`` (or
``abfs://``/``abfss://``) name a lake in an object store; ``file://...`` and plain paths a
folder. Remote lakes go through fsspec (``s3fs``, ``gcsfs``, ``adlfs``: the extras
``ittybit-frames[s3]``, ``[gcs]``, ``[azure]``), imported only when a URL needs them.
Credentials and endpoints come from each cloud's own environment and config files
(``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3`` for
S3-compatible stores, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_*``...): never
from a URL or our own variables, and never written to a log, an error or a repr. They
are read as they are at each use: a process keeps a file system per protocol only
while the variables that configure it (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``...) stay
the same (changed config files are not noticed: start a new process); but a lake whose
lock is held keeps the store it was locked on until it is released (:func:`pinned`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import functools
import hashlib
import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from ittybit_frames.errors import ConfigurationError, LakeError

logger = logging.getLogger("ittybit_frames.lake")

#: URL scheme -> (fsspec protocol, the package it needs, our extra that installs it).
SCHEMES: dict[str, tuple[str, str, str]] = {
    "s3": ("s3", "s3fs", "s3"),
    "s3a": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("abfs", "adlfs", "azure"),
    "abfs": ("abfs", "adlfs", "azure"),
    "abfss": ("abfs", "adlfs", "azure"),
}
#: Protocol -> (its settings, as :func:`_settings` gives them; the file system made with them).
_FILESYSTEMS: dict[str, tuple[dict[str, str], Any]] = {}
#: The environment variables (prefixes) each protocol's SDK configures itself from.
_SETTINGS: dict[str, tuple[str, ...]] = {
    "s3": ("AWS_",),
    "gcs": ("GOOGLE_", "GCSFS_", "CLOUDSDK_", "STORAGE_EMULATOR_HOST"),
    "abfs": ("AZURE_",),
}
_SALT = os.urandom(16)  # this process's: the digests of secrets are worth nothing outside it
_REACHED: set[str] = set()  # endpoints that took a connection (see _check_endpoint)
_PORTS = {"http": 80, "https": 443}
_GUARD = threading.Lock()
_PINNED: dict[tuple[str, str], list[ObjectStore]] = {}  # (protocol, bucket/prefix): lakes held


@contextlib.contextmanager
def pinned(store: ObjectStore) -> Iterator[ObjectStore]:
    """While the block runs, :meth:`ObjectStore.open` of the lake gives ``store`` (or
    the store pinned before it, a second lock tried meanwhile), whatever the environment
    becomes (a held lock's lease and writes on one store)."""
    key = (store.protocol, store.base)
    with _GUARD:
        _PINNED.setdefault(key, []).append(store)
    try:
        yield store
    finally:
        with _GUARD:
            pins = _PINNED.get(key, [])
            for at in [i for i, s in enumerate(pins) if s is store][-1:]:  # its last pin
                del pins[at]
            if not pins:
                _PINNED.pop(key, None)


def _scheme(path: object) -> str:
    if not isinstance(path, str) or "://" not in path:
        return ""
    return path.split("://", 1)[0].lower()


def is_remote(path: object) -> bool:
    """True for a lake URL in an object store (``s3://``, ``gs://``, ``az://``...)."""
    return _scheme(path) in SCHEMES


def local_path(path: str | os.PathLike[str]) -> Path:
    """A local lake's folder: a path, or a ``file://`` URL."""
    scheme = _scheme(path)
    if scheme == "file":
        parsed = urllib.parse.urlparse(str(path))
        if parsed.netloc not in ("", "localhost"):
            raise ConfigurationError("a file:// URL names a local folder: file:///path/to/lake")
        return Path(urllib.parse.unquote(parsed.path))
    typo = str(path).split(":", 1)[0].lower() if ":" in str(path) else ""
    if not scheme and typo in (*SCHEMES, "file"):  # s3:/bucket, s3:bucket: never a folder
        raise ConfigurationError(
            f"{path} looks like a mistyped lake URL: write {typo}://BUCKET/PREFIX "
            "(or ./ before a folder whose name has a colon)"
        )
    if scheme and len(scheme) > 1:  # (a Windows drive letter is no scheme)
        known = ", ".join(f"{s}://" for s in ("s3", "gs", "az", "abfs", "file"))
        raise ConfigurationError(f"unknown lake URL scheme {scheme}://; use a path or {known}")
    return Path(path)


def _settings(protocol: str) -> dict[str, str]:
    """The environment variables that configure ``protocol``'s file system (its SDK
    reads them when the file system is made), each with a salted digest of its value:
    some are secrets, and a digest is all a comparison needs."""
    prefixes = _SETTINGS.get(protocol, ())
    return {
        name: hashlib.blake2b(value.encode(), key=_SALT, digest_size=16).hexdigest()
        for name, value in os.environ.items()
        if name.startswith(prefixes)
    }


def _filesystem(protocol: str, package: str, extra: str) -> Any:
    """The fsspec filesystem of ``protocol`` for the environment as it is now (a new one
    whenever a variable that configures it changed, e.g. ``AWS_ENDPOINT_URL``), with
    listings never cached (other writers change the lake)."""
    settings = _settings(protocol)
    with _GUARD:
        kept = _FILESYSTEMS.get(protocol)
        if kept is not None and kept[0] == settings:
            return kept[1]
        try:
            import fsspec  # noqa: PLC0415  (optional: remote lakes only)

            fs = fsspec.filesystem(protocol, use_listings_cache=False, skip_instance_cache=True)
        except ImportError:
            raise ConfigurationError(
                f"a {protocol} lake needs {package}: pip install 'ittybit-frames[{extra}]'"
            ) from None
        if kept is not None:  # the variables' names only, never a value
            changed = sorted(k for k in {*settings, *kept[0]} if settings.get(k) != kept[0].get(k))
            logger.debug("a new %s file system (%s changed)", protocol, ", ".join(changed))
        _FILESYSTEMS[protocol] = (settings, fs)
        return fs


_F = TypeVar("_F", bound=Callable[..., Any])
_SDKS = ("botocore", "aiobotocore", "s3fs", "google", "gcsfs", "azure", "adlfs")


def _cloud_errors(method: _F) -> _F:
    """A cloud SDK's own errors (no credentials found, an expired token...) become one
    :class:`LakeError` line naming the lake; OS errors (a missing bucket, access denied)
    pass as they are."""

    @functools.wraps(method)
    def call(self: ObjectStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except FileNotFoundError as exc:
            if _code(exc) != "NoSuchBucket":
                raise
            bucket = self.base.split("/", 1)[0]
            raise FileNotFoundError(
                f"{self.url}: the bucket {bucket!r} does not exist: create it, or check the "
                "lake URL and the endpoint (AWS_ENDPOINT_URL)"
            ) from None
        except PermissionError as exc:
            raise _refused(self.url, exc) from None
        except (OSError, LakeError):
            raise
        except Exception as exc:
            if not type(exc).__module__.startswith(_SDKS):
                raise
            line = (
                f"{self.url}: {exc} (credentials and endpoints come from the cloud's "
                "standard environment and config, e.g. AWS_ACCESS_KEY_ID or AWS_PROFILE)"
            )
            if "Credential" in type(exc).__name__:  # none found: a set-up mistake
                raise ConfigurationError(line) from None
            raise LakeError(line, path=self.url) from None

    return cast(_F, call)


#: The store's codes for credentials it does not take (a key it does not know, a wrong
#: secret, an expired session).
_BAD_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
)


def _refused(url: str, exc: PermissionError) -> Exception:
    """The one line for a store refusing a request: the lake, the store's code, what to
    check; a :class:`ConfigurationError` for credentials it does not take. The SDK's
    message is the store's own, which never holds the secret (requests carry only a
    signature made with it)."""
    code = _code(exc) or "Forbidden"
    told = str(exc.strerror or exc)[:200]
    if code in _BAD_CREDENTIALS:
        return ConfigurationError(
            f"{url}: the store refused the credentials ({code}: {told}): check "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    return PermissionError(
        f"{url}: the store refused access ({code}): check the credentials "
        "(AWS_ACCESS_KEY_ID, AWS_PROFILE) and that they may read and write this bucket"
    )


@dataclass(frozen=True)
class ObjectStore:
    """A remote lake: its URL and the objects under it, addressed by their key relative
    to the lake (``jobs/created_date=2026-10-01/part-0.parquet``)."""

    url: str  # scheme://bucket/prefix, no trailing slash
    base: str  # bucket/prefix, as fsspec names it
    protocol: str
    fs: Any = field(repr=False, compare=False)

    @classmethod
    def open(cls, url: str) -> ObjectStore:
        """The store of ``url``.

        Raises
        ------
        ConfigurationError
            Credentials in the URL (use the cloud's environment), no bucket, or the
            cloud's package is not installed.
        """
        scheme = _scheme(url)
        protocol, package, extra = SCHEMES[scheme]
        rest = url.split("://", 1)[1]
        rest = "" if rest.startswith("/") else rest.strip("/")  # s3:///prefix: no bucket
        bucket = rest.split("/", 1)[0]
        if "@" in bucket or ":" in bucket:  # user:secret@bucket: never taken, never echoed
            raise ConfigurationError(
                f"a {scheme}:// lake URL carries no credentials: they come from the cloud's "
                "standard environment or config (for S3: AWS_ACCESS_KEY_ID, AWS_PROFILE...)"
            )
        if not bucket:
            raise ConfigurationError(f"a lake URL names a bucket: {scheme}://BUCKET/PREFIX")
        if held := _PINNED.get((protocol, rest)):  # locked: on its store
            return held[0]
        store = cls(f"{scheme}://{rest}", rest, protocol, _filesystem(protocol, package, extra))
        if protocol == "s3":
            _check_endpoint(store)
        return store

    def __str__(self) -> str:
        return self.url

    def key(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    @_cloud_errors
    def get(self, rel: str) -> bytes | None:
        """An object's bytes (None: there is none)."""
        try:
            return self.fetch([self.key(rel)])[0]
        except FileNotFoundError:
            return None

    @_cloud_errors
    def get_tagged(self, rel: str) -> tuple[bytes, str] | None:
        """An object's bytes and the ETag of a version no newer than them (its tag is read
        first, so a conditional write on it fails if the object changed since)."""
        try:
            tag = self.tag(rel)
            data: bytes = self.fs.cat_file(self.key(rel))
        except FileNotFoundError:
            return None
        return data, tag

    @_cloud_errors
    def tag(self, rel: str) -> str:
        info = self.fs.info(self.key(rel))
        return str(info.get("ETag") or info.get("etag") or info.get("generation") or "")

    @_cloud_errors
    def put(self, rel: str, data: bytes) -> None:
        """Write an object whole (each object write is atomic)."""
        self.fs.pipe_file(self.key(rel), data)

    @_cloud_errors
    def create(self, rel: str, data: bytes) -> str | None:
        """Write an object only if there is none (``If-None-Match: *``): its ETag; None
        if one is there."""
        try:
            answer = self.fs.pipe_file(self.key(rel), data, mode="create")
        except FileExistsError:
            return None
        tag = answer.get("ETag") if isinstance(answer, dict) else None
        return str(tag) if tag else self.tag(rel)

    @property
    def conditional(self) -> bool:
        """True where replaces and deletes are conditional (``If-Match``): S3."""
        return self.protocol == "s3"

    @_cloud_errors
    def replace(self, rel: str, data: bytes, tag: str) -> str | None:
        """Replace an object only if it is still the version ``tag`` (``If-Match``); its
        new tag, or None when it changed or went meanwhile. Where the store is not
        :attr:`conditional`, the tag is compared first (not atomic: for an object only
        its owner writes, such as a held lease)."""
        if not self.conditional:
            if self.tag(rel) != tag:
                return None
            self.put(rel, data)
            return self.tag(rel)
        bucket, key = self._split(rel)
        try:
            answer = self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfMatch=tag)
        except (OSError, FileNotFoundError) as exc:
            # NoSuchKey: gone since it was read (a lease let go), not that version either.
            if _precondition(exc) or _code(exc) == "NoSuchKey":
                return None
            raise
        return str(answer.get("ETag", ""))

    @_cloud_errors
    def remove(self, rel: str, tag: str) -> bool:
        """Delete an object only if it is still the version ``tag``; False if it changed
        (compared first where the store is not :attr:`conditional`)."""
        if not self.conditional:
            if self.tag(rel) != tag:
                return False
            self.delete([rel])
            return True
        bucket, key = self._split(rel)
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=tag)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if _precondition(exc):
                return False
            raise
        return True

    def _split(self, rel: str) -> tuple[str, str]:
        bucket, _, key = self.key(rel).partition("/")
        return bucket, key

    @_cloud_errors
    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.key(rel)))

    @_cloud_errors
    def copy(self, pairs: list[tuple[str, str]]) -> None:
        """Server-side copies (no data through this machine), run concurrently."""
        if not pairs:
            return
        if self.protocol != "s3":
            self.fs.copy([self.key(a) for a, _ in pairs], [self.key(b) for _, b in pairs])
            return
        # CopyObject at once (fs.copy HEADs each source first; a partition is < 5 GB).
        _gather(self.fs, [self.fs._copy_basic(self.key(a), self.key(b)) for a, b in pairs])

    @_cloud_errors
    def delete(self, rels: list[str]) -> None:
        """Delete objects (missing ones are no error)."""
        if rels:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm([self.key(r) for r in rels])

    @_cloud_errors
    def top(self) -> dict[str, str]:
        """The objects at the lake's top level (manifest, index, journal...) and their
        ETags, from one listing."""
        try:
            entries = self.fs.ls(self.base, detail=True)
        except FileNotFoundError:
            return {}
        return {
            str(e["name"]).rsplit("/", 1)[-1]: str(e.get("ETag") or e.get("etag") or "")
            for e in entries
            if e.get("type") == "file"
        }

    @_cloud_errors
    def fetch(self, keys: list[str]) -> list[bytes]:
        """Several whole objects (by their full keys), fetched concurrently."""
        if not keys:
            return []
        if not getattr(self.fs, "async_impl", False):
            return [bytes(self.fs.cat_file(k)) for k in keys]
        # One GET each (fs.cat, and s3fs unless told one part, HEAD each object first).
        options = {"max_concurrency": 1} if self.protocol == "s3" else {}
        return _gather(self.fs, [self.fs._cat_file(k, **options) for k in keys])

    @_cloud_errors
    def sizes(self) -> dict[str, int]:
        """Every object of the lake and its size (one listing), relative to the lake."""
        try:
            found = self.fs.find(self.base, detail=True)
        except FileNotFoundError:
            return {}
        cut = len(self.base) + 1
        return {str(k)[cut:]: int(v.get("size") or 0) for k, v in found.items()}

    @_cloud_errors
    def find(self, prefix: str) -> list[str]:
        """Every object under ``prefix`` (one listing), relative to the lake."""
        try:
            found = self.fs.find(self.key(prefix))
        except FileNotFoundError:
            return []
        cut = len(self.base) + 1
        return sorted(str(k)[cut:] for k in found if str(k).startswith(self.base + "/"))


@_cloud_errors
def age(store: ObjectStore, rel: str) -> float | None:
    """Seconds since the object was last written, on the store's own clock (its
    ``Last-Modified`` against the ``Date`` of the answer; whole seconds); None: no
    such object. S3 only."""
    bucket, key = store._split(rel)
    try:
        answer = store.fs.call_s3("head_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return None
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        now = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):  # no Date: this machine's clock, then
        now = dt.datetime.now(dt.UTC)
    return float((now - answer["LastModified"]).total_seconds())


def _check_endpoint(store: ObjectStore) -> None:
    """Fail at once where an S3 store's endpoint refuses connections (nothing listens):
    the SDK would try again and again, seconds of backoff, before saying so. Checked
    once a process per endpoint that answered; a name that does not resolve, a timeout
    or a proxy in between are left to the SDK's own first call.

    Raises
    ------
    ConfigurationError
        The endpoint refused the connection.
    """
    try:
        store.fs.connect()
        endpoint = str(store.fs.s3.meta.endpoint_url)
    except Exception:  # no client to be had: its first call will say why
        return
    if endpoint in _REACHED:
        return
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.hostname or ""
    if not host or (parts.scheme in urllib.request.getproxies() and not _bypass(host)):
        return
    shown = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"  # no user info
    try:
        socket.create_connection((host, parts.port or _PORTS.get(parts.scheme, 443)), 5).close()
    except ConnectionRefusedError:
        raise ConfigurationError(
            f"{store.url}: the S3 endpoint {shown} refused the connection: check "
            "AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3, a profile's endpoint_url) and that "
            "the store is running"
        ) from None
    except OSError:
        return
    _REACHED.add(endpoint)


def _bypass(host: str) -> bool:
    return bool(urllib.request.proxy_bypass(host))


def _gather(fs: Any, calls: list[Any]) -> list[Any]:
    """Run coroutines of an asynchronous file system concurrently, on its loop."""
    from fsspec.asyn import sync  # noqa: PLC0415  (optional: remote lakes only)

    async def every() -> list[Any]:
        return list(await asyncio.gather(*calls))

    answers: list[Any] = sync(fs.loop, every)
    return answers


def _precondition(exc: BaseException) -> bool:
    """True for a failed ``If-Match`` (HTTP 412; 409 when a concurrent write raced it)."""
    return _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict")


def _code(exc: BaseException) -> str:
    """The store's error code behind ``exc`` (``NoSuchBucket``...); "" if none."""
    cause: BaseException | None = exc
    while cause is not None:
        response = getattr(cause, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        cause = cause.__cause__
    return ""
