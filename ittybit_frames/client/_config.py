"""Client settings checked once: the options, the API key, the base URL, the API version
and job IDs."""

from __future__ import annotations

import functools
import inspect
import ipaddress
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from ittybit_frames.errors import ConfigurationError, InvalidJobIdError
from ittybit_frames.vocabulary import ID_PADDING

__all__ = [
    "DEFAULT_BASE_URL",
    "ClientOptions",
    "Secret",
    "Sleep",
    "check_job_id",
    "check_job_ids",
    "clean_job_id",
    "padded_ids",
    "raw_id_path",
    "resolve_api_version",
    "resolve_base_url",
    "resolve_key",
    "takes_options",
]

DEFAULT_BASE_URL = "https://api.ittybit.com"
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")  # used with fullmatch: `$` would allow a "\n"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

Sleep = Callable[[float], Awaitable[None]]
_P = ParamSpec("_P")
_Self = TypeVar("_Self")
_Options = TypeVar("_Options")
_R = TypeVar("_R")


@dataclass(frozen=True)
class ClientOptions:
    """Every setting of a client, in one place: the signature of both ``Client(...)`` and
    ``AsyncClient(...)`` (see :class:`~ittybit_frames.client.AsyncClient` for what each
    means). The numbers are checked when the options are built.

    Raises
    ------
    ConfigurationError
        ``concurrency`` or ``max_attempts`` below 1, or ``timeout`` not positive.
    """

    api_key: str | None = field(default=None, repr=False)
    _: KW_ONLY
    base_url: str | None = None
    timeout: float = 30.0
    max_attempts: int = 8
    max_retry_time: float = 300.0
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    max_retry_after: float = 60.0
    concurrency: int = 16
    rate_limit: float | None = None
    progress: bool | None = None
    transport: httpx.AsyncBaseTransport | None = None
    api_version: str | None = None
    sleep: Sleep | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if self.timeout <= 0:
            raise ConfigurationError("timeout must be positive")


def takes_options(
    options: Callable[_P, _Options],
) -> Callable[[Callable[[_Self, _Options], _R]], Callable[Concatenate[_Self, _P], _R]]:
    """Give a method ``(self, options)`` the typed signature of ``options``' constructor.

    The decorated method is called with the arguments of ``options`` (a dataclass such as
    :class:`ClientOptions`), builds it once, and receives it. So a signature shared by
    several methods is written once, mypy checks every call against it (``timeot=5`` is
    an error), and ``help()`` and :func:`inspect.signature` show its parameters.
    """
    shown = list(inspect.signature(options).parameters.values())

    def decorate(method: Callable[[_Self, _Options], _R]) -> Callable[Concatenate[_Self, _P], _R]:
        @functools.wraps(method)
        def call(self: _Self, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            return method(self, options(*args, **kwargs))

        own = inspect.signature(method)
        first = next(iter(own.parameters.values()))
        call.__signature__ = own.replace(parameters=[first, *shown])  # type: ignore[attr-defined]
        return call

    return decorate


class Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url: str | None) -> str:
    """``base_url``, else ``ITTYBIT_BASE_URL``, else the public API; checked for safety."""
    url = (base_url or os.environ.get("ITTYBIT_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of 0-65535 or not a number
    except ValueError as exc:
        raise ConfigurationError(
            f"base URL {url!r} cannot be parsed ({exc}); pass base_url= or set "
            "ITTYBIT_BASE_URL to something like https://api.ittybit.com"
        ) from exc
    if parts.port == 0:
        raise ConfigurationError(f"base URL {url!r} has port 0, which cannot be connected to")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base URL {url!r} is not an http(s) URL; pass base_url= or set "
            "ITTYBIT_BASE_URL to something like https://api.ittybit.com"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing to send the API key over plain http to {parts.hostname}; "
            "use an https:// base URL (plain http is allowed only for 127.0.0.1/localhost)"
        )
    if parts.query or parts.fragment or parts.username:
        raise ConfigurationError("base URL must not contain credentials, a query or a fragment")
    return url


def resolve_key(api_key: str | None) -> Secret:
    """``api_key``, else ``ITTYBIT_API_KEY``; refused if empty or multi-line."""
    key = api_key if api_key is not None else os.environ.get("ITTYBIT_API_KEY")
    if not key or not key.strip():
        raise ConfigurationError(
            "no ittybit API key: set the ITTYBIT_API_KEY environment variable "
            "or pass api_key= to the client"
        )
    if any(c in key for c in "\r\n"):
        raise ConfigurationError("the API key contains a line break; check ITTYBIT_API_KEY")
    return Secret(key.strip())


def resolve_api_version(api_version: str | None) -> str | None:
    """``api_version``, else ``ITTYBIT_API_VERSION``, else None (the server's default)."""
    version = api_version if api_version is not None else os.environ.get("ITTYBIT_API_VERSION")
    if version is None or not version.strip():
        return None
    if not re.fullmatch(r"[\x21-\x7e]{1,64}", version.strip()):
        raise ConfigurationError(
            f"API version {version[:70]!r} is not a header-safe token (like 2025-08-20); "
            "check api_version= or ITTYBIT_API_VERSION"
        )
    return version.strip()


def clean_job_id(job_id: Any) -> Any:
    """A job ID as it should be requested: numbers as strings, whitespace and BOM stripped.

    Anything else (None, lists...) is returned as it came, for :func:`check_job_id` to
    refuse with a clear message.
    """
    if isinstance(job_id, int) and not isinstance(job_id, bool):
        return str(job_id)
    if isinstance(job_id, str):
        return job_id.strip(ID_PADDING)
    return job_id


def padded_ids(ids: Iterable[Any]) -> dict[str, str]:
    """``{ID as requested: ID as given}`` for each ID :func:`clean_job_id` strips of
    padding (a server may key a job by its padded ID: see :func:`raw_id_path`)."""
    found = {}
    for raw in ids:
        if isinstance(raw, str) and (clean := raw.strip(ID_PADDING)) not in (raw, ""):
            found[clean] = raw
    return found


def raw_id_path(job_id: str, raw: str) -> str:
    """The URL path segment of ``raw``, the padded form of the checked ``job_id``: its
    padding percent-encoded (``%20job_1%20``), which can change no path but this one."""
    if raw.strip(ID_PADDING) != job_id:
        raise InvalidJobIdError(f"invalid job ID {raw[:60]!r}: not {job_id!r} padded")
    return quote(raw, safe="")


def check_job_ids(ids: Any) -> None:
    """Refuse one string (or bytes) given where a list of IDs is wanted: iterated, it
    would be a request per character."""
    if isinstance(ids, str | bytes | bytearray):
        raise ConfigurationError(
            f"ids must be a list of job IDs, not one string ({ids[:40]!r}): "
            "pass [job_id], or call get_job(job_id)"
        )


def check_job_id(job_id: Any) -> str:
    """Return ``job_id`` if it is safe to put in a URL path, else raise InvalidJobIdError.

    IDs are opaque, but every documented form (``job_abc123``, ULID-style) uses only
    letters, digits, ``_`` and ``-``. Anything else (``/``, ``..``, ``?``, ``#``, spaces)
    could change which resource a request reaches, so it is refused.
    """
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        shown = repr(job_id)[:60]
        raise InvalidJobIdError(
            f"invalid job ID {shown}: IDs contain only letters, digits, '_' and '-'"
        )
    return job_id
