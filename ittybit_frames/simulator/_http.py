"""HTTP/1.1 on :mod:`asyncio` protocols for the simulator: framing, keep-alive, latency.

Written directly on protocols (no framework) so that one thread answers several thousand
requests per second, and so that faults can be injected at the byte level: a dropped
connection, a body cut short. What to answer is decided elsewhere (``handle``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
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

    Parameters
    ----------
    handle : callable
        ``(method, target, headers) -> Answer``.
    delay : callable
        Seconds to wait before sending each answer (latency and jitter).
    loop : asyncio loop
        The server's loop (for delayed answers).
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
        self.buf += data
        if len(self.buf) > 65536 and b"\r\n\r\n" not in self.buf:
            self._close()
            return
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        lines = head.split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self._close()
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        self.buf = self.buf[length:]  # bodies are not used by any GET route
        keep_alive = headers.get("connection", "").lower() != "close"
        try:
            result = self.handle(method, target, headers)
        except Exception:  # a bug here must look like a server error, not a hang
            logger.exception("simulator failed to answer %s %s", method, target)
            result = error_answer(500, "internal_error", "The simulator failed to answer.")
        self.busy = True
        delay = self.delay()
        if delay > 0:
            self.loop.call_later(delay, self._respond, result, keep_alive)
        else:
            self._respond(result, keep_alive)

    def _respond(self, result: Answer, keep_alive: bool) -> None:
        self.busy = False
        transport = self.transport
        if transport is None:
            return
        if result[0] == "drop":
            self._close()
            return
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
        # One write, so one segment on the wire for a small answer: the client reads the
        # head and the body at once, not in two turns of its loop (two writes were two
        # sends, and the client took two reads for each answer).
        if result[0] == "truncate":
            transport.write(head + body[: len(body) // 2])
            self._close()
            return
        transport.write(head + body)
        if not keep_alive:
            self._close()
            return
        if self.buf:
            self._next()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


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
        loop = self.loop = asyncio.new_event_loop()
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
