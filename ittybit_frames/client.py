"""Clients for the ittybit jobs API: the only module that talks to the network.

:class:`AsyncClient` does the work on :mod:`asyncio`; :class:`Client` runs an
``AsyncClient`` on a private event-loop thread, so it works the same in a script and
inside Jupyter's running loop.

Requests are built as :class:`httpx.Request` objects and handed to an
:class:`httpx.AsyncBaseTransport`, so tests and users can swap the socket
(``transport=httpx.MockTransport(...)``). The default transport runs on aiohttp's
connection pool: measured here at 20 ms latency, httpx's own pool topped out at
200-400 requests/s, CPU-bound in its pool bookkeeping, while aiohttp keeps up with
well over 1,000 (see BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gc
import ipaddress
import logging
import os
import random
import re
import sys
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import pandas as pd

from ittybit_frames.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InvalidJobIdError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from ittybit_frames.schema import failures_frame
from ittybit_frames.vocabulary import created_ms, parse_when

__all__ = ["DEFAULT_BASE_URL", "AsyncClient", "Client", "ClientStats", "FetchResult"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.ittybit.com"
_T = TypeVar("_T")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_RETRY_STATUSES = frozenset({408, 500, 502, 503, 504})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


# --------------------------------------------------------------------------------------
# Results and statistics
# --------------------------------------------------------------------------------------
@dataclass
class ClientStats:
    """Counters of one client's work. Never contains the API key.

    Attributes
    ----------
    requests : int
        HTTP requests sent (each retry counts).
    retries : int
        Requests that were repeats of a failed one.
    rate_limited : int
        429 answers received.
    waited_seconds : float
        Time spent waiting between attempts (backoff and ``Retry-After``) and for the
        client-side rate limit.
    failures : int
        Requests that failed for good (after retries).
    elapsed_seconds : float
        Wall time spent inside the client's public methods.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    failures: int = 0
    elapsed_seconds: float = 0.0


@dataclass
class FetchResult:
    """What :meth:`Client.fetch_jobs` returns.

    Attributes
    ----------
    jobs : list of dict
        Fetched jobs, in the order their IDs were first given, each once.
    failures : pandas.DataFrame
        One row per ID that could not be fetched: ``job_id``, ``status_code`` (NA for
        network errors and invalid IDs), ``kind``, ``message``.
    stats : ClientStats
        The client's counters when the fetch ended.
    """

    jobs: list[dict[str, Any]]
    failures: pd.DataFrame
    stats: ClientStats = field(default_factory=ClientStats)

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.jobs)


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
class _Secret:
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


def _resolve_base_url(base_url: str | None) -> str:
    url = (base_url or os.environ.get("ITTYBIT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
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


def _resolve_key(api_key: str | None) -> _Secret:
    key = api_key if api_key is not None else os.environ.get("ITTYBIT_API_KEY")
    if not key or not key.strip():
        raise ConfigurationError(
            "no ittybit API key: set the ITTYBIT_API_KEY environment variable "
            "or pass api_key= to the client"
        )
    if any(c in key for c in "\r\n"):
        raise ConfigurationError("the API key contains a line break; check ITTYBIT_API_KEY")
    return _Secret(key.strip())


def check_job_id(job_id: Any) -> str:
    """Return ``job_id`` if it is safe to put in a URL path, else raise InvalidJobIdError.

    IDs are opaque, but every documented form (``job_abc123``, ULID-style) uses only
    letters, digits, ``_`` and ``-``. Anything else (``/``, ``..``, ``?``, ``#``, spaces)
    could change which resource a request reaches, so it is refused.
    """
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        shown = repr(job_id)[:60]
        raise InvalidJobIdError(
            f"invalid job ID {shown}: IDs contain only letters, digits, '_' and '-'"
        )
    return job_id


# --------------------------------------------------------------------------------------
# Transport: httpx's interface over aiohttp's connection pool
# --------------------------------------------------------------------------------------
class AiohttpTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncBaseTransport` backed by an :class:`aiohttp.ClientSession`.

    Redirects are never followed here (the client decides), bodies are read whole, and
    aiohttp's errors are translated into httpx's so callers see one exception family.
    """

    def __init__(self, *, limit: int = 100, timeout: float = 30.0) -> None:
        self._limit = limit
        self._timeout = timeout
        self._session: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp  # noqa: PLC0415

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            if k.lower() not in (b"host", b"content-length")
        ]
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as resp:
                body = await resp.read()
                status = resp.status
                out_headers = [
                    (k, v)
                    for k, v in resp.headers.items()
                    if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
                ]
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._timeout} s", request=request) from exc
        except aiohttp.ClientPayloadError as exc:
            raise httpx.RemoteProtocolError(f"body cut short: {exc}", request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(
                "server closed the connection", request=request
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(
                f"cannot connect: {exc.strerror or exc}", request=request
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.NetworkError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return httpx.Response(status, headers=out_headers, content=body, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# --------------------------------------------------------------------------------------
# Rate limit and progress
# --------------------------------------------------------------------------------------
class _RateLimiter:
    """Spaces request starts at least ``1/rate`` apart; pauses everyone after a 429.

    After a 429 the rate is halved (down to 1/32 of the setting) and climbs back by 5 %
    of the setting with each success, so a client settles just under a server's limit.
    """

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ConfigurationError("rate_limit must be a positive number of requests/second")
        self.rate = rate
        self.current = rate
        self._next = 0.0
        self._paused_until = 0.0
        self._lock: asyncio.Lock | None = None

    async def acquire(self) -> float:
        began = time.monotonic()
        if not self.current and self._paused_until <= began:
            return 0.0
        if self._lock is None:
            self._lock = asyncio.Lock()
        # One request at a time passes the gate, and the next slot is counted from when
        # this one really left: a sleeper that wakes late cannot bunch up its successors.
        async with self._lock:
            while True:
                now = time.monotonic()
                start = max(self._paused_until, self._next if self.current else now)
                if now >= start:
                    break
                await asyncio.sleep(start - now)
            if self.current:
                # A hair over 1/rate, so that no one-second window ever holds rate + 1.
                self._next = now + 1.001 / self.current
        return now - began

    def penalize(self, wait: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + wait)
        if self.rate and self.current:
            self.current = max(self.rate / 32, self.current / 2)

    def reward(self) -> None:
        if self.rate and self.current and self.current < self.rate:
            self.current = min(self.rate, self.current + self.rate * 0.05)


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _progress_bar(enabled: bool | None, total: int | None, desc: str) -> Any:
    if enabled is None:
        enabled = _interactive()
    if not enabled:
        return _NullBar()
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401, PLC0415
        except ImportError:  # tqdm.auto would warn and fall back; go to the text bar directly
            from tqdm.std import tqdm  # noqa: PLC0415
        else:
            from tqdm.auto import tqdm  # noqa: PLC0415
    else:
        from tqdm.std import tqdm  # noqa: PLC0415
    return tqdm(total=total, desc=desc, unit="job", file=sys.stderr, dynamic_ncols=True)


# --------------------------------------------------------------------------------------
# Errors from answers
# --------------------------------------------------------------------------------------
def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_from_response(response: httpx.Response, body: bytes, method: str, url: str) -> APIError:
    status = response.status_code
    kind: str | None = None
    message = ""
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        # Jobs API: {"kind", "message"}; 2024/2025 APIs: {"meta", "error": {"message"}}.
        err = payload.get("error")
        if isinstance(err, dict):
            kind = err.get("kind") or err.get("type") or payload.get("kind")
            message = str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
        kind = kind or payload.get("kind")
        message = message or str(payload.get("message") or "")
    kind = str(kind) if kind is not None else None
    detail = f" ({kind}): {message}" if kind else (f": {message}" if message else "")
    where = {"method": method, "url": url}
    if status in (401, 403):
        return AuthenticationError(
            f"ittybit refused the API key, HTTP {status}{detail}. Set ITTYBIT_API_KEY "
            "(or pass api_key=) to a valid key for this project",
            status_code=status,
            kind=kind,
            **where,
        )
    if status == 404:
        return NotFoundError(
            f"not found, HTTP 404{detail} [{method} {url}]", status_code=404, kind=kind, **where
        )
    if status == 429:
        retry_after = _retry_after_seconds(response.headers.get("retry-after"))
        return RateLimitError(
            f"rate limited, HTTP 429{detail}",
            retry_after=retry_after,
            status_code=429,
            kind=kind,
            **where,
        )
    if status in _RETRY_STATUSES or status >= 500:
        return ServerError(
            f"ittybit server error, HTTP {status}{detail} [{method} {url}]",
            status_code=status,
            kind=kind,
            **where,
        )
    return APIError(
        f"HTTP {status}{detail} [{method} {url}]", status_code=status, kind=kind, **where
    )


def _quiet_stamina() -> None:
    # stamina logs each scheduled retry at WARNING; in an application without logging
    # set up, Python's last-resort handler would print every one to stderr. A NullHandler
    # stops only that fallback: handlers the application configures still get the records.
    stamina_logger = logging.getLogger("stamina")
    if not stamina_logger.handlers:
        stamina_logger.addHandler(logging.NullHandler())


_LONG_NUMBER = re.compile(rb"\d{19,}")


def _loads(body: bytes) -> Any:
    # Parsing many small objects is 2-3x faster with the cyclic GC paused: it would
    # otherwise run over and over on the containers we are creating.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if _LONG_NUMBER.search(body):
            # orjson reads integers beyond 64 bits as floats (losing digits): the stdlib
            # keeps them exact. Only bodies with such long digit runs pay for it.
            import json  # noqa: PLC0415

            return json.loads(body)
        return orjson.loads(body)
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------
# Async client
# --------------------------------------------------------------------------------------
class AsyncClient:
    """Asynchronous client for the ittybit jobs API.

    Parameters
    ----------
    api_key : str, optional
        Project API key. Default: the ``ITTYBIT_API_KEY`` environment variable.
    base_url : str, optional
        Default: ``ITTYBIT_BASE_URL``, else ``https://api.ittybit.com``. Plain ``http://``
        is accepted only for loopback addresses.
    timeout : float, default 30
        Seconds for one request, connection included.
    max_attempts : int, default 8
        Attempts per request, the first included.
    max_retry_time : float, default 300
        Upper bound, in seconds, on the time one request may spend retrying.
    backoff_initial, backoff_max : float
        Jittered exponential backoff between attempts: first wait, longest wait (s).
    max_retry_after : float, default 60
        Longest ``Retry-After`` honoured, in seconds.
    concurrency : int, default 16
        Requests in flight at once.
    rate_limit : float, optional
        Client-side cap, requests per second (never exceeded; lowered after a 429).
    progress : bool, optional
        Progress bar on stderr. Default: only in a terminal or notebook.
    transport : httpx.AsyncBaseTransport, optional
        Replace the network layer (tests, proxies). Default: :class:`AiohttpTransport`.

    Raises
    ------
    ConfigurationError
        No API key, or an unsafe or malformed base URL.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 8,
        max_retry_time: float = 300.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        max_retry_after: float = 60.0,
        concurrency: int = 16,
        rate_limit: float | None = None,
        progress: bool | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if timeout <= 0:
            raise ConfigurationError("timeout must be positive")
        self._key = _resolve_key(api_key)
        self.base_url = _resolve_base_url(base_url)
        self._origin = urlsplit(self.base_url)[:2]
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_time = max_retry_time
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.concurrency = concurrency
        self.progress = progress
        self._limiter = _RateLimiter(rate_limit)
        self._user_transport = transport
        self._transport: httpx.AsyncBaseTransport | None = transport
        self._stats = ClientStats()
        self._active = 0
        self._active_since = 0.0
        self._headers = httpx.Headers(
            {
                "Authorization": f"Bearer {self._key.reveal()}",
                "Accept": "application/json",
                "User-Agent": "ittybit-frames",
            }
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={self._key!r})"

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters (see :class:`ClientStats`)."""
        return replace(self._stats)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a transport passed in stays the caller's)."""
        if self._transport is not None and self._user_transport is None:
            await self._transport.aclose()
            self._transport = None

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        """Count wall time once, however many public calls overlap or nest."""
        if self._active == 0:
            self._active_since = time.monotonic()
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                self._stats.elapsed_seconds += time.monotonic() - self._active_since

    # -- one request -------------------------------------------------------------------
    def _retry_hook(self, exc: Exception) -> bool | float:
        if isinstance(exc, RateLimitError):
            wait = exc.retry_after
            if wait is None:
                wait = self.backoff_initial
            wait = min(wait, self.max_retry_after)
            self._limiter.penalize(wait)
            return float(wait)
        return isinstance(exc, ServerError | NetworkError)

    async def _send(self, url: str, headers: httpx.Headers) -> tuple[httpx.Response, bytes]:
        if self._transport is None:
            self._transport = AiohttpTransport(limit=self.concurrency * 2, timeout=self.timeout)
        request = httpx.Request("GET", url, headers=headers)
        self._stats.requests += 1
        response: httpx.Response | None = None
        try:
            response = await self._transport.handle_async_request(request)
            body = await response.aread()
        except httpx.TimeoutException as exc:
            raise NetworkError(
                f"timed out after {self.timeout} s [GET {url}]", method="GET", url=url
            ) from exc
        except httpx.TransportError as exc:
            raise NetworkError(f"network error: {exc} [GET {url}]", method="GET", url=url) from exc
        finally:
            if response is not None:
                await response.aclose()
        return response, body

    async def _attempt(self, url: str) -> tuple[Any, httpx.Headers]:
        self._stats.waited_seconds += await self._limiter.acquire()
        headers = self._headers
        for _ in range(5):  # redirects, decided here rather than by the transport
            response, body = await self._send(url, headers)
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                target = str(httpx.URL(url).join(response.headers["location"]))
                if urlsplit(target)[:2] != self._origin:
                    # Never forward the key to another host.
                    headers = headers.copy()
                    del headers["Authorization"]
                url = target
                continue
            break
        if response.status_code == 429:
            self._stats.rate_limited += 1
        if response.status_code != 200:
            raise _error_from_response(response, body, "GET", url)
        try:
            payload = _loads(body)
        except ValueError as exc:  # orjson and json decode errors are both ValueErrors
            raise NetworkError(
                f"invalid JSON in the answer (cut short?) [GET {url}]", method="GET", url=url
            ) from exc
        self._limiter.reward()
        return payload, response.headers

    async def _request(self, url: str) -> tuple[Any, httpx.Headers]:
        # The first attempt runs outside the retry machinery: building stamina's retry
        # state costs about as much CPU as the request itself, and most requests succeed.
        try:
            return await self._attempt(url)
        except Exception as exc:
            decision = self._retry_hook(exc)
            if decision is False or self.max_attempts == 1:
                self._stats.failures += 1
                raise
            first_wait = decision if not isinstance(decision, bool) else None
        return await self._retry(url, first_wait)

    async def _retry(self, url: str, first_wait: float | None) -> tuple[Any, httpx.Headers]:
        import stamina  # noqa: PLC0415

        _quiet_stamina()
        began = time.monotonic()
        busy = 0.0
        try:
            # The wait after the first failure: Retry-After if the server sent one, else
            # the first step of the jittered backoff.
            await asyncio.sleep(
                first_wait
                if first_wait is not None
                else self.backoff_initial * (1 + random.random())
            )
            async for attempt in stamina.retry_context(
                on=self._retry_hook,
                attempts=self.max_attempts - 1,
                timeout=self.max_retry_time,
                wait_initial=self.backoff_initial * 2,
                wait_max=self.backoff_max,
                wait_jitter=self.backoff_initial,
            ):
                with attempt:
                    self._stats.retries += 1
                    t = time.monotonic()
                    try:
                        return await self._attempt(url)
                    finally:
                        busy += time.monotonic() - t
        except BaseException:
            self._stats.failures += 1
            raise
        finally:
            self._stats.waited_seconds += max(0.0, time.monotonic() - began - busy)
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    # -- public API --------------------------------------------------------------------
    async def get_job(self, job_id: str) -> dict[str, Any]:
        """Fetch one job with its tasks (``GET /jobs/{id}``).

        Raises
        ------
        InvalidJobIdError
            ``job_id`` has characters that could change the request path.
        NotFoundError, AuthenticationError, APIError, NetworkError
            After retries where retrying makes sense.
        """
        with self._timed():
            payload, _ = await self._request(f"{self.base_url}/jobs/{check_job_id(job_id)}")
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
            payload = payload["data"]  # 2024/2025 envelope {meta, data}
        if not isinstance(payload, dict):
            raise APIError(
                f"expected a job object from GET /jobs/{job_id}, got {type(payload).__name__}",
                status_code=200,
                kind="bad_payload",
                method="GET",
                url=f"{self.base_url}/jobs/{job_id}",
            )
        return payload

    async def fetch_jobs(
        self, ids: Iterable[str], *, errors: Literal["collect", "raise"] = "collect"
    ) -> FetchResult:
        """Fetch many jobs by ID, ``concurrency`` at a time.

        Parameters
        ----------
        ids : iterable of str
            Job IDs; repeats are fetched once.
        errors : {"collect", "raise"}
            ``collect`` records per-ID failures (not found, invalid ID, retries used up)
            in ``FetchResult.failures`` and goes on; ``raise`` raises the first.
            A rejected API key (401/403) always stops the whole fetch.

        Returns
        -------
        FetchResult
        """
        if errors not in ("collect", "raise"):
            raise ConfigurationError("errors must be 'collect' or 'raise'")
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        failed: list[dict[str, Any]] = []
        bar = _progress_bar(self.progress, len(unique), "fetching jobs")
        pending = iter(unique)

        async def worker() -> None:
            for jid in pending:
                try:
                    found[jid] = await self.get_job(jid)
                except AuthenticationError:
                    raise
                except (APIError, NetworkError, InvalidJobIdError) as exc:
                    if errors == "raise":
                        raise
                    failed.append(
                        {
                            "job_id": str(jid),
                            "status_code": getattr(exc, "status_code", None),
                            "kind": getattr(exc, "kind", None) or type(exc).__name__,
                            "message": str(exc),
                        }
                    )
                bar.update(1)

        try:
            with self._timed():
                await _gather_or_cancel(
                    [worker() for _ in range(min(self.concurrency, len(unique)))]
                )
        finally:
            bar.close()
        jobs = [found[j] for j in unique if j in found]
        if failed:
            logger.warning("%d of %d jobs could not be fetched", len(failed), len(unique))
        return FetchResult(jobs, failures_frame(failed), self.stats)

    async def iter_pages(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
        order: Literal["asc", "desc"] = "desc",
        page_size: int = 100,
        after: str | None = None,
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Like :meth:`iter_jobs`, one list per page of the listing.

        ``after`` resumes a walk after that job ID (the API's cursor).
        """
        if order not in ("asc", "desc"):
            raise ConfigurationError("order must be 'asc' or 'desc'")
        if not 1 <= page_size <= 100:
            raise ConfigurationError("page_size must be from 1 to 100 (the API's limit)")
        since_ms, until_ms = parse_when(since), parse_when(until)
        params: dict[str, Any] = {"limit": page_size, "order": order}
        if kind:
            params["kind"] = kind
        if status:
            params["status"] = status
        first = {**params, "after": check_job_id(after)} if after else params
        url = f"{self.base_url}/jobs?{urlencode(first)}"
        bar = _progress_bar(self.progress, None, "listing jobs")
        try:
            while True:
                with self._timed():
                    payload, headers = await self._request(url)
                    items, has_more = _page_items(payload, headers)
                    items = await self._complete(items)
                page, stop = _window(items, since_ms, until_ms, order)
                if page:
                    bar.update(len(page))
                    yield page
                if stop or not items:
                    return
                link = _next_link(headers, payload)
                if link and urlsplit(link)[:2] == self._origin:
                    url = link
                    continue
                if link:
                    logger.warning("ignoring a pagination link to another host; using a cursor")
                if has_more is False or (has_more is None and len(items) < page_size):
                    return
                last = items[-1].get("id")
                if not isinstance(last, str):
                    raise APIError(
                        "cannot page on: the last job of a page has no id",
                        status_code=200,
                        kind="bad_payload",
                        method="GET",
                        url=url,
                    )
                url = f"{self.base_url}/jobs?{urlencode({**params, 'after': last})}"
        finally:
            bar.close()

    async def iter_jobs(self, **options: Any) -> AsyncIterator[dict[str, Any]]:
        """Walk the job listing lazily, following the API's cursor.

        Parameters
        ----------
        kind, status : str, optional
            Filters passed to the API.
        since, until : datetime, str or int, optional
            Keep jobs created at or after ``since`` and before ``until`` (ISO, epoch,
            or spans like ``"7d"``). Walking newest first, the walk stops at ``since``.
        order : {"desc", "asc"}
            Newest first (the API's default) or oldest first.
        page_size : int, default 100
            Jobs per request (1-100).

        Yields
        ------
        dict
            Jobs with their tasks (fetched by ID when the listing leaves them out).
        """
        async for page in self.iter_pages(**options):
            for job in page:
                yield job

    async def _complete(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fetch by ID the listed jobs that came without ``tasks``."""
        missing = [j["id"] for j in items if "tasks" not in j and isinstance(j.get("id"), str)]
        if not missing:
            return items
        result = await self.fetch_jobs(missing, errors="collect")
        full = {j.get("id"): j for j in result.jobs}
        return [full.get(j.get("id"), j) for j in items]


def _page_items(payload: Any, headers: httpx.Headers) -> tuple[list[dict[str, Any]], bool | None]:
    has_more: bool | None = None
    header = headers.get("has-more")
    if header is not None:
        has_more = header.strip().lower() == "true"
    if isinstance(payload, dict):
        if isinstance(payload.get("has_more"), bool):
            has_more = payload["has_more"]
        payload = payload.get("data")
    if not isinstance(payload, list):
        raise APIError(
            "the job listing is neither a JSON array nor a {data: [...]} envelope",
            status_code=200,
            kind="bad_payload",
        )
    return [j for j in payload if isinstance(j, dict)], has_more


def _next_link(headers: httpx.Headers, payload: Any) -> str | None:
    link = headers.get("link")
    if link:
        for part in link.split(","):
            section = part.split(";")
            if any(s.strip().replace(" ", "") in ('rel="next"', "rel=next") for s in section[1:]):
                return str(section[0]).strip().strip("<>")
    if isinstance(payload, dict):
        links = payload.get("links")
        if isinstance(links, dict) and isinstance(links.get("next"), str):
            return str(links["next"])
    return None


def _window(
    items: list[dict[str, Any]], since_ms: int | None, until_ms: int | None, order: str
) -> tuple[list[dict[str, Any]], bool]:
    """Keep the jobs of a page inside [since, until); say whether the walk is past it."""
    if since_ms is None and until_ms is None:
        return items, False
    kept = []
    for job in items:
        created = created_ms(job)
        if created is None:
            kept.append(job)  # cannot place it in time: keep it rather than lose it
            continue
        if order == "desc":
            if until_ms is not None and created >= until_ms:
                continue
            if since_ms is not None and created < since_ms:
                return kept, True
        else:
            if since_ms is not None and created < since_ms:
                continue
            if until_ms is not None and created >= until_ms:
                return kept, True
        kept.append(job)
    return kept, False


async def _gather_or_cancel(coros: list[Coroutine[Any, Any, None]]) -> None:
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# --------------------------------------------------------------------------------------
# Sync client: an AsyncClient on a private loop thread
# --------------------------------------------------------------------------------------
class _LoopThread:
    """An event loop in a daemon thread; runs coroutines from any thread, Jupyter's too."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ittybit-client", daemon=True
        )
        self._thread.start()

    def run(self, coro: Awaitable[_T]) -> _T:
        async def wrap() -> tuple[bool, Any]:
            # KeyboardInterrupt or SystemExit raised inside a task would stop the loop
            # itself and leave the caller waiting forever: carry them back instead.
            try:
                return True, await coro
            except (KeyboardInterrupt, SystemExit) as exc:
                return False, exc

        future = asyncio.run_coroutine_threadsafe(wrap(), self._loop)
        try:
            ok, value = future.result()
        except BaseException:
            future.cancel()
            raise
        if not ok:
            raise value
        result: _T = value
        return result

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()


class Client:
    """Client for the ittybit jobs API, for scripts and notebooks.

    Takes the same arguments as :class:`AsyncClient`; works the same inside a running
    event loop (Jupyter), because the work runs on the client's own loop thread.

    Examples
    --------
    >>> from ittybit_frames.simulator import generate_history, serve
    >>> with serve(generate_history(20)) as api, Client(api.api_key, base_url=api.url) as c:
    ...     jobs = c.fetch_jobs([j["id"] for j in api.jobs[:5]]).jobs
    >>> len(jobs)
    5
    """

    def __init__(self, api_key: str | None = None, **options: Any) -> None:
        self._async = AsyncClient(api_key, **options)
        self._runner: _LoopThread | None = None

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient", "Client", 1)

    def _run(self, make: Callable[[], Awaitable[_T]]) -> _T:
        if self._runner is None:
            self._runner = _LoopThread()
        return self._runner.run(make())

    @property
    def base_url(self) -> str:
        return self._async.base_url

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters (see :class:`ClientStats`)."""
        return self._async.stats

    def get_job(self, job_id: str) -> dict[str, Any]:
        """Fetch one job with its tasks. See :meth:`AsyncClient.get_job`."""
        return self._run(lambda: self._async.get_job(job_id))

    def fetch_jobs(
        self, ids: Iterable[str], *, errors: Literal["collect", "raise"] = "collect"
    ) -> FetchResult:
        """Fetch many jobs by ID. See :meth:`AsyncClient.fetch_jobs`."""
        ids = list(ids)
        return self._run(lambda: self._async.fetch_jobs(ids, errors=errors))

    def iter_pages(self, **options: Any) -> Iterator[list[dict[str, Any]]]:
        """Pages of the job listing. See :meth:`AsyncClient.iter_pages`."""
        pages = self._async.iter_pages(**options)
        try:
            while True:
                try:
                    page = self._run(pages.__anext__)
                except StopAsyncIteration:
                    return
                yield page
        finally:
            if self._runner is not None:
                self._runner.run(pages.aclose())

    def iter_jobs(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
        order: Literal["asc", "desc"] = "desc",
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Walk the job listing lazily. See :meth:`AsyncClient.iter_jobs`."""
        for page in self.iter_pages(
            kind=kind, status=status, since=since, until=until, order=order, page_size=page_size
        ):
            yield from page

    def close(self) -> None:
        """Close connections and stop the loop thread."""
        if self._runner is not None:
            self._runner.run(self._async.aclose())
            self._runner.stop()
            self._runner = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
