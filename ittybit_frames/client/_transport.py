"""The transport interface, and a transport on aiohttp's connection pool.

Requests can be handed to any :class:`httpx.AsyncBaseTransport`, so tests and users can
swap the socket (``transport=httpx.MockTransport(...)``). The client's default is
:class:`~ittybit_frames.client._wire.WireTransport`, its own HTTP/1.1; before it, the
default was :class:`AiohttpTransport` here: measured at 20 ms latency, httpx's own pool
topped out at 200-400 requests/s, CPU-bound in its pool bookkeeping, while aiohttp kept
up with well over 1,000 (see BENCHMARKS.md), at ~100 us of CPU per request that the
client's own transport does not spend. Both are spoken to through ``exchange``, without
httpx's request and response objects, whose URL parsing and header handling cost about
a quarter of a request's CPU. This is the only module that imports aiohttp.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

__all__ = [
    "AiohttpTransport",
    "BodyTooLarge",
    "ExchangeTransport",
    "Headers",
    "OnHead",
    "UnknownEncoding",
    "UnreadableAnswer",
    "read_capped",
]

#: Response headers, looked up without regard to case (``httpx.Headers``, or aiohttp's
#: ``CIMultiDictProxy`` on the default transport).
Headers = Mapping[str, str]
#: Told the status and headers of an answer before its body is read.
OnHead = Callable[[int, Headers], None]
_HOP_BY_HOP = frozenset({"content-encoding", "transfer-encoding", "content-length"})
#: A URL that yarl would leave exactly as it is: http(s), a lower-case ASCII host name or
#: IPv4 address, an optional port, and a path and query of unreserved characters and
#: ``/ = &`` only (no ``%``, nothing to encode, no ``/.`` dot segment to remove). The
#: client's own requests (``/jobs/<id>``, cursor links) look like this; such a URL is
#: handed over as already encoded, which saves yarl's parsing and quoting (~4 % of the
#: loop thread's py-spy samples at 0 ms latency). Anything else goes the normal way.
_PLAIN_URL = re.compile(
    r"(?!.*/\.)https?://[a-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/=&-]*(?:\?[A-Za-z0-9._~/=&-]*)?)?"
)


class UnreadableAnswer(Exception):
    """An answer no retry can make readable: the client refuses it, never retries it."""


class BodyTooLarge(UnreadableAnswer):
    """An answer's body is (or is announced as) over the cap: it is not read further."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the body is over the {cap} byte cap")


class UnknownEncoding(UnreadableAnswer):
    """An answer's body is in a ``Content-Encoding`` the client cannot decode."""

    def __init__(self, coding: str) -> None:
        super().__init__(
            f"the body is in the Content-Encoding {coding[:40]!r}, which the client cannot"
            " decode (it asks for gzip or deflate): check the server or a proxy between"
        )


async def read_capped(chunks: AsyncIterator[bytes], cap: int) -> bytes:
    """The body from ``chunks``, refused as soon as it passes ``cap`` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(cap)
        parts.append(chunk)
    return b"".join(parts)


class ExchangeTransport(httpx.AsyncBaseTransport):
    """A transport the client speaks to through :meth:`exchange` (no httpx objects);
    httpx's own interface is served through it too."""

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None = None,
        on_head: OnHead | None = None,
        max_body: int | None = None,
    ) -> tuple[int, Headers, bytes]:
        """Send one request; answer with the status, the headers and the whole body."""
        raise NotImplementedError

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in request.headers.raw
            if k.lower() not in (b"host", b"content-length")
        }
        try:
            status, got, body = await self.exchange(
                request.method, str(request.url), headers, request.content or None
            )
        except httpx.TransportError as exc:
            exc.request = request
            raise
        kept = [(k, v) for k, v in got.items() if k.lower() not in _HOP_BY_HOP]
        return httpx.Response(status, headers=kept, content=body, request=request)


class AiohttpTransport(ExchangeTransport):
    """An :class:`httpx.AsyncBaseTransport` backed by an :class:`aiohttp.ClientSession`.

    Redirects are never followed here (the client decides), bodies are read whole, and
    aiohttp's errors are translated into httpx's so callers see one exception family.
    """

    def __init__(self, *, limit: int = 100, timeout: float = 30.0) -> None:
        self._limit = limit
        self._timeout = timeout
        self._session: Any = None
        self._url: Any = None  # yarl.URL, imported with aiohttp

    def _open(self) -> Any:
        import aiohttp  # noqa: PLC0415
        import yarl  # noqa: PLC0415

        self._url = yarl.URL

        connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            # No skip_auto_headers: the client sends its own User-Agent, and skipping one
            # costs aiohttp a sorted CIMultiDict per request (~8 % of the loop thread's
            # py-spy samples at 0 ms latency).
            timeout=aiohttp.ClientTimeout(total=self._timeout),
        )
        # A client never closed (common in notebooks) is still tidied up: when this
        # transport is collected, its connections are closed, so aiohttp has no
        # "Unclosed client session" to warn about. The finalizer holds the connector and
        # its loop, never self, so self can be collected. Not at exit: a Client closes
        # its own then, on its loop, and an AsyncClient's loop is over by then.
        tidy = weakref.finalize(self, _release, connector, asyncio.get_running_loop())
        tidy.atexit = False
        return session

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None = None,
        on_head: OnHead | None = None,
        max_body: int | None = None,
    ) -> tuple[int, Headers, bytes]:
        """Send one request; answer with the status, the headers and the whole body.

        ``on_head(status, headers)`` is called as soon as they arrive, before the body
        is read (the listing starts its next request from a ``Link`` header then).
        A body over ``max_body`` bytes (decompressed) is refused as it arrives.

        Raises
        ------
        BodyTooLarge
            The body passed ``max_body`` bytes, or its ``Content-Length`` says it would.
        httpx.TransportError
            ``httpx.TimeoutException`` past the timeout, ``httpx.InvalidURL`` for a URL
            that cannot be requested, another ``httpx.TransportError`` for network
            failures (connection refused or dropped, body cut short).
        """
        import aiohttp  # noqa: PLC0415

        if self._session is None or self._session.closed:
            self._session = self._open()
        try:
            target = self._url(url, encoded=True) if _PLAIN_URL.fullmatch(url) else url
        except ValueError as exc:  # yarl's: a port out of range
            raise httpx.InvalidURL(f"invalid URL: {exc}") from exc
        try:
            async with self._session.request(
                method, target, headers=headers, data=content, allow_redirects=False
            ) as resp:
                got = _joined(resp.headers)
                if on_head is not None:
                    on_head(resp.status, got)
                return resp.status, got, await _body(resp, max_body)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._timeout} s") from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.InvalidURL(f"invalid URL: {exc}") from exc
        except aiohttp.ClientPayloadError as exc:
            raise httpx.RemoteProtocolError(f"body cut short: {exc}") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError("server closed the connection") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(f"cannot connect: {exc.strerror or exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.NetworkError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            # Closed sockets are released on the loop's next turn: give it that turn, so a
            # loop stopped right after (the sync client's, at exit) leaves none open.
            await asyncio.sleep(0)


async def _body(resp: Any, cap: int | None) -> bytes:
    """The whole body of an aiohttp response, read under ``cap`` when there is one."""
    if cap is None:
        return bytes(await resp.read())
    length = resp.content_length
    if length is not None and length > cap:
        raise BodyTooLarge(cap)
    if length is not None and resp.headers.get("content-encoding", "identity") == "identity":
        return bytes(await resp.read())  # the common case: aiohttp stops at the length
    # No length, or a compressed body whose unpacked size is unknown (a gzip bomb).
    return await read_capped(resp.content.iter_any(), cap)


def _joined(headers: Any) -> Headers:
    """aiohttp's headers, but a ``Link`` sent in several lines is one list (RFC 9110 5.3),
    as the client's own transport reads it: aiohttp's ``get`` gives its first line alone,
    which ended a listing whose ``rel="next"`` came in a second. Other names sent twice
    keep their first value, as there."""
    if len(headers.getall("link", ())) < 2:
        return headers  # type: ignore[no-any-return]  # the common case: as they are
    kept: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key not in kept:
            kept[key] = value
        elif key == "link":
            kept[key] = f"{kept[key]}, {value}"
    return httpx.Headers(kept)


def _release(connector: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Close an unclosed pool's connections at once, without waiting for the loop.

    aiohttp's ``close()`` is a coroutine, which a finalizer cannot await; its first,
    synchronous half (``_close``) closes every connection and marks the pool closed.
    It must run on the pool's loop: from another thread, it is handed to that loop.
    """
    if connector.closed:
        return
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is loop or not loop.is_running():
        connector._close()
    else:
        loop.call_soon_threadsafe(connector._close)
