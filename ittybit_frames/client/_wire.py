"""The client's default network: HTTP/1.1 GETs on :mod:`asyncio` protocols, kept alive.

What the client asks of HTTP is small: a GET, an answer framed by ``Content-Length``, by
chunks or by the connection's end, perhaps gzip- or deflate-encoded, read whole under a
cap (:mod:`~ittybit_frames.client._framing` parses it). Written directly on protocols,
that costs a fraction of a general-purpose client: at 0 ms latency against the
simulator, a bare aiohttp loop spent ~120 us of CPU per request, a bare asyncio one
~25 us, and the whole client's CPU per fetched job fell from ~225-270 us through
aiohttp to ~100-170 us through this (A/B runs on one loaded machine). That CPU is what
keeps 32 requests in flight, each a round trip of 20 ms, near their bound on two cores.
Redirects, retries and the meaning of an answer stay above, in the requester;
:class:`~ittybit_frames.client._transport.AiohttpTransport` remains for whoever wants
aiohttp's pool.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import weakref
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

import httpx

from ittybit_frames.client._framing import AnswerHeaders, Body, Broken, read_head
from ittybit_frames.client._transport import (
    BodyTooLarge,
    ExchangeTransport,
    Headers,
    OnHead,
    UnreadableAnswer,
)

__all__ = ["WireTransport"]

_MAX_HEAD = 65536  # bytes of status line and headers, as servers cap requests' heads
#: Characters a request target may not carry as they are (controls, space, non-ASCII).
_UNSAFE = re.compile(r"[^\x21-\x7e]")


class _Answer(asyncio.Protocol):
    """One connection, one request at a time: reads each answer's head and body as they
    arrive and wakes the request waiting for them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.expect(None)

    def expect(self, cap: int | None) -> None:
        """Get ready for the answer to a request about to be sent."""
        self.cap = cap
        self.buf = bytearray()
        self.status = 0
        self.headers = AnswerHeaders()
        self.body: Body | None = None
        self.error: Exception | None = None
        self.got_bytes = False

    @property
    def complete(self) -> bool:
        return self.body is not None and self.body.complete

    async def progress(self) -> None:
        """Wait until the head is read, the body is complete, or the answer failed."""
        if self.error is None:
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        if self.error is not None:
            raise self.error

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        body = self.body
        if self.error is None and body is not None and body.framing == "close" and not exc:
            try:
                body.end()
            except Broken as broken:
                self.error = httpx.RemoteProtocolError(str(broken))
        elif self.error is None and not self.complete:
            if not self.got_bytes:
                what = "server closed the connection"
            elif body is not None:
                what = "body cut short"
            else:
                what = "server closed the connection in the answer's head"
            self.error = httpx.RemoteProtocolError(f"{what}{f': {exc}' if exc else ''}")
        self._wake()

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost follows

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        if self.error is not None:
            return
        try:
            while self.body is None:
                self.buf += data
                end = self.buf.find(b"\r\n\r\n", 0, _MAX_HEAD + 4)
                if end < 0:
                    if len(self.buf) >= _MAX_HEAD + 4:
                        raise Broken("an answer head over 64 kB")
                    return
                data = bytes(self.buf[end + 4 :])
                status, headers, body = read_head(bytes(self.buf[:end]), self.cap)
                self.buf = bytearray()
                if not 100 <= status < 200 or status == 101:  # 1xx: the final answer follows
                    self.status, self.headers, self.body = status, headers, body
            self.body.feed(data)
        except Broken as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
        except UnreadableAnswer as exc:  # too large, or in a coding it cannot decode
            self._fail(exc)
        self._wake()

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        self.close()

    def close(self) -> None:
        """Close the connection from any loop or thread, even after its loop has closed."""
        # The transport is let go only once closed: a close a Ctrl-C cut short can be
        # done again (asyncio's close() is idempotent).
        transport, self.closed = self.transport, True
        if transport is None:
            return
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self.loop or not (self.loop.is_running() or self.loop.is_closed()):
            transport.close()
        elif self.loop.is_closed():
            _close_socket_of(transport)
        else:
            self.loop.call_soon_threadsafe(transport.close)
        self.transport = None


class WireTransport(ExchangeTransport):
    """An :class:`httpx.AsyncBaseTransport` of keep-alive HTTP/1.1 connections.

    Parameters
    ----------
    limit : int
        Connections open at once (requests beyond wait for one).
    timeout : float
        Seconds for one exchange, connecting and reading the whole body included.
    """

    def __init__(self, *, limit: int = 100, timeout: float = 30.0) -> None:
        self._limit = limit
        self._timeout = timeout
        self._idle: dict[str, list[_Answer]] = {}
        self._open: set[_Answer] = set()
        self._origins: dict[str, tuple[str, str, int, bool]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tls: ssl.SSLContext | None = None

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

        As :meth:`AiohttpTransport.exchange
        <ittybit_frames.client._transport.AiohttpTransport.exchange>`: ``on_head`` is
        told the status and headers before the body is read, a body over ``max_body``
        bytes (decompressed) is refused as it arrives (:class:`BodyTooLarge`), and the
        failures are httpx's: ``ReadTimeout``, ``InvalidURL``, ``ConnectError``,
        ``RemoteProtocolError``, another ``TransportError``.
        """
        origin, target = self._split(url)
        request = self._request_bytes(method, target, origin[1], headers, content)
        loop = asyncio.get_running_loop()
        if self._slots is None or loop is not self._loop:
            # First use, or a new loop (an AsyncClient reused across asyncio.run calls):
            # connections and the pool's waiting line belong to the loop they were made on.
            _release(self._open)  # a closed loop's connections would stay open
            self._idle, self._open = {}, set()
            self._slots, self._loop = asyncio.Semaphore(self._limit), loop
            tidy = weakref.finalize(self, _release, self._open)
            tidy.atexit = False
        slots = self._slots
        try:
            async with asyncio.timeout(self._timeout), slots:
                return await self._exchange(origin, request, on_head, max_body)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._timeout} s") from exc

    async def _exchange(
        self,
        origin: tuple[str, str, int, bool],
        request: bytes,
        on_head: OnHead | None,
        cap: int | None,
    ) -> tuple[int, Headers, bytes]:
        conn, reused = await self._connection(origin)
        try:
            conn.expect(cap)
            assert conn.transport is not None
            conn.transport.write(request)
            try:
                while not conn.status:
                    await conn.progress()
            except httpx.RemoteProtocolError:
                if not reused or conn.got_bytes:
                    raise
                # A kept-alive connection the server had closed meanwhile: once more, anew.
                self._open.discard(conn)
                conn, reused = await self._connection(origin, fresh=True)
                conn.expect(cap)
                assert conn.transport is not None
                conn.transport.write(request)
                while not conn.status:
                    await conn.progress()
            if on_head is not None:
                on_head(conn.status, conn.headers)
            body = conn.body
            assert body is not None
            if cap is not None and body.announced is not None and body.announced > cap:
                raise BodyTooLarge(cap)
            while not body.complete:
                await conn.progress()
        except BaseException:
            conn.close()  # an answer half read: the connection cannot be reused
            self._open.discard(conn)
            raise
        if body.keep_alive and not conn.closed:
            self._idle.setdefault(origin[0], []).append(conn)
        else:
            conn.close()
            self._open.discard(conn)
        return conn.status, conn.headers, body.whole()

    async def _connection(
        self, origin: tuple[str, str, int, bool], *, fresh: bool = False
    ) -> tuple[_Answer, bool]:
        """An idle connection to ``origin`` (reused: True), else a new one."""
        idle = self._idle.get(origin[0])
        while idle and not fresh:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None:
                return conn, True
            self._open.discard(conn)
        key, _, port, tls = origin
        host = urlsplit(key).hostname or ""
        loop = asyncio.get_running_loop()
        if tls and self._tls is None:
            self._tls = ssl.create_default_context()
        try:
            _, conn = await loop.create_connection(
                lambda: _Answer(loop),
                host,
                port,
                ssl=self._tls if tls else None,
                server_hostname=host if tls else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect: {exc.strerror or exc}") from exc
        self._open.add(conn)
        return conn, False

    def _split(self, url: str) -> tuple[tuple[str, str, int, bool], str]:
        """``((origin, Host header, port, TLS?), request target)`` of an absolute URL."""
        scheme, sep, rest = url.partition("://")
        end = len(rest)
        for mark in "/?#":
            at = rest.find(mark, 0, end)
            if at >= 0:
                end = at
        netloc, target = rest[:end], rest[end:].partition("#")[0]
        key = f"{scheme.lower()}://{netloc}"
        origin = self._origins.get(key)
        if origin is None:
            if len(self._origins) > 64:  # redirects to ever new hosts: forget the old
                self._origins.clear()
            origin = self._origins[key] = _origin(key, scheme.lower(), sep)
        if not target.startswith("/"):
            target = "/" + target
        if _UNSAFE.search(target):
            try:
                target = quote(target, safe="!#$%&'()*+,/:;=?@[]~")
            except UnicodeEncodeError as exc:  # bytes that were never text
                raise httpx.InvalidURL(f"invalid URL: {exc}") from exc
        return origin, target

    @staticmethod
    def _request_bytes(
        method: str, target: str, host: str, headers: Mapping[str, str], content: bytes | None
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        names = set()
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise httpx.LocalProtocolError(f"a line break in the {name!r} header")
            lines.append(f"{name}: {value}")
            names.add(name.lower())
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: gzip, deflate")
        if content:
            lines.append(f"Content-Length: {len(content)}")
        try:
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError as exc:
            raise httpx.LocalProtocolError(f"a header that is not Latin-1: {exc}") from exc
        return head + content if content else head

    def close_now(self) -> None:
        """Close every connection at once, from any thread, its loop running or over:
        what a close interrupted before the loop ran it left open."""
        self._idle.clear()
        _release(self._open)

    async def aclose(self) -> None:
        self._idle.clear()
        try:
            _release(self._open)
        finally:
            # Closed sockets are released on the loop's next turn: give it that turn (an
            # interrupted close too), so a loop stopped right after (the sync client's,
            # at exit) leaves none open.
            await asyncio.sleep(0)


def _origin(key: str, scheme: str, sep: str) -> tuple[str, str, int, bool]:
    """The Host header, port and TLS of ``scheme://netloc``; InvalidURL if impossible."""
    if not sep or scheme not in ("http", "https"):
        raise httpx.InvalidURL(f"invalid URL: {key[:80]!r} is not an http(s) URL")
    try:
        parts = urlsplit(key)
        port = parts.port
    except ValueError as exc:
        raise httpx.InvalidURL(f"invalid URL: {exc}") from exc
    if not parts.hostname:
        raise httpx.InvalidURL(f"invalid URL: no host in {key[:80]!r}")
    host = parts.netloc.rpartition("@")[2]
    return key, host, port or (443 if scheme == "https" else 80), scheme == "https"


def _close_socket_of(transport: object) -> None:
    """Close the socket under ``transport``, whose loop has closed.

    Its asyncio.run has ended: the transport cannot close (it would schedule on the dead
    loop), so its socket is closed here, or it stays open for good: the selector
    transport's own socket attribute, as its connection_lost does. A TLS transport has
    none of its own; the selector transport under its SSL protocol has.
    """
    for _ in range(4):  # TLS in TLS at most: never a loop on an odd transport
        sock = getattr(transport, "_sock", None)
        if isinstance(sock, socket.socket):
            sock.close()
            transport._sock = None  # type: ignore[attr-defined]
            return
        if isinstance(getattr(transport, "_closed", None), bool):
            transport._closed = True  # type: ignore[attr-defined]  # as its close() says
        transport = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
        if transport is None:
            return


def _release(conns: set[_Answer]) -> None:
    """Close ``conns`` (the pool's, or a pool left on an old loop or collected unclosed).

    A close cut short (a Ctrl-C lands in it) does not stop the others: each is closed, a
    close cut short is done once more, and then the first interruption is raised. Left
    alone, the rest would be the garbage collector's (ResourceWarning, open sockets).
    """
    failure: BaseException | None = None
    for _ in range(2):  # the second pass: only the connections whose close was cut short
        for conn in list(conns):
            try:
                conn.close()
            except BaseException as exc:  # re-raised below, once all are closed
                failure = failure or exc
            else:
                conns.discard(conn)
    conns.clear()
    if failure is not None:
        raise failure
