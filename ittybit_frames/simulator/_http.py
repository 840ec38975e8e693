"""HTTP/1.1 on :mod:`asyncio` protocols for the simulator: framing, keep-alive, latency.

Written directly on protocols (no framework) so that one thread answers several thousand
requests per second, and so that faults can be injected at the byte level: a dropped
connection, a body cut short. What to answer is decided elsewhere (``handle``).
"""

from __future__ import annotations

import asyncio
import logging
import select
import selectors
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["Answer", "Connection", "ServerThread", "error_answer"]

logger = logging.getLogger(__name__)

#: ``("ok", status, headers, body)``, ``("drop",)`` or ``("truncate", status, headers, body)``.
Answer = tuple[Any, ...]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def error_answer(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    """An API error answer with ittybit's ``{"kind", "message"}`` body."""
    return ("ok", status, headers or {}, orjson.dumps({"kind": kind, "message": message}))


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; answers requests one at a time, in order.

    The stated latency is counted from the moment a request's head has arrived, not from
    when the answer is ready: a server of 20 ms latency answers 20 ms after the request,
    whatever the time spent deciding what to answer (and an answer to a pipelined request
    that waited for the ones before it leaves as soon as it may). Never earlier: the
    loop's timers fire at or after their time.

    Parameters
    ----------
    handle : callable
        ``(method, target, headers) -> Answer``.
    delay : callable
        Seconds from a request's arrival to its answer (latency and jitter).
    loop : asyncio loop
        The server's loop (its clock and timers).
    open_transports : set
        Shared set of open transports, so that the server can abort them on stop.
    """

    def __init__(
        self,
        handle: Callable[[str, str, dict[str, str]], Answer],
        delay: Callable[[], float],
        loop: asyncio.AbstractEventLoop,
        open_transports: set[asyncio.Transport],
    ) -> None:
        self.handle, self.delay, self.loop = handle, delay, loop
        self.open_transports = open_transports
        self.buf = b""
        self.skip = 0  # bytes of a request body still to come (no GET route reads one)
        self.waiting: deque[_Request | None] = deque()  # None: a head that is not HTTP
        self.busy = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.open_transports.discard(self.transport)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        arrived = self.loop.time()  # the latency is counted from here
        if self.skip:
            data, self.skip = data[self.skip :], max(0, self.skip - len(data))
        self.buf += data
        while self.buf:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head, rest = self.buf[:end], self.buf[end + 4 :]
            request = _parse(head, arrived)
            self.waiting.append(request)
            if request is None:
                self.buf = b""
                break
            length = request[-1]
            self.buf, self.skip = rest[length:], max(0, length - len(rest))
        if len(self.buf) > 65536:  # a head that never ends
            self._close()
            return
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None or not self.waiting:
            return
        request = self.waiting.popleft()
        if request is None:
            self._close()
            return
        arrived, method, target, headers, keep_alive, _ = request
        try:
            result = self.handle(method, target, headers)
        except Exception:  # a bug here must look like a server error, not a hang
            logger.exception("simulator failed to answer %s %s", method, target)
            result = error_answer(500, "internal_error", "The simulator failed to answer.")
        self.busy = True
        data, close = _encode(result, keep_alive)  # before the wait, so the write is prompt
        due = arrived + self.delay()
        if due > self.loop.time():
            self.loop.call_at(due, self._respond, data, close)
        else:
            self._respond(data, close)

    def _respond(self, data: bytes, close: bool) -> None:
        self.busy = False
        transport = self.transport
        if transport is None:
            return
        if data:
            # One write, so one segment on the wire for a small answer: the client reads
            # the head and the body at once, not in two turns of its loop.
            transport.write(data)
        if close:
            self._close()
            return
        self._next()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


#: A request as read: arrival time, method, target, headers, keep-alive, body length.
_Request = tuple[float, str, str, dict[str, str], bool, int]


def _parse(head: bytes, arrived: float) -> _Request | None:
    """A request head (without its blank line), or None when it is not HTTP."""
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0") or 0)
    except ValueError:
        return None
    keep_alive = headers.get("connection", "").lower() != "close"
    return arrived, method, target, headers, keep_alive, max(0, length)


def _encode(result: Answer, keep_alive: bool) -> tuple[bytes, bool]:
    """The bytes of an answer, and whether the connection closes after them."""
    if result[0] == "drop":
        return b"", True
    _, status, headers, body = result
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if result[0] == "truncate":
        return head + body[: len(body) // 2], True
    return head + body, not keep_alive


#: ``select()`` takes no file descriptor at or above this (FD_SETSIZE).
_FD_SETSIZE = 1024


if sys.platform == "linux":  # epoll

    class _TimelyEpoll(selectors.EpollSelector):
        """epoll, waiting to the microsecond rather than to the millisecond.

        ``epoll_wait`` counts its timeout in whole milliseconds, and Python rounds it up (so
        as never to wake early): a timer due in 19.6 ms woke after 20, up to 1 ms late, which
        is 5 % of a 20 ms latency. Here the wait itself is a ``select()`` on the epoll file
        descriptor (ready when any of its sockets is), whose timeout has microseconds; then
        the events are collected without waiting. Never earlier than asked: the loop runs a
        timer only once its time has come.
        """

        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            fd = self.fileno()
            if timeout is not None and timeout > 0 and fd < _FD_SETSIZE:
                select.select([fd], [], [], timeout)
                timeout = 0
            return super().select(timeout)


def timely_selector() -> selectors.BaseSelector:
    """The selector for the server's loop: :class:`_TimelyEpoll` where there is epoll
    (other systems' selectors, kqueue's, already wait to the nanosecond or microsecond)."""
    if sys.platform == "linux":
        return _TimelyEpoll()
    return selectors.DefaultSelector()


class ServerThread:
    """An HTTP server on its own asyncio loop in a daemon thread.

    Parameters
    ----------
    handle, delay :
        As for :class:`Connection`.
    host, port : str, int
        Where to listen (port 0: any free one).
    on_start : callable, optional
        Called on the loop once the server listens (to schedule work on it).
    """

    def __init__(
        self,
        handle: Callable[[str, str, dict[str, str]], Answer],
        delay: Callable[[], float],
        host: str,
        port: int,
        on_start: Callable[[asyncio.AbstractEventLoop], None] | None = None,
    ) -> None:
        self.handle, self.delay, self.host, self.port = handle, delay, host, port
        self.on_start = on_start
        self.loop: asyncio.AbstractEventLoop | None = None
        self.url = ""
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open: set[asyncio.Transport] = set()
        self._error: BaseException | None = None

    def start(self) -> str:
        """Start serving; returns the base URL once the server accepts connections."""
        self._thread = threading.Thread(target=self._run, name="ittybit-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self.url

    def _run(self) -> None:
        loop = self.loop = asyncio.SelectorEventLoop(timely_selector())
        try:
            server = loop.run_until_complete(
                loop.create_server(
                    lambda: Connection(self.handle, self.delay, loop, self._open),
                    self.host,
                    self.port,
                )
            )
        except (OSError, OverflowError, ValueError) as exc:  # busy or impossible port
            self._error = exc
            self._ready.set()
            loop.close()
            return
        sock = server.sockets[0].getsockname()
        host = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
        self.url = f"http://{host}:{sock[1]}"
        if self.on_start is not None:
            self.on_start(loop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            # Connections accepted just before the stop are still being made (a task
            # each): accept no more, let those be made while the server is open (a
            # closed server refuses them and leaves their sockets unclosed), then close
            # the server and abort every connection.
            for sock in server.sockets:
                loop.remove_reader(sock.fileno())
            accepting = asyncio.all_tasks(loop)
            if accepting:
                loop.run_until_complete(asyncio.wait(accepting, timeout=5))
            server.close()
            for conn in list(self._open):
                conn.abort()
            loop.run_until_complete(server.wait_closed())
            loop.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop (so it cannot interleave with a request)."""
        if self.loop is None or not self.loop.is_running():
            return fn(*args)

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
