"""One GET, start to end: rate limit, transport, redirects, errors, JSON, retries.

The transport only moves bytes; here the answer is judged. Redirects are followed here,
never by the transport, so the key is never forwarded to another host.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ittybit_frames.client import _decode
from ittybit_frames.client._config import ClientOptions, Secret, resolve_api_version
from ittybit_frames.client._decode import UnreadableBody, bad_answer, error_from_response, loads
from ittybit_frames.client._results import ClientStats
from ittybit_frames.client._retry import RateLimiter, RetryPolicy
from ittybit_frames.client._transport import (
    ExchangeTransport,
    Headers,
    OnHead,
    UnreadableAnswer,
    read_capped,
)
from ittybit_frames.client._wire import WireTransport
from ittybit_frames.errors import APIError, ConfigurationError, IttybitError, NetworkError

__all__ = ["Requester"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Requester:
    """Sends GETs to one API origin through a transport, under a retry policy.

    Parameters
    ----------
    base_url : str
        The API's base URL, checked; its scheme and host are the only origin that gets
        the key.
    key : Secret
        The API key, sent as a bearer token.
    options : ClientOptions
        The client's settings: the retry policy and its rate limiter (which paces every
        attempt), the timeout of one exchange, the pool size (twice ``concurrency``),
        the transport (default :class:`~ittybit_frames.client._wire.WireTransport`,
        opened on first use) and the API version, sent as ``Accept-Version`` (the header
        the official SDKs send).
    stats : ClientStats
        Counters to update.
    max_redirects : int
        Redirects followed per attempt.
    """

    def __init__(
        self,
        base_url: str,
        key: Secret,
        options: ClientOptions,
        stats: ClientStats,
        *,
        max_redirects: int = 5,
    ) -> None:
        self.origin = urlsplit(base_url)[:2]
        self.policy = RetryPolicy.of(options)
        self.stats = stats
        self.timeout = options.timeout
        self._pool_size = options.concurrency * 2
        self._user_transport = self._transport = options.transport
        self._max_redirects = max_redirects
        self._key = key
        self._headers = {
            "Authorization": f"Bearer {key.reveal()}",
            "Accept": "application/json",
            "User-Agent": "ittybit-frames",
        }
        api_version = resolve_api_version(options.api_version)
        if api_version:
            self._headers["Accept-Version"] = api_version

    @property
    def limiter(self) -> RateLimiter:
        return self.policy.limiter

    async def get(
        self, url: str, on_headers: Callable[[Headers], None] | None = None
    ) -> tuple[Any, Headers]:
        """The decoded JSON body and the headers of ``GET url``, retried by the policy.

        ``on_headers`` is called with the headers of a 200 answer before its body is
        decoded (the listing starts its next request from a ``Link`` header then).
        """
        return await self.policy.run(lambda: self._attempt(url, on_headers), self.stats)

    async def aclose(self) -> None:
        """Close the connection pool (a transport passed in stays the caller's)."""
        if self._transport is not None and self._user_transport is None:
            await self._transport.aclose()
            self._transport = None

    def close_now(self) -> None:
        """Close the pool's connections from this thread (the loop may be over): what an
        interrupted :meth:`aclose` left (a transport passed in stays the caller's)."""
        if isinstance(self._transport, WireTransport) and self._user_transport is None:
            self._transport.close_now()

    async def _attempt(
        self, url: str, on_headers: Callable[[Headers], None] | None
    ) -> tuple[Any, Headers]:
        try:
            return await self._judge(url, on_headers)
        except IttybitError as exc:
            # A server may echo the key (in a message, an error kind, a redirect): it is
            # blotted out here, before the retry policy logs the error or anyone sees it.
            _blot(exc, self._key.reveal())
            raise

    async def _judge(
        self, url: str, on_headers: Callable[[Headers], None] | None
    ) -> tuple[Any, Headers]:
        self.stats.waited_seconds += await self.limiter.acquire()
        on_head = None
        if on_headers is not None:
            tell = on_headers

            def on_head(status: int, headers: Headers) -> None:
                if status == 200:  # a redirect or an error says nothing of the next page
                    tell(headers)

        status, headers, body, url = await self._follow(url, on_head)
        if status == 429:
            self.stats.rate_limited += 1
        if status != 200:
            raise error_from_response(status, headers, body, "GET", url)
        try:
            payload = loads(body)
        except UnreadableBody as exc:
            raise _unreadable(exc, url) from exc
        except ValueError as exc:
            raise NetworkError(
                f"invalid JSON in the answer (cut short?) [GET {url}]", method="GET", url=url
            ) from exc
        self.limiter.reward()
        return payload, headers

    async def _follow(
        self, url: str, on_head: OnHead | None = None
    ) -> tuple[int, Headers, bytes, str]:
        """Send, following redirects; answer with the last status, headers, body and URL."""
        headers = self._headers
        for _ in range(self._max_redirects):
            status, got, body = await self._send(url, headers, on_head)
            if status not in _REDIRECTS or "location" not in got:
                break
            target = _redirect_target(url, got["location"], status)
            if urlsplit(target)[:2] != self.origin:
                # Never forward the key to another host.
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
            url = target
        return status, got, body, url

    async def _send(
        self, url: str, headers: dict[str, str], on_head: OnHead | None
    ) -> tuple[int, Headers, bytes]:
        if self._transport is None:
            self._transport = WireTransport(limit=self._pool_size, timeout=self.timeout)
        self.stats.requests += 1
        cap = _decode.MAX_BODY_BYTES  # looked up here, so that tests can lower it
        try:
            if isinstance(self._transport, ExchangeTransport):  # no httpx objects
                return await self._transport.exchange(
                    "GET", url, headers, on_head=on_head, max_body=cap
                )
            return await _through_httpx(self._transport, url, headers, on_head, cap)
        except UnreadableAnswer as exc:  # too large, an unknown coding: no retry helps
            raise _unreadable(exc, url) from exc
        except httpx.InvalidURL as exc:  # IDs and links are checked before: a bad setting
            raise ConfigurationError(f"cannot request {url[:200]!r}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise NetworkError(
                f"timed out after {self.timeout} s [GET {url}]", method="GET", url=url
            ) from exc
        except httpx.TransportError as exc:
            raise NetworkError(f"network error: {exc} [GET {url}]", method="GET", url=url) from exc


def _redirect_target(url: str, location: str, status: int) -> str:
    """Where a redirect from ``url`` leads; an :class:`APIError` (``bad_redirect``, not
    retried) when no request can go there: undecodable, not http(s), an impossible port."""
    try:
        target = str(httpx.URL(url).join(location))
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError when out of 0-65535
        if parts.scheme in ("http", "https") and parts.hostname:
            return target
    except (httpx.InvalidURL, ValueError):  # UnicodeError too: bytes that are not text
        pass
    raise APIError(
        f"the server redirected to {location[:80]!r}, which cannot be requested [GET {url}]",
        status_code=status,
        kind="bad_redirect",
        method="GET",
        url=url,
    )


#: Keys shorter than this are blotted only where they stand alone. No real key is so
#: short (they begin ``ittybit_live_``, ``ittybit_`` or ``sk_test_``, see the API notes);
#: a test's ``"k"`` blotted everywhere would turn every word with a k into ``***``.
_SHORT_KEY = 12


def _key_pattern(key: str) -> re.Pattern[str]:
    """Where ``key`` shows in a text: anywhere (a real key inside a longer token is still
    the key), or, when it is short, as a token of its own (not next to a letter, a digit,
    ``_`` or ``-``)."""
    if len(key) >= _SHORT_KEY:
        return re.compile(re.escape(key))
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(key)}(?![A-Za-z0-9_-])")


def _blot(exc: BaseException, key: str) -> None:
    """Replace ``key`` in the text of ``exc`` (its message and attributes) by ``***``;
    drop the exception it came from if that one shows the key."""
    shows = _key_pattern(key)
    exc.args = tuple(shows.sub("***", a) if isinstance(a, str) else a for a in exc.args)
    for name, value in vars(exc).items():
        if isinstance(value, str) and shows.search(value):
            setattr(exc, name, shows.sub("***", value))
    cause = exc.__cause__ or exc.__context__
    if cause is not None and shows.search(f"{cause!s}{cause!r}"):
        exc.__cause__ = None
        exc.__suppress_context__ = True


def _unreadable(exc: Exception, url: str) -> APIError:
    """No retry can help: the answer is a failure of its own, not a network one."""
    return bad_answer("bad_payload", f"unreadable answer: {exc} [GET {url}]", url)


async def _through_httpx(
    transport: httpx.AsyncBaseTransport,
    url: str,
    headers: dict[str, str],
    on_head: OnHead | None,
    cap: int,
) -> tuple[int, Headers, bytes]:
    """One exchange through any httpx transport (a user's, a test's mock)."""
    request = httpx.Request("GET", url, headers=headers)
    response = await transport.handle_async_request(request)
    try:
        if on_head is not None:
            on_head(response.status_code, response.headers)
        body = await read_capped(response.aiter_bytes(), cap)
    finally:
        await response.aclose()
    return response.status_code, response.headers, body
