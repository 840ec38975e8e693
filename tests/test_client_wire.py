"""The client's own HTTP/1.1: answers framed and decoded as they arrive, connections kept.

The body framing is tested on bytes alone (every split of the wire, every encoding); the
transport against small loopback servers of the tests' own.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from typing import Any

import httpx
import pytest

from ittybit_frames.client._framing import Body, Broken, read_head
from ittybit_frames.client._transport import BodyTooLarge
from ittybit_frames.client._wire import WireTransport
from tests.test_client_adversarial import Raw


def _read(wire: bytes, cap: int | None = None, *, split: int = 0) -> tuple[int, Any, Body]:
    """An answer read from ``wire``, fed in pieces of ``split`` bytes (0: at once)."""
    head, _, rest = wire.partition(b"\r\n\r\n")
    status, headers, body = read_head(head, cap)
    step = split or max(1, len(rest))
    for i in range(0, len(rest), step):
        body.feed(rest[i : i + step])
    return status, headers, body


PAYLOAD = b'{"id":"job_a","tasks":[' + b'{"kind":"ingest"},' * 50 + b'{"kind":"video"}]}'


def _chunked(data: bytes, size: int, *, ext: bool = False) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += b"%x%s\r\n%s\r\n" % (len(piece), b";name=x" if ext else b"", piece)
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


@pytest.mark.parametrize("split", [1, 2, 7, 0])
@pytest.mark.parametrize("ext", [False, True])
def test_chunks_cut_anywhere_give_the_body(split: int, ext: bool) -> None:
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(
        PAYLOAD, 100, ext=ext
    )
    status, _, body = _read(wire, split=split)
    assert status == 200 and body.complete and body.whole() == PAYLOAD and body.keep_alive


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(PAYLOAD, mtime=0)),
        ("deflate", zlib.compress(PAYLOAD)),  # as RFC 9110 says: zlib-wrapped
        ("deflate", zlib.compress(PAYLOAD)[2:-4]),  # as some servers send it: raw
    ],
)
@pytest.mark.parametrize("split", [1, 0])
def test_encoded_bodies_are_decoded(encoding: str, packed: bytes, split: int) -> None:
    wire = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        encoding.encode(),
        len(packed),
        packed,
    )
    _, _, body = _read(wire, split=split)
    assert body.complete and body.whole() == PAYLOAD


def test_a_compressed_body_cut_inside_its_stream_is_broken() -> None:
    packed = gzip.compress(PAYLOAD)[:-20]
    wire = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(packed),
        packed,
    )
    with pytest.raises(Broken):
        _read(wire)


def test_a_bomb_is_refused_having_unpacked_no_more_than_the_cap() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b"[" * (50 << 20)) + packer.flush()  # 50 MB in ~50 kB
    _, _, body = _read(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb),
        cap=1 << 20,
    )
    with pytest.raises(BodyTooLarge):
        body.feed(bomb)
    assert body.size <= 1 << 20


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    ],
)
def test_broken_framing_is_broken(wire: bytes) -> None:
    with pytest.raises(Broken):
        _read(wire)


def test_heads_say_how_the_body_ends_and_whether_the_connection_stays() -> None:
    _, headers, body = _read(
        b"HTTP/1.1 200 OK\r\nLINK: <a>\r\nlink: <b>\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert headers["Link"] == headers.get("link") == "<a>, <b>" and "LiNk" in headers
    assert body.complete and body.keep_alive
    _, _, body = _read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra")
    assert body.whole() == b"{}" and not body.keep_alive  # bytes nobody asked for
    _, _, body = _read(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert body.complete and not body.keep_alive
    _, _, body = _read(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
    assert not body.keep_alive
    _, _, body = _read(b"HTTP/1.1 200 OK\r\n\r\n{}")  # no length: it ends with the connection
    assert body.framing == "close" and not body.complete and not body.keep_alive
    body.end()
    assert body.whole() == b"{}"
    _, _, body = _read(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert body.complete and body.whole() == b""


# -- the transport, against the raw servers of the adversarial tests ----------------------
def _ok(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    return True


def _run(transport: WireTransport, urls: list[str], **headers: str) -> list[tuple[int, bytes]]:
    async def go() -> list[tuple[int, bytes]]:
        try:
            out = []
            for url in urls:
                status, _, body = await transport.exchange("GET", url, headers)
                out.append((status, body))
            return out
        finally:
            await transport.aclose()

    return asyncio.run(go())


def test_one_connection_carries_one_request_after_another() -> None:
    with Raw(_ok) as server:
        got = _run(WireTransport(), [f"{server.url}/jobs/a", f"{server.url}/jobs/b"] * 3)
    assert got == [(200, b"{}")] * 6 and server.connections == 1


def test_a_kept_connection_the_server_closed_is_replaced_without_an_error() -> None:
    def once(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        _ok(server, conn, path, headers)
        return False  # says nothing of closing, then closes

    with Raw(once) as server:
        got = _run(WireTransport(), [f"{server.url}/jobs/a"] * 3)
    assert got == [(200, b"{}")] * 3 and server.connections == 3


def test_a_body_that_ends_with_the_connection_is_read_whole() -> None:
    def close_framed(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + PAYLOAD)
        return False

    with Raw(close_framed) as server:
        got = _run(WireTransport(), [f"{server.url}/jobs/a"] * 2)
    assert got == [(200, PAYLOAD)] * 2 and server.connections == 2


def test_the_request_says_its_host_and_target_as_a_server_expects() -> None:
    with Raw(_ok) as server:
        _run(WireTransport(), [f"{server.url}/jobs/é x?q=1#frag"], Authorization="Bearer k")
    [(target, headers)] = server.requests
    assert target == "/jobs/%C3%A9%20x?q=1"
    assert headers["host"] == server.url.removeprefix("http://")
    assert headers["authorization"] == "Bearer k"
    assert headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://127.0.0.1/jobs", httpx.InvalidURL),
        ("http://127.0.0.1:99999/jobs", httpx.InvalidURL),
        ("http:///jobs", httpx.InvalidURL),
        ("http://127.0.0.1/jobs/\udcff", httpx.InvalidURL),  # not text: never guessed at
        ("http://127.0.0.1:1/jobs", httpx.ConnectError),  # nothing listens on port 1
    ],
)
def test_urls_that_cannot_be_requested_are_httpx_errors(url: str, error: type) -> None:
    with pytest.raises(error):
        _run(WireTransport(), [url])


def test_a_header_with_a_line_break_is_never_sent() -> None:
    with Raw(_ok) as server, pytest.raises(httpx.LocalProtocolError):
        _run(WireTransport(), [f"{server.url}/jobs/a"], Authorization="Bearer k\r\nX-Evil: 1")
    assert server.requests == []


def test_through_httpx_the_transport_answers_httpx_responses() -> None:
    async def go(url: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=WireTransport()) as client:
            return await client.get(url)

    with Raw(_ok) as server:
        response = asyncio.run(go(f"{server.url}/jobs/a"))
    assert response.status_code == 200 and response.json() == {}


def test_one_transport_serves_one_loop_after_another() -> None:
    """An AsyncClient used in one ``asyncio.run`` after another (and closed in each):
    every loop gets connections of its own and a pool whose waiting line is its own."""
    transport = WireTransport(limit=1)

    async def two(url: str) -> list[int]:
        try:  # two at once through a pool of one: the second waits in the loop's line
            got = await asyncio.gather(*(transport.exchange("GET", url, {}) for _ in "ab"))
            return [status for status, _, _ in got]
        finally:
            await transport.aclose()

    with Raw(_ok) as server:
        assert [asyncio.run(two(f"{server.url}/jobs/a")) for _ in range(3)] == [[200, 200]] * 3
        assert server.connections == 3
