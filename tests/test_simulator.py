"""The simulator: realistic deterministic history, and an HTTP API that behaves like ittybit."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import http.client
import json
import time
from collections import Counter
from typing import Any

import numpy as np
import orjson
import pytest

from ittybit_frames.simulator import DEFAULT_START, Faults, generate_history, serve
from tests.conftest import SECRET, still_rate_limit_clock


def _get(url: str, path: str, key: str | None = SECRET) -> tuple[int, dict[str, str], Any]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(body)


@pytest.fixture(scope="module")
def big() -> list[dict[str, Any]]:
    # A fixed end: a history that ends "now" differs from one run to the next.
    return generate_history(6000, seed=11, end=dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC))


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    # The same end too: by default a history ends now (to the second), and two calls
    # can fall on either side of a second's boundary (a flake seen this session).
    end = dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC)
    a, b = generate_history(300, seed=5, end=end), generate_history(300, seed=5, end=end)
    assert orjson.dumps(a) == orjson.dumps(b)
    assert orjson.dumps(a) != orjson.dumps(generate_history(300, seed=6, end=end))


def test_history_window_and_units() -> None:
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    jobs = generate_history(200, seed=1, start=start, days=2)
    lo = int(start.timestamp() * 1000)
    for job in jobs:
        assert lo <= job["created_at"] < lo + 2 * 86_400_000
        assert len(str(job["created_at"])) == 13  # milliseconds


def test_kinds_pipeline_and_failure_shares(big: list[dict[str, Any]]) -> None:
    kinds = Counter(j["kind"] for j in big)
    assert set(kinds) == {"video", "audio", "image", "animation", "adaptive_video"}
    assert kinds.most_common(1)[0][0] == "video"
    status = Counter(j["status"] for j in big)
    assert 0.04 <= status["failed"] / len(big) <= 0.08  # 5 % everyday, plus the incidents
    # In flight is whatever the queue has not finished at the end: few at this load
    # (tests/test_simulator_queue.py checks it against the arrival rate).
    assert (status["queued"] + status["processing"]) / len(big) <= 0.01
    for job in big:
        assert [t["kind"] for t in job["tasks"]] == ["probe", "import", job["kind"], "export"]


def test_failed_jobs_carry_error_and_cancel_later_siblings(big: list[dict[str, Any]]) -> None:
    failed = [j for j in big if j["status"] == "failed"]
    assert failed
    for job in failed:
        statuses = [t["status"] for t in job["tasks"]]
        k = statuses.index("failed")
        assert job["tasks"][k]["error"]
        assert job["error"] == job["tasks"][k]["error"]
        assert all(s == "succeeded" for s in statuses[:k])
        assert all(s == "cancelled" for s in statuses[k + 1 :])
    # Both documented error shapes appear: {kind, message} objects and plain strings.
    shapes = {type(j["error"]).__name__ for j in failed}
    assert shapes == {"dict", "str"}


def test_unfinished_jobs_have_null_ends(big: list[dict[str, Any]]) -> None:
    for job in big:
        if job["status"] == "queued":
            assert job["started_at"] is None and job["finished_at"] is None
        elif job["status"] == "processing":
            assert job["started_at"] is not None and job["finished_at"] is None
            # Some task is still to finish; one may be between hand-offs, not running.
            assert any(t["finished_at"] is None for t in job["tasks"])
            for task in job["tasks"]:
                if task["status"] == "processing":
                    assert 0 < task["progress"] < 100
        else:
            assert job["finished_at"] >= job["created_at"]


def test_daily_load_cycle_and_duration_driven_processing(big: list[dict[str, Any]]) -> None:
    hours = np.array([(j["created_at"] // 3_600_000) % 24 for j in big])
    busy = np.isin(hours, [13, 14, 15, 16]).sum()
    quiet = np.isin(hours, [1, 2, 3, 4]).sum()
    assert busy > 2 * quiet
    videos = [j for j in big if j["kind"] == "video" and j["status"] == "succeeded"]
    dur = np.array([j["tasks"][0]["output"]["duration"] for j in videos])
    enc = np.array([j["tasks"][2]["finished_at"] - j["tasks"][2]["started_at"] for j in videos])
    assert np.corrcoef(np.log(dur), np.log(enc))[0, 1] > 0.6
    waits = np.array([j["started_at"] - j["created_at"] for j in videos], dtype=float)
    # Waits come from load (tests/test_simulator_queue.py: backlogs and their incidents).
    assert (waits >= 0).all()


def test_serves_jobs_with_auth_and_errors(history: list[dict[str, Any]]) -> None:
    with serve(history, api_key=SECRET) as api:
        assert api.url.startswith("http://127.0.0.1:")
        job = history[3]
        status, _, body = _get(api.url, f"/jobs/{job['id']}")
        assert status == 200 and body == job
        assert _get(api.url, "/jobs/job_nope")[2]["kind"] == "job_not_found"
        assert _get(api.url, "/jobs", key=None)[:1] == (401,)
        assert _get(api.url, "/jobs", key=None)[2]["kind"] == "token_missing"
        assert _get(api.url, "/jobs", key="wrong")[2]["kind"] == "token_invalid"
        for bad in ("limit=0", "limit=101", "limit=x", "order=up", "kind=gif", "status=ok"):
            status, _, body = _get(api.url, f"/jobs?{bad}")
            assert status == 400 and body["kind"] == "request_invalid" and body["message"]


def test_list_pages_follow_link_and_cover_everything(history: list[dict[str, Any]]) -> None:
    with serve(history, api_key=SECRET) as api:
        status, headers, page = _get(api.url, "/jobs")
        assert status == 200 and len(page) == 20  # default limit
        assert headers["has-more"] == "true"
        seen, path = [], "/jobs?limit=100&order=asc"
        while True:
            _, headers, page = _get(api.url, path)
            seen += [j["id"] for j in page]
            if "link" not in headers:
                assert headers["has-more"] == "false"
                break
            path = headers["link"].split(">")[0].removeprefix("<" + api.url)
        assert seen == [j["id"] for j in sorted(history, key=lambda j: (j["created_at"], j["id"]))]


def test_envelope_and_filters(history: list[dict[str, Any]]) -> None:
    with serve(history, api_key=SECRET, envelope=True, list_tasks=False) as api:
        _, _, body = _get(api.url, "/jobs?kind=audio&limit=100")
        assert set(body) == {"data", "has_more"}
        assert body["data"] and all(j["kind"] == "audio" for j in body["data"])
        assert all("tasks" not in j for j in body["data"])
        expected = sum(j["kind"] == "audio" for j in history)
        assert len(body["data"]) == min(100, expected)


def test_advance_moves_unfinished_jobs_to_the_end() -> None:
    # Dense traffic (2,000 jobs in 2.4 hours): some are still in flight at the end.
    history = generate_history(2000, seed=8, days=0.1)
    with serve(history, api_key=SECRET) as api:
        unfinished = {j["id"] for j in api.jobs if j["status"] in ("queued", "processing")}
        assert unfinished
        assert api.advance(2) == len(unfinished)
        now = {j["id"]: j for j in api.jobs}
        for jid in unfinished:
            assert now[jid]["status"] in ("succeeded", "failed")
            assert now[jid]["finished_at"] >= now[jid]["created_at"]
            _, _, served = _get(api.url, f"/jobs/{jid}")
            assert served["status"] == now[jid]["status"]  # cached bodies refreshed
        assert api.advance() == 0


def test_injected_faults_reach_the_wire(history: list[dict[str, Any]]) -> None:
    with serve(history, api_key=SECRET, faults=Faults(retry_after="date")) as api:
        api.inject("429", "503", "drop", "truncate")
        status, headers, _ = _get(api.url, "/jobs")
        assert status == 429 and headers["retry-after"].endswith("GMT")
        assert _get(api.url, "/jobs")[0] == 503
        with pytest.raises(http.client.RemoteDisconnected):
            _get(api.url, "/jobs")
        with pytest.raises(http.client.IncompleteRead):
            _get(api.url, "/jobs")
        assert _get(api.url, "/jobs")[0] == 200
        assert [r.status for r in api.requests] == [429, 503, 0, 200, 200]


def test_server_side_rate_limit_answers_429(
    history: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bucket's clock stands still: no token comes back while the 12 requests are sent,
    # however slowly a loaded machine sends them (with the real clock, 12 requests taking
    # over 0.4 s earned tokens back, and fewer than 5 were refused).
    still_rate_limit_clock(monkeypatch, readings=10**9)
    with serve(history, api_key=SECRET, rate_limit=5) as api:
        answers = [_get(api.url, "/jobs?limit=1") for _ in range(12)]
    assert [status for status, _, _ in answers] == [200] * 5 + [429] * 7  # burst of 5
    assert all(headers["retry-after"] == "1" for _, headers, _ in answers[5:])


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve([], host="0.0.0.0").__enter__()


def test_default_generation_is_byte_identical_to_before_generations_existed() -> None:
    # sha256 of json.dumps of these histories (start=DEFAULT_START), taken on the
    # generator as it was before `generation=` was added.
    expected = {
        (200, 0): "82f7dc3c51da6439b33921ba7d13d9cf7ac6d43e86c92af7ea7990f639983955",
        (50, 7): "aac03aba95b9e7207471d2b436c8a69445226b27c9f1429f3dac7cfe7dcbeae7",
    }
    for (n, seed), digest in expected.items():
        for jobs in (
            generate_history(n, seed=seed, start=DEFAULT_START),
            generate_history(n, seed=seed, start=DEFAULT_START, generation="current"),
        ):
            assert hashlib.sha256(json.dumps(jobs).encode()).hexdigest() == digest


def _unwrap(job: dict[str, Any]) -> dict[str, Any]:
    return job["data"] if set(job) == {"meta", "data", "links"} else job


def _iso_ms(text: str) -> int:
    assert text.endswith("Z")
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def test_older_generation_is_the_same_jobs_in_the_2025_shape() -> None:
    current = generate_history(800, seed=3, start=DEFAULT_START)
    older = generate_history(800, seed=3, start=DEFAULT_START, generation="older")
    assert len(older) == len(current)
    wrapped = [j for j in older if "data" in j]
    assert 40 <= len(wrapped) <= 130  # one in ten, in a {meta, data, links} envelope
    assert all(set(j) == {"meta", "data", "links"} for j in wrapped)
    words: Counter[str] = Counter()
    for new, old in zip(current, map(_unwrap, older), strict=True):
        assert old["id"] == new["id"] and "created_at" not in old and "updated_at" not in old
        assert _iso_ms(old["created"]) == new["created_at"]
        assert _iso_ms(old["updated"]) == new["updated_at"]
        assert (old["error"] is None) == (new["error"] is None)
        assert old["error"] is None or isinstance(old["error"], str)
        for t_new, t_old in zip(new["tasks"], old["tasks"], strict=True):
            words[t_old["status"]] += 1
            words[t_old["kind"]] += 1
            if t_new["finished_at"] is not None:
                assert _iso_ms(t_old["finished_at"]) == t_new["finished_at"]
            out = t_old["output"] or {}
            assert "fps" not in out and ("framerate" in out) == ("fps" in (t_new["output"] or {}))
        words[old["status"]] += 1
    queued = sum(j["status"] == "queued" for j in current)
    assert words["pending"] == queued and words["queued"] == 0
    for word in ("ready", "completed", "error", "ingest", "upload", "thumbnails"):
        assert words[word] > 0, word
    for word in ("succeeded", "import", "export"):
        assert words[word] == 0, word
    # Both ISO forms: with and without milliseconds.
    stamps = [t["updated"] for j in older for t in _unwrap(j)["tasks"]]
    assert any(len(s) == 24 for s in stamps) and any(len(s) == 20 for s in stamps)


def test_mix_generation_mixes_current_runs_and_older_jobs() -> None:
    current = generate_history(600, seed=4, start=DEFAULT_START)
    mix = [_unwrap(j) for j in generate_history(600, seed=4, start=DEFAULT_START, generation="mix")]
    shapes = Counter(
        "current"
        if j == c
        else "runs"
        if j.get("created_at") == c["created_at"] // 1000
        else "older"
        for j, c in zip(mix, current, strict=True)
        if "created_at" in j or "created" in j
    )
    assert len(mix) == 600 and sum(shapes.values()) == 600
    assert shapes["current"] > 200 and shapes["runs"] > 60 and shapes["older"] > 100
    with pytest.raises(ValueError, match="generation must be one of"):
        generate_history(5, generation="2024")


def test_serves_an_older_generation_in_creation_order() -> None:
    older = generate_history(120, seed=2, start=DEFAULT_START, generation="older")
    with serve(older, api_key=SECRET) as api:
        seen = []
        path = "/jobs?limit=50&order=asc"
        while True:
            _, headers, page = _get(api.url, path)
            seen += [_unwrap(j)["id"] for j in page]
            if "link" not in headers:
                break
            path = headers["link"].split(">")[0].removeprefix("<" + api.url)
        assert seen == [_unwrap(j)["id"] for j in older]  # the history is oldest first
        wrapped = next(j for j in older if "data" in j)
        _, _, body = _get(api.url, f"/jobs/{wrapped['data']['id']}")
        assert body == wrapped
        assert api.advance() == 0  # older shapes are served as they are


@pytest.mark.parametrize("kind", ["ok", "truncate"])
def test_an_answer_is_one_write_head_and_body(kind: str) -> None:
    """The head and the body of an answer leave in one write (one segment for a small
    answer), so a client reads them in one turn of its loop, not two."""
    import asyncio

    from ittybit_frames.simulator._http import Connection

    body = b'{"id":"job_1"}'
    writes: list[bytes] = []

    class Wire(asyncio.Transport):
        def write(self, data: bytes | bytearray | memoryview) -> None:
            writes.append(bytes(data))

        def close(self) -> None:
            pass

    def handle(method: str, target: str, headers: dict[str, str]) -> tuple[Any, ...]:
        return (kind, 200, {"Has-More": "false"}, body)

    loop = asyncio.new_event_loop()
    try:
        conn = Connection(handle, lambda: 0.0, loop, set())
        conn.connection_made(Wire())
        conn.data_received(b"GET /jobs/job_1 HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        loop.close()
    assert len(writes) == 1
    head, _, rest = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nHas-More: false" in head
    assert rest == (body if kind == "ok" else body[: len(body) // 2])


class _Wire(asyncio.Transport):
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True


class _Clock(asyncio.SelectorEventLoop):
    """A loop whose clock the test moves, and whose timers the test fires."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        self.timers.append((when, callback, args))

    def fire(self) -> None:
        when, callback, args = self.timers.pop(0)
        self.now = max(self.now, when)
        callback(*args)


def _connection(handling: float, delays: list[float]) -> tuple[Any, _Clock, _Wire, list[str]]:
    """A connection on a test clock whose handler takes ``handling`` seconds."""
    from ittybit_frames.simulator._http import Connection

    loop, wire, seen = _Clock(), _Wire(), []

    def handle(method: str, target: str, headers: dict[str, str]) -> tuple[Any, ...]:
        seen.append(target)
        loop.now += handling  # deciding what to answer takes time
        return ("ok", 200, {}, b"{}")

    conn = Connection(handle, lambda: delays.pop(0), loop, set())
    conn.connection_made(wire)
    return conn, loop, wire, seen


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def test_latency_is_counted_from_the_request_not_from_the_answer() -> None:
    """A 20 ms server answers 20 ms after the request's head arrived, however long it
    took to decide the answer (5 ms here): not 25 ms after."""
    conn, loop, wire, _ = _connection(0.005, [0.020])
    try:
        conn.data_received(_request("/jobs/a")[:10])
        loop.now += 0.003  # the rest of the head comes 3 ms later: the clock starts then
        conn.data_received(_request("/jobs/a")[10:])
        assert [t[0] for t in loop.timers] == [pytest.approx(1000.023)]
        assert wire.writes == []  # not before its time
        loop.fire()
        assert len(wire.writes) == 1 and wire.writes[0].startswith(b"HTTP/1.1 200 OK")
    finally:
        loop.close()


def test_a_pipelined_request_is_answered_on_its_own_clock_in_order() -> None:
    """Two requests in one segment: each is due its latency after it arrived; the
    second, which waited for the first to be answered, leaves at once, and the third
    (jitter made it slower) at its own time. Answers keep the order of the requests."""
    conn, loop, wire, seen = _connection(0.001, [0.020, 0.010, 0.050])
    try:
        conn.data_received(_request("/jobs/a") + _request("/jobs/b"))
        assert seen == ["/jobs/a"]  # one at a time
        assert [t[0] for t in loop.timers] == [pytest.approx(1000.020)]
        loop.now += 0.002
        conn.data_received(_request("/jobs/c"))  # arrives at 1000.002
        loop.fire()  # a answered at 1000.020; b (due 1000.010) at once
        assert seen == ["/jobs/a", "/jobs/b", "/jobs/c"] and len(wire.writes) == 2
        assert [t[0] for t in loop.timers] == [pytest.approx(1000.052)]  # 1000.002 + 50 ms
        loop.fire()
        assert len(wire.writes) == 3
    finally:
        loop.close()


def test_a_request_body_is_skipped_even_when_it_comes_later() -> None:
    """Bytes of a body (no GET route reads one) never pass for the next request."""
    conn, loop, wire, seen = _connection(0.0, [0.0, 0.0])
    try:
        body = b"GET /nope HTTP/1.1\r\n\r\n"  # looks like a request, is a body
        head = b"GET /jobs/a HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
        conn.data_received(head + body[:5])
        conn.data_received(body[5:] + _request("/jobs/b"))
        assert seen == ["/jobs/a", "/jobs/b"] and len(wire.writes) == 2 and not wire.closed
    finally:
        loop.close()


def test_answers_never_come_before_the_stated_latency() -> None:
    """Over a real socket, no answer of a 30 ms server comes sooner than 30 ms after
    its request was sent, whatever the load (the clock may only run late)."""
    with serve(generate_history(5), latency=0.030) as api:
        host, port = api.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            for job in api.jobs:
                began = time.monotonic()
                conn.request(
                    "GET", f"/jobs/{job['id']}", headers={"Authorization": f"Bearer {api.api_key}"}
                )
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 200
                assert time.monotonic() - began >= 0.030
        finally:
            conn.close()
