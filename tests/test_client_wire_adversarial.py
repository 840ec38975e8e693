"""The client's own HTTP/1.1 (WireTransport) against answers HTTP allows but rarely sees,
and against answers it forbids: interim 1xx answers, impossible status codes, lengths
that disagree, heads over the cap in one read, cancellation mid-body, TLS to a plain
server. Servers are raw sockets of the tests' own on 127.0.0.1; each test asserts the
answer or the error it must end with, never how long it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import socket
import threading
import warnings
from typing import Any

import httpx
import pytest

import ittybit_frames as itf
from ittybit_frames.client._framing import Broken, read_head
from ittybit_frames.client._transport import BodyTooLarge
from ittybit_frames.client._wire import _MAX_HEAD, WireTransport, _Answer
from tests.conftest import SECRET
from tests.test_client_adversarial import Raw, answer, job, query
from tests.test_client_wire import _read, _run

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


def _sends(*pieces: bytes, keep: bool = True) -> Any:
    """A handler writing ``pieces`` one ``sendall`` each, for every request."""

    def handle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        for piece in pieces:
            conn.sendall(piece)
        return keep

    return handle


# -- interim answers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "pieces",
    [
        (b"HTTP/1.1 100 Continue\r\n\r\n" + OK,),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n", OK),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n", OK),
    ],
    ids=["one-read", "apart", "two-interims"],
)
def test_interim_1xx_answers_are_passed_over_for_the_final_one(pieces: tuple[bytes, ...]) -> None:
    # aiohttp reads past them; so must this transport, or every fetch behind a server
    # sending 103 Early Hints fails with a status 1xx "error".
    with Raw(_sends(*pieces)) as server:
        got = _run(WireTransport(timeout=30), [f"{server.url}/jobs/a"] * 2)
    assert got == [(200, b"{}")] * 2 and server.connections == 1


def test_the_final_answer_keeps_its_own_headers_not_the_interims() -> None:
    pieces = (b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n", OK)

    async def go(url: str) -> Any:
        transport = WireTransport(timeout=30)
        try:
            return await transport.exchange("GET", url, {})
        finally:
            await transport.aclose()

    with Raw(_sends(*pieces)) as server:
        status, headers, body = asyncio.run(go(f"{server.url}/jobs/a"))
    assert (status, body) == (200, b"{}") and "link" not in headers


# -- heads HTTP forbids --------------------------------------------------------------------
@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: \u0662\r\n\r\n{}".encode(),
    ],
    ids=["000", "099", "2000", "two-lengths", "underscore", "plus", "arabic-digit"],
)
def test_impossible_statuses_and_lengths_are_broken(wire: bytes) -> None:
    with pytest.raises(Broken):
        _read(wire)


def test_a_length_said_twice_alike_is_that_length() -> None:
    _, _, body = _read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
    assert body.complete and body.whole() == b"{}" and body.keep_alive


def test_a_status_zero_is_a_protocol_error_not_a_wait_for_the_timeout() -> None:
    # The answer is whole, yet "status 0" once read as "no head yet" left the request
    # waiting on an open connection until its timeout.
    zero = _sends(b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\n{}")
    with Raw(zero) as server, pytest.raises(httpx.RemoteProtocolError):
        _run(WireTransport(timeout=30), [f"{server.url}/jobs/a"])


def test_chunked_with_a_length_too_is_read_chunked_and_the_connection_not_kept() -> None:
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
    _, _, body = _read(wire + b"2\r\n{}\r\n0\r\n\r\n")
    # RFC 9112 6.3: a smuggling sign; the body is the chunks, the connection is not reused.
    assert body.complete and body.whole() == b"{}" and not body.keep_alive


def test_a_head_over_the_cap_is_refused_even_when_it_arrives_in_one_read() -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: %s\r\n" % (b"a" * (_MAX_HEAD + 10)) + b"\r\n"

    async def go() -> Exception | None:
        answer = _Answer(asyncio.get_running_loop())
        answer.expect(None)
        answer.data_received(head + b"{}")
        return answer.error

    assert isinstance(asyncio.run(go()), httpx.RemoteProtocolError)


def test_read_head_refuses_a_status_line_of_garbage_in_one_line() -> None:
    with pytest.raises(Broken) as caught:
        read_head(b"\x16\x03\x01\x02\x00garbage\nmore", None)
    assert "\n" not in str(caught.value)


# -- a kept connection that dies -----------------------------------------------------------
def test_a_kept_connection_dying_mid_head_is_an_error_never_the_previous_body() -> None:
    count = {"n": 0}

    def handle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        count["n"] += 1
        if count["n"] == 1:
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"a":1}')
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")  # bytes came: a retry could repeat
        return False

    with Raw(handle) as server, pytest.raises(httpx.RemoteProtocolError):
        _run(WireTransport(timeout=30), [f"{server.url}/jobs/a"] * 2)
    assert count["n"] == 2 and server.connections == 1


# -- cancellation, TLS ---------------------------------------------------------------------
def test_a_fetch_cancelled_mid_body_leaves_no_connection_open() -> None:
    def half(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        server.stop.wait()
        return False

    async def go(url: str) -> tuple[int, int]:
        transport = WireTransport(timeout=30)
        got_head = asyncio.Event()
        task = asyncio.ensure_future(
            transport.exchange("GET", url, {}, on_head=lambda s, h: got_head.set())
        )
        await got_head.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        open_now = len(transport._open)
        await transport.aclose()
        return open_now, len(asyncio.all_tasks()) - 1

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with Raw(half) as server:
            assert asyncio.run(go(f"{server.url}/jobs/a")) == (0, 0)
        gc.collect()


def test_https_to_a_plain_http_server_is_a_one_line_connect_error() -> None:
    sock = socket.create_server(("127.0.0.1", 0))

    def plain() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.recv(65536)  # the TLS hello, which a plain server cannot read
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=plain, daemon=True).start()
    url = f"https://127.0.0.1:{sock.getsockname()[1]}/jobs/a"
    try:
        with pytest.raises(httpx.ConnectError) as caught:
            _run(WireTransport(timeout=30), [url])
    finally:
        sock.close()
    assert "\n" not in str(caught.value) and str(caught.value)


# -- headers sent more than once -----------------------------------------------------------
def _two_link_lines(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    """Page n=0 names its links in two ``Link`` lines, ``first`` before ``next``."""
    if query(path).get("n", "0") == "0":
        body, links = [job("job_a"), job("job_b")], [("first", "n=0"), ("next", "n=1")]
    else:
        body, links = [job("job_c")], [("first", "n=0")]
    lines = [f'Link: </jobs?{q}>; rel="{rel}"' for rel, q in links]
    conn.sendall(answer(200, json.dumps(body).encode(), *lines))
    return True


def test_a_next_link_in_a_second_link_line_is_followed() -> None:
    # RFC 9110 5.3: field lines of one name are one list. Keeping only the first line
    # ended the listing after page one, the later pages' jobs silently missing.
    with Raw(_two_link_lines) as server, server.client() as client:
        got = [j["id"] for j in client.iter_jobs(page_size=2)]
    assert got == ["job_a", "job_b", "job_c"]


def test_repeated_list_headers_are_one_list_but_a_repeated_single_value_is_not() -> None:
    _, headers, _ = _read(
        b"HTTP/1.1 200 OK\r\nLink: <a>\r\nRetry-After: 1\r\nlink: <b>\r\n"
        b"Retry-After: 9\r\nContent-Length: 0\r\n\r\n"
    )
    assert headers["Link"] == "<a>, <b>" and headers["retry-after"] == "1"


# -- the pool ------------------------------------------------------------------------------
def _second_request_closes(
    server: Raw, conn: socket.socket, path: str, headers: dict[str, str]
) -> bool:
    """Each connection answers one request; the next on it is closed unanswered."""
    served = server.__dict__.setdefault("served", set())
    if conn.fileno() in served:
        served.discard(conn.fileno())
        return False
    served.add(conn.fileno())
    conn.sendall(OK)
    return True


def test_connections_the_server_dropped_do_not_pile_up_in_the_pool() -> None:
    # Every reuse meets a closed connection and is retried on a new one, answered.
    async def go(url: str) -> tuple[list[int], int]:
        transport = WireTransport(timeout=30)
        try:
            got = [(await transport.exchange("GET", url, {}))[0] for _ in range(20)]
            return got, len(transport._open)
        finally:
            await transport.aclose()

    with Raw(_second_request_closes) as server:
        statuses, still_open = asyncio.run(go(f"{server.url}/jobs/a"))
    assert statuses == [200] * 20 and server.connections == 20
    assert still_open == 1  # the last one; each dropped one (and its body) is let go


# -- framing -------------------------------------------------------------------------------
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_bytes_after_the_last_chunk_end_the_connection_as_after_a_length() -> None:
    # Framing the server broke once is not trusted for the next answer (a Content-Length
    # body with bytes after it already closed; chunks with bytes after them were kept).
    extra = b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"poison"'
    for split in (0, 1, 5):
        _, _, body = _read(CHUNKED + b"2\r\n{}\r\n0\r\n\r\n" + extra, split=split)
        assert body.complete and body.whole() == b"{}" and not body.keep_alive
    _, _, body = _read(CHUNKED + b"2\r\n{}\r\n0\r\n\r\n")
    assert body.keep_alive


@pytest.mark.parametrize(
    "chunks",
    [b"0002\r\n{}\r\n0\r\n\r\n", b"2;a=b;c\r\n{}\r\n000\r\n\r\n", b"B\r\n[1,2,3,4,5]\r\n0\r\n\r\n"],
)
def test_chunk_sizes_with_zeros_extensions_or_capitals_are_read(chunks: bytes) -> None:
    _, _, body = _read(CHUNKED + chunks, split=1)
    assert body.complete and body.whole() in (b"{}", b"[1,2,3,4,5]")


def test_a_chunk_size_past_any_integer_is_refused_by_the_cap() -> None:
    with pytest.raises(BodyTooLarge):
        _read(CHUNKED + b"f" * 40 + b"\r\n" + b"x" * 100, cap=50)


def test_a_body_longer_than_its_length_never_becomes_the_next_answer() -> None:
    poison = b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"poison"'
    with Raw(_sends(OK + poison)) as server:
        got = _run(WireTransport(timeout=30), [f"{server.url}/jobs/a"] * 3)
    assert got == [(200, b"{}")] * 3


def test_ctrl_c_mid_body_in_fetch_jobs_leaves_no_socket_task_or_warning() -> None:
    closed_by_client = threading.Event()

    def half(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        if not path.endswith("job_a"):
            server.stop.wait()
            return False
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":"job_a"')
        # Ctrl-C, pressed again while the client has not let go (Python drops a
        # KeyboardInterrupt that lands inside a finalizer: seen on a loaded machine).
        conn.settimeout(2)  # how long before pressing again, not a timing under test
        for _ in range(5):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            try:
                if conn.recv(1) == b"":
                    closed_by_client.set()
                return False
            except TimeoutError:
                continue
            except OSError:
                return False
        return False

    destroyed: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: destroyed.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("asyncio").addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            with Raw(half) as server:
                client = server.client(timeout=30, concurrency=4)
                with pytest.raises(KeyboardInterrupt):
                    client.fetch_jobs(["job_a", "job_b", "job_c"])
                runner = client._runner
                client.close()
                assert runner is not None
                left = [t for t in asyncio.all_tasks(runner._loop) if not t.done()]
            gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    assert closed_by_client.wait(10)
    assert left == [] and destroyed == []  # no "Task was destroyed but it is pending!"


def _sockets_to(port: int) -> int:
    """Open client sockets of this process connected to ``port``."""
    count = 0
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.fileno() != -1:
            with contextlib.suppress(OSError):
                peer = obj.getpeername()  # a Unix socket's is a text: not ours
                if isinstance(peer, tuple) and peer[1] == port:
                    count += 1
    return count


def test_an_async_client_run_in_one_asyncio_run_after_another_keeps_no_old_sockets() -> None:
    # Each asyncio.run starts a new pool; the old loop's sockets stayed open as long as the
    # client lived, one more per run, until the process ran out of file descriptors.
    job_body = json.dumps(job("job_a")).encode()
    with Raw(_sends(answer(200, job_body))) as server:
        client = itf.AsyncClient(SECRET, base_url=server.url, progress=False, timeout=30)
        try:
            for _ in range(6):
                assert asyncio.run(client.get_job("job_a"))["id"] == "job_a"
            still_open = _sockets_to(int(server.url.rsplit(":", 1)[1]))
        finally:
            asyncio.run(client.aclose())  # from a loop of its own: "Event loop is closed"
    assert still_open <= 1  # the last run's connection, at most


def test_a_folded_header_line_is_unfolded_never_read_as_a_header_of_its_own() -> None:
    # RFC 9112 5.2: obs-fold is replaced by a space. Read as a line of its own, the folded
    # " Content-Length: 99" framed the body (or now clashes with the real one).
    status, headers, body = _read(
        b"HTTP/1.1 200 OK\r\nX-Note: one\r\n Content-Length: 99\r\n\ttwo\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    assert (status, body.complete, body.whole()) == (200, True, b"{}")
    assert headers["x-note"] == "one Content-Length: 99 two"
    with pytest.raises(Broken):  # a fold with nothing to continue
        _read(b"HTTP/1.1 200 OK\r\n Content-Length: 2\r\n\r\n{}")
