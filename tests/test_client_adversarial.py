"""The client, read_jobs and sync under attack: servers that hang, break HTTP, lie, echo.

Where :mod:`tests.test_client_hostile` plays other API versions with a well-behaved HTTP
server, here a raw socket server of the test's own on 127.0.0.1 writes whatever bytes the
attack needs: answers that never come or come one byte at a time, broken framing, bodies
without end, wrong data. A call to a server that stalls ends because that test sets the
client's timeout small; elsewhere the timeout only guards against a hang (a small one
there turned a prompt answer on a loaded machine into a timeout, and the test's row into
a NetworkError). Every test asserts the error type or row it must end with, never that it
merely ended in time.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import ittybit_frames as itf
from ittybit_frames.client import _decode
from ittybit_frames.errors import PaginationError
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client
from tests.frames_equal import assert_frame_equal

#: Writes the answer to one request on ``conn``; returns whether to keep the connection.
Handler = Callable[["Raw", socket.socket, str, dict[str, str]], bool]
MAX_REQUESTS = 60  # a runaway client is cut off here (and the test then fails its asserts)


class Raw:
    """A loopback TCP server that hands each HTTP request to ``handler`` to answer in
    raw bytes. Stalls wait on :attr:`stop`, which closing the server sets."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.sent = 0
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffered = b""
        with conn:
            while not self.stop.is_set():
                while b"\r\n\r\n" not in buffered:
                    try:
                        got = conn.recv(65536)
                    except OSError:
                        return
                    if not got:
                        return
                    buffered += got
                head, buffered = buffered.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.requests.append((lines[0].split()[1], headers))
                if len(self.requests) > MAX_REQUESTS:
                    return
                try:
                    if not self.handler(self, conn, lines[0].split()[1], headers):
                        return
                except OSError:
                    return

    def client(self, **options: Any) -> itf.Client:
        options.setdefault("progress", False)
        options.setdefault("backoff_initial", 0.001)
        options.setdefault("backoff_max", 0.01)
        options.setdefault("max_attempts", 2)
        options.setdefault("timeout", 30)  # a hang guard: the stall tests set their own
        return itf.Client(SECRET, base_url=self.url, **options)

    def paths(self, prefix: str) -> list[str]:
        return [p for p, _ in self.requests if p.startswith(prefix)]


def answer(status: int, body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers).encode()
    return (
        b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
        % (status, len(body), extra)
        + body
    )


def replies(status: int, body: bytes, *headers: str) -> Handler:
    """A handler giving every request the same answer."""

    def handle(server: Raw, conn: socket.socket, path: str, headers_in: dict[str, str]) -> bool:
        conn.sendall(answer(status, body, *headers))
        return True

    return handle


def query(path: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}


def job(job_id: Any, **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "kind": "video",
        "status": "succeeded",
        "created_at": 1_700_000_000_000,
        "tasks": [],
        **fields,
    }


def one_failure(client: itf.Client, job_id: str = "job_a") -> dict[str, Any]:
    """Fetch ``job_id``, which must fail: its failure row."""
    result = client.fetch_jobs([job_id])
    assert result.jobs == []
    rows: list[dict[str, Any]] = result.failures.to_dict("records")
    assert len(rows) == 1
    return rows[0]


# -- servers that hang -----------------------------------------------------------------------
def _silent(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    server.stop.wait()  # accepts, reads the request, never answers
    return False


def _slowloris(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n{"id":')
    server.stop.wait()  # headers, a few bytes, then nothing
    return False


def _trickle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    body = b'{"id":"job_a"}'.ljust(200)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
    for byte in body:  # one byte a second: every read makes progress, the whole never ends
        conn.sendall(bytes([byte]))
        if server.stop.wait(1.0):
            break
    return False


@pytest.mark.parametrize("handler", [_silent, _slowloris, _trickle], ids=lambda h: h.__name__)
def test_a_server_that_stalls_is_a_network_error_after_the_attempts(handler: Handler) -> None:
    with Raw(handler) as server, server.client(timeout=0.3, max_attempts=2) as client:
        row = one_failure(client)
        with pytest.raises(itf.NetworkError, match="timed out"):
            client.get_job("job_a")
    assert row["kind"] == "NetworkError" and "timed out" in row["message"]
    assert len(server.requests) == 4


# -- broken HTTP -------------------------------------------------------------------------------
def _bad_chunk(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n")
    return False


def _short(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":"job_a"}')
    return False


def _reset(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":')
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    return False


def _gzip_garbage(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(answer(200, b"\x1f\x8b\x08\x00 not gzip at all", "Content-Encoding: gzip"))
    return True


def _not_http(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    return False


BROKEN: dict[str, Handler] = {
    "chunked encoding error": _bad_chunk,
    "Content-Length longer than the body": _short,
    "connection reset mid-body": _reset,
    "gzip-encoded garbage": _gzip_garbage,
    "not HTTP at all": _not_http,
    "HTML error page with 200": replies(200, b"<html><body>Gateway error</body></html>"),
    "empty 200 body": replies(200, b""),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_http_is_a_retried_network_error_row(case: str) -> None:
    with Raw(BROKEN[case]) as server, server.client(max_attempts=3) as client:
        row = one_failure(client)
    assert row["kind"] == "NetworkError"
    assert len(server.requests) == 3  # transient as far as the client can tell: retried


def test_a_redirect_loop_ends_as_an_error_row() -> None:
    with Raw(replies(302, b"", "Location: /jobs/job_a")) as server, server.client() as client:
        row = one_failure(client)
    assert row["status_code"] == 302 and len(server.requests) == 5


def test_a_redirect_to_another_host_never_carries_the_key() -> None:
    with (
        Raw(replies(200, json.dumps(job("job_a")).encode())) as other,
        Raw(replies(307, b"", f"Location: {other.url}/jobs/job_a")) as server,
        server.client() as client,
    ):
        assert client.get_job("job_a")["id"] == "job_a"
    assert server.requests[0][1]["authorization"] == f"Bearer {SECRET}"
    assert all("authorization" not in h for _, h in other.requests) and other.requests


def _endless(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" * 65536
    while not server.stop.is_set():
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        server.sent += len(chunk)
    return False


def _announced(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n[[[[")
    server.stop.wait()
    return False


def _gzip_bomb(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    """A few kB a second on the wire that unpack to endless megabytes."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    while not server.stop.is_set():
        chunk = packer.compress(b"[" * (1 << 20)) + packer.flush(zlib.Z_SYNC_FLUSH)
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    return False


@pytest.mark.parametrize("handler", [_endless, _announced, _gzip_bomb], ids=lambda h: h.__name__)
def test_a_body_over_the_cap_is_refused_while_it_arrives(
    handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap holds as the body is read, not after: a body without end (or announced
    as 100 GB) is a ``bad_payload`` row at once, not read into memory until a timeout."""
    monkeypatch.setattr(_decode, "MAX_BODY_BYTES", 1 << 20)
    with Raw(handler) as server, server.client(timeout=3, max_attempts=3) as client:
        row = one_failure(client)
    assert row["kind"] == "bad_payload" and "cap" in row["message"]
    assert len(server.requests) == 1  # no retry can make it smaller


# -- secrets ---------------------------------------------------------------------------------------
def _echo(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    """Echoes the Authorization header back in every place an answer can carry text."""
    key = headers.get("authorization", "")
    said = json.dumps({"error": {"kind": key, "message": f"bad token {key}"}}).encode()
    if path.startswith("/jobs/loop"):  # a redirect whose target carries the key
        conn.sendall(answer(302, b"", f"Location: /jobs/loop?token={key.split()[-1]}"))
    elif path.startswith("/jobs/busy"):  # retried: each retry is logged
        conn.sendall(answer(503, said, "Retry-After: 0"))
    else:
        conn.sendall(answer(400, said))
    return True


def test_a_server_echoing_the_key_never_gets_it_into_errors_logs_or_files(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    with Raw(_echo) as server, server.client() as client:
        result = client.fetch_jobs(["job_a", "loop", "busy"])
        raised = []
        for jid in ("job_a", "loop", "busy"):
            with pytest.raises(itf.IttybitError) as info:
                client.get_job(jid)
            raised.append(info.value)
        frames = itf.read_jobs(["job_a", "busy"], client=client)
        with pytest.raises(itf.APIError) as listing:  # the listing answers 400 too
            itf.sync(tmp_path / "lake", client=client)
        raised.append(listing.value)
    assert len(result.failures) == 3 and len(frames.failures) == 2
    assert all(f"Bearer {SECRET}" == h["authorization"] for _, h in server.requests)
    texts = [
        result.failures.to_csv(),
        frames.failures.to_csv(),
        repr(result),
        *(f"{e!s} {e!r} {vars(e)}" for e in raised),
        *(r.getMessage() + str(r.__dict__) for r in caplog.records),
        *(p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()),
    ]
    assert not [t for t in texts if SECRET in t]


def test_listed_jobs_whose_tasks_fail_are_failure_rows_without_the_echoed_key(
    tmp_path: Path,
) -> None:
    listed = [{k: v for k, v in job(f"job_{i}").items() if k != "tasks"} for i in range(3)]

    def handle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        if path.startswith("/jobs/"):
            return _echo(server, conn, path, headers)
        conn.sendall(answer(200, json.dumps(listed).encode(), "Has-More: false"))
        return True

    with Raw(handle) as server, server.client() as client:
        report = itf.sync(tmp_path / "lake", client=client)
        frames = itf.read_jobs(client=client)
    # kept as listed; that their tasks could not be fetched is said, not swallowed
    assert report.new_jobs == 3 and len(report.failures) == 3
    assert len(frames.jobs) == 3 and sorted(frames.failures["job_id"]) == [
        "job_0",
        "job_1",
        "job_2",
    ]
    assert SECRET not in frames.failures.to_csv()
    files = "".join(p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file())
    assert SECRET not in repr(report) + report.failures.to_csv() + files


# -- wrong data ------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b'{"data": []}', b"{}", b'{"status": "ok"}', b'{"data": {}}'])
def test_an_answer_without_a_job_id_is_not_taken_for_the_job(body: bytes) -> None:
    with Raw(replies(200, body)) as server, server.client() as client:
        row = one_failure(client)
    assert row["kind"] == "bad_payload" and len(server.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"job_a","x":NaN}',
        b'{"id":"job_a","x":-Infinity}',
        # a run of 19 digits sends the body to the stdlib parser, which reads NaN
        b'{"id":"job_a","hash":"h1234567890123456789012","x":NaN}',
    ],
)
def test_nan_and_infinity_are_bad_payload_at_once(body: bytes) -> None:
    """NaN is not JSON and never will be: not retried, and never read as something else
    (``NaN`` became ``null`` on the way to the frames)."""
    with Raw(replies(200, body)) as server, server.client(max_attempts=3) as client:
        row = one_failure(client)
    assert row["kind"] == "bad_payload" and ("NaN" in row["message"] or "Inf" in row["message"])
    assert len(server.requests) == 1


NULLISH_IDS = [None, True, False, 1.5, {"id": "x"}, ["x"]]


def _nullish_pages(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    """Page numbers without end, every page the same jobs, none with a usable id."""
    page = int(query(path).get("page", "1"))
    body = {"meta": {"page": page, "pages": 10**9}, "data": [job(i) for i in NULLISH_IDS]}
    conn.sendall(answer(200, json.dumps(body).encode()))
    return True


def _nullish_links(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    """A new next link every time, the same jobs on every page."""
    n = int(query(path).get("n", "0"))
    link = f'Link: </jobs?n={n + 1}>; rel="next"'
    conn.sendall(answer(200, json.dumps([job(i) for i in NULLISH_IDS]).encode(), link))
    return True


@pytest.mark.parametrize("handler", [_nullish_pages, _nullish_links], ids=lambda h: h.__name__)
def test_a_listing_of_jobs_without_usable_ids_still_ends(handler: Handler) -> None:
    got: list[Any] = []
    with Raw(handler) as server, server.client() as client, pytest.raises(PaginationError):
        got.extend(j["id"] for j in client.iter_jobs(page_size=len(NULLISH_IDS)))
    assert got == NULLISH_IDS  # the first page, once
    assert len(server.requests) <= 3  # the page that repeats, and one started early


def test_a_cursor_page_ending_on_an_unusable_id_hands_its_jobs_over_first() -> None:
    jobs = [job("job_a"), job("job_b"), job(1.5)]
    got: list[dict[str, Any]] = []
    with Raw(replies(200, json.dumps(jobs).encode())) as server, server.client() as client:
        pages = client.iter_pages(page_size=3)
        got.extend(next(pages))
        with pytest.raises(PaginationError, match="id"):
            next(pages)
    assert [j["id"] for j in got] == ["job_a", "job_b", 1.5]
    assert len(server.requests) == 1


# -- read_jobs: the raw-bytes path keeps what the careful path keeps ---------------------------
def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"x": [value]}
    return value


def _odd_jobs() -> list[dict[str, Any]]:
    """Jobs of the simulator, each given a value that some decoder or encoder mishandles."""
    jobs = generate_history(12, seed=31)
    odd: list[Any] = [
        "\ud800 lone surrogate",
        12345678901234567890123,
        -98765432109876543210,
        _nested(300),  # deeper than orjson writes (254), shallower than it reads
        "line\u2028separator and \x00 nul",
        -0.0,
        1e308,
        0.1 + 0.2,
        {"": "empty key", "k": None},
        "ünïcödé 🎞",
        [],
        "",
    ]
    for j, value in zip(jobs, odd, strict=True):
        j["metadata"] = {"odd": value}
    jobs[4]["tasks"][0]["output"] = {"duration": 12345678901234567890.5, "strange": _nested(20)}
    return jobs


def _json(jobs: list[dict[str, Any]]) -> bytes:
    return json.dumps(jobs, ensure_ascii=True).encode()


def _listing_and_jobs(jobs: list[dict[str, Any]]) -> Handler:
    by_id = {j["id"]: j for j in jobs}

    def handle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        if path.startswith("/jobs/"):
            conn.sendall(answer(200, _json([by_id[path[6:]]])[1:-1]))
        else:
            conn.sendall(answer(200, _json(jobs), "Has-More: false"))
        return True

    return handle


def _same_frames(got: itf.JobFrames, want: itf.JobFrames) -> None:
    for name, keys in (("jobs", ["job_id"]), ("tasks", ["job_id", "task_id"])):
        a, b = getattr(got, name), getattr(want, name)
        assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        )
    assert_frame_equal(got.problems.reset_index(drop=True), want.problems.reset_index(drop=True))


def test_read_jobs_keeps_every_odd_value_the_careful_path_keeps() -> None:
    jobs = _odd_jobs()
    want = itf.to_frames(json.loads(_json(jobs)))
    with Raw(_listing_and_jobs(jobs)) as server, server.client(timeout=10) as client:
        listed = itf.read_jobs(client=client)
        by_id = itf.read_jobs([j["id"] for j in jobs], client=client)
    assert by_id.failures.empty
    _same_frames(listed, want)
    _same_frames(by_id, want)


# -- sync ------------------------------------------------------------------------------------------
def test_sync_reports_listed_jobs_it_cannot_store_instead_of_skipping_them(tmp_path: Path) -> None:
    jobs = [job("job_a"), job(None), job(1.5), job("job_b"), job(True)]
    with Raw(replies(200, json.dumps(jobs).encode(), "Has-More: false")) as server:
        report = itf.sync(tmp_path / "lake", client=server.client())
    assert report.new_jobs == 2
    assert sorted(report.failures["job_id"]) == sorted(["None", "1.5", "True"])
    assert set(report.failures["kind"]) == {"bad_payload"}
    assert "3 failures" in repr(report) or "3 failed" in repr(report)


def test_listed_items_that_are_not_objects_are_not_dropped_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [job("job_a"), 1, "job_b", None, [job("job_c")]]
    with (
        Raw(replies(200, json.dumps(items).encode(), "Has-More: false")) as server,
        server.client() as client,
    ):
        got = [j["id"] for j in client.iter_jobs()]
    assert got == ["job_a"]
    assert any("4 items" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def _tied_history() -> list[dict[str, Any]]:
    """250 jobs; the four around the boundary of the first two pages of 100 (newest
    first) created in the same millisecond."""
    jobs = generate_history(250, seed=41)
    newest_first = sorted(jobs, key=lambda j: (j["created_at"], j["id"]), reverse=True)
    for j in newest_first[98:102]:
        j["created_at"] = newest_first[98]["created_at"]
    return jobs


@pytest.mark.parametrize("at", [97, 98, 101, 102, 199, 200])
def test_since_windows_around_page_boundaries(at: int, tmp_path: Path) -> None:
    jobs = _tied_history()
    newest_first = sorted(jobs, key=lambda j: (j["created_at"], j["id"]), reverse=True)
    since = newest_first[at]["created_at"]
    want = {j["id"] for j in jobs if j["created_at"] >= since}
    with serve(jobs, api_key=SECRET) as api, fast_client(api) as client:
        frames = itf.read_jobs(since=since, client=client)
        report = itf.sync(tmp_path / "lake", since=since, client=client)
    assert set(frames.jobs["job_id"]) == want and len(frames.jobs) == len(want)
    assert report.new_jobs == len(want)
    assert set(itf.read_parquet(tmp_path / "lake").jobs["job_id"]) == want


class PagedAPI:
    """A page-numbered API (``?page=N``, ``{meta, data}``) that ignores the ``after``
    cursor a resumed sync starts with; ``on_request(n)`` is told of each request first."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.on_request: Callable[[int], None] = lambda n: None

    def __call__(
        self, server: Raw, conn: socket.socket, path: str, headers: dict[str, str]
    ) -> bool:
        self.on_request(len(server.requests))
        newest = sorted(self.jobs, key=lambda j: (j["created_at"], j["id"]), reverse=True)
        if path.startswith("/jobs/"):
            found = [j for j in newest if j["id"] == path[6:]]
            conn.sendall(answer(200, json.dumps(found[0]).encode()))
            return True
        page, limit = int(query(path).get("page", "1")), int(query(path).get("limit", "100"))
        meta = {"page": page, "limit": limit, "total": len(newest)}
        body = {"meta": meta, "data": newest[(page - 1) * limit : page * limit]}
        conn.sendall(answer(200, json.dumps(body).encode()))
        return True


CLI = [sys.executable, "-m", "ittybit_frames.cli"]
SYNC_CLI = [*CLI, "sync"]


def test_sync_killed_at_chosen_requests_of_a_page_numbered_api_resumes_to_the_same_lake(
    tmp_path: Path,
) -> None:
    """SIGKILL lands on the N-th request (before its answer) of a CLI sync against an API
    that pages by number and ignores the resume cursor; the resumed lake must equal an
    uninterrupted sync's."""
    jobs = generate_history(450, seed=43)
    api = PagedAPI(jobs)
    with Raw(api) as server:
        itf.sync(tmp_path / "reference", client=server.client(timeout=10), batch_jobs=100)
        env = {**os.environ, "ITTYBIT_API_KEY": SECRET, "ITTYBIT_BASE_URL": server.url}
        for n in random.Random(43).sample(range(2, 6), 2):  # the walk is 5 pages
            lake = tmp_path / f"lake{n}"
            start = len(server.requests)
            proc = subprocess.Popen(
                [*SYNC_CLI, str(lake), "-q", "--batch-jobs", "100", "--concurrency", "2"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

            def kill(count: int, proc: subprocess.Popen[bytes] = proc, at: int = start + n) -> None:
                if count == at:
                    proc.send_signal(signal.SIGKILL)

            api.on_request = kill
            assert proc.wait() == -signal.SIGKILL
            api.on_request = lambda count: None
            itf.sync(lake, client=server.client(timeout=10), batch_jobs=100)
            left, right = itf.read_parquet(lake), itf.read_parquet(tmp_path / "reference")
            assert_frame_equal(left.jobs, right.jobs)
            assert_frame_equal(left.tasks, right.tasks)


def test_a_job_created_while_sync_pages_shifts_the_pages_but_loses_nothing(
    tmp_path: Path,
) -> None:
    jobs = generate_history(250, seed=44)
    api = PagedAPI(jobs)
    late = {**jobs[0], "id": "job_late", "created_at": max(j["created_at"] for j in jobs) + 1}

    def arrive(count: int) -> None:
        if count == 2 and late not in jobs:  # after page 1 was served: pages shift by one
            jobs.append(late)

    api.on_request = arrive
    with Raw(api) as server:
        first = itf.sync(tmp_path / "lake", client=server.client(timeout=10))
        second = itf.sync(tmp_path / "lake", client=server.client(timeout=10))
    lake = itf.read_parquet(tmp_path / "lake")
    assert first.new_jobs == 250 and second.new_jobs == 1
    assert set(lake.jobs["job_id"]) == {j["id"] for j in jobs} and len(lake.jobs) == 251


# -- redirects and IDs that no request can carry --------------------------------------------------
@pytest.mark.parametrize(
    "location",
    [
        b"\xff\xfe/jobs/job_a",
        b"file:///etc/passwd",
        b"javascript:alert(1)",
        b"http://127.0.0.1:99999/",
    ],
)
def test_a_redirect_nowhere_is_a_bad_redirect_row_not_a_crash(location: bytes) -> None:
    def handle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        if path == "/jobs/job_a":
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: %s\r\n\r\n" % location
            )
        else:
            conn.sendall(answer(200, json.dumps(job(path[6:])).encode()))
        return True

    with Raw(handle) as server, server.client(max_attempts=3) as client:
        result = client.fetch_jobs(["job_a", "job_b"])
        with pytest.raises(itf.APIError, match="redirect"):
            client.get_job("job_a")
    assert [j["id"] for j in result.jobs] == ["job_b"]
    assert result.failures.set_index("job_id").loc["job_a", "kind"] == "bad_redirect"
    assert server.paths("/jobs/job_a") == ["/jobs/job_a"] * 2  # not retried


@pytest.mark.parametrize("ids", ["job_abc", b"job_abc"])
def test_one_string_of_ids_is_refused_not_walked_character_by_character(ids: Any) -> None:
    with Raw(replies(404, b"{}")) as server, server.client() as client:
        with pytest.raises(itf.ConfigurationError, match=r"list of job IDs"):
            client.fetch_jobs(ids)
        with pytest.raises(itf.ConfigurationError, match=r"list of job IDs"):
            itf.read_jobs(ids, client=client)
    assert server.requests == []


def test_a_sync_stopped_after_a_job_with_an_odd_id_resumes(tmp_path: Path) -> None:
    """The checkpoint's cursor is the last job written: an id the API may use but a user
    may not pass (``job ü/1``) must not make every later sync fail."""
    jobs = [job(f"job_{i:03d}", created_at=1_700_000_000_000 - i) for i in range(150)]
    jobs[99]["id"] = "job ü/1"
    state = {"broken": True}

    def handle(server: Raw, conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        if "after" not in query(path):
            conn.sendall(answer(200, json.dumps(jobs[:100]).encode(), "Has-More: true"))
        elif state["broken"]:
            conn.sendall(answer(500, b'{"message": "down"}'))
        else:
            conn.sendall(answer(200, json.dumps(jobs[100:]).encode(), "Has-More: false"))
        return True

    with Raw(handle) as server:
        with pytest.raises(itf.ServerError):
            itf.sync(tmp_path / "lake", client=server.client(), batch_jobs=100)
        state["broken"] = False
        report = itf.sync(tmp_path / "lake", client=server.client(), batch_jobs=100)
    assert report.resumed
    lake = itf.read_parquet(tmp_path / "lake")
    assert set(lake.jobs["job_id"]) == {j["id"] for j in jobs} and len(lake.jobs) == 150


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against ``url`` with ``--max-attempts 2`` and three hostile IDs."""
    env = {**os.environ, "ITTYBIT_API_KEY": SECRET, "ITTYBIT_BASE_URL": url}
    command = [*CLI, *args, "--max-attempts", "2", "--ids", "job_a", "busy", "loop"]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def test_the_cli_at_debug_never_prints_or_writes_an_echoed_key(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    with Raw(_echo) as server:
        done = _cli(server.url, "export", "-vv", "--format", "ndjson", "--out", str(out))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "busy" in done.stderr  # the failures are reported...
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert SECRET not in done.stdout + done.stderr + written  # ...without the key


# -- listings that loop or repeat ------------------------------------------------------------------
def _cycle_of_three_links(
    server: Raw, conn: socket.socket, path: str, headers: dict[str, str]
) -> bool:
    n = int(query(path).get("cursor", "0"))
    link = f'Link: </jobs?cursor={(n + 1) % 3}&limit=3>; rel="next"'
    conn.sendall(answer(200, json.dumps([job(f"job_{n}_{k}") for k in range(3)]).encode(), link))
    return True


def _cycle_of_three_cursors(
    server: Raw, conn: socket.socket, path: str, headers: dict[str, str]
) -> bool:
    """Pages 0, 1, 2, 0, 1, 2... whatever ``after`` says, each claiming more."""
    n = (len(server.requests) - 1) % 3
    body = json.dumps([job(f"job_{n}_{k}") for k in range(3)]).encode()
    conn.sendall(answer(200, body, "Has-More: true"))
    return True


@pytest.mark.parametrize(
    "handler", [_cycle_of_three_links, _cycle_of_three_cursors], ids=lambda h: h.__name__
)
def test_a_listing_cycling_with_period_three_yields_each_job_once_then_stops(
    handler: Handler,
) -> None:
    got: list[str] = []
    with Raw(handler) as server, server.client() as client, pytest.raises(PaginationError):
        got.extend(j["id"] for j in client.iter_jobs(page_size=3))
    assert sorted(got) == sorted(f"job_{n}_{k}" for n in range(3) for k in range(3))
    assert len(server.requests) <= 5


def test_the_same_job_twice_on_a_page_and_ids_that_need_cleaning_come_out_once() -> None:
    jobs = [
        job("job_a"),
        job("job_a", status="failed"),
        job(12345678901234567890123),
        job(" job_b\n"),
        job("\ufeffjob_c"),
    ]
    with (
        Raw(replies(200, json.dumps(jobs).encode(), "Has-More: false")) as server,
        server.client() as client,
    ):
        frames = itf.read_jobs(client=client)
    assert sorted(frames.jobs["job_id"]) == ["12345678901234567890123", "job_a", "job_b", "job_c"]
    assert frames.jobs.set_index("job_id").loc["job_a", "status"] == "succeeded"
