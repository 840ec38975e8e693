"""The client against servers that behave differently from the simulator.

A small server of the tests' own (stdlib ``http.server`` on 127.0.0.1, in a thread) plays
the older API versions and proxies of issue 13: repeated pages, ignored cursors, page
numbers, relative links, wrong jobs, hostile bodies. Every listing test ends within a
bounded number of requests, with every distinct job or a ``PaginationError``; none
relies on a timeout to end.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

import ittybit_frames as itf
from ittybit_frames.errors import PaginationError
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

Route = Callable[[str, dict[str, str], dict[str, str]], tuple[int, dict[str, str], bytes]]
MAX_REQUESTS = 50  # every listing below must end well before this


class Hostile:
    """A loopback HTTP server answering every GET with ``route(path, query, headers)``."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                hostile.requests.append((split.path, query, headers))
                if len(hostile.requests) > MAX_REQUESTS:  # a runaway client: stop it hard
                    status, extra, body = 500, {}, b'{"kind":"runaway","message":"too many"}'
                else:
                    status, extra, body = hostile.route(split.path, query, headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hostile:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client(self, **options: Any) -> itf.Client:
        options.setdefault("progress", False)
        options.setdefault("backoff_initial", 0.001)
        options.setdefault("backoff_max", 0.01)
        options.setdefault("max_attempts", 3)
        return itf.Client(SECRET, base_url=self.url, **options)

    def paths(self, prefix: str) -> list[str]:
        return [p for p, _, _ in self.requests if p.startswith(prefix)]


JOBS = generate_history(250, seed=13)
BY_ID = {j["id"]: j for j in JOBS}
NEWEST_FIRST = sorted(JOBS, key=lambda j: (j["created_at"], j["id"]), reverse=True)


def _array(jobs: list[dict[str, Any]]) -> bytes:
    return json.dumps(jobs).encode()


def _job_route(path: str) -> tuple[int, dict[str, str], bytes] | None:
    if path.startswith("/jobs/"):
        jid = path[len("/jobs/") :]
        if jid in BY_ID:
            return 200, {}, json.dumps(BY_ID[jid]).encode()
        return 404, {}, b'{"kind":"job_not_found","message":"no such job"}'
    return None


# -- listing that never ends --------------------------------------------------------------
def test_link_next_equal_to_current_url_stops_with_pagination_error() -> None:
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        link = f'<{server.url}/jobs?limit=100>; rel="next"'
        return 200, {"Link": link, "Has-More": "true"}, _array(NEWEST_FIRST[:100])

    with (
        Hostile(route) as server,
        server.client() as client,
        pytest.raises(PaginationError) as info,
    ):
        list(client.iter_jobs())
    assert isinstance(info.value, itf.APIError)
    assert len(server.requests) <= 3
    assert "next" in str(info.value).lower() or "repeat" in str(info.value).lower()


def test_server_ignoring_the_cursor_stops_with_pagination_error() -> None:
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        return 200, {"Has-More": "true"}, _array(NEWEST_FIRST[:100])  # `after` ignored

    with Hostile(route) as server:
        with server.client() as client, pytest.raises(PaginationError):
            list(client.iter_jobs())
        assert len(server.requests) <= 3
        with pytest.raises(PaginationError):
            itf.read_jobs(client=server.client())
        assert len(server.requests) <= 6


def test_sync_and_export_all_end_on_a_looping_server(tmp_path: Path) -> None:
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        return _job_route(path) or (200, {"Has-More": "true"}, _array(NEWEST_FIRST[:100]))

    with Hostile(route) as server:
        with pytest.raises(PaginationError):
            itf.sync(tmp_path / "lake", api_key=SECRET, base_url=server.url, progress=False)
        before = len(server.requests)
        env = {**os.environ, "ITTYBIT_API_KEY": SECRET, "ITTYBIT_BASE_URL": server.url}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ittybit_frames.cli",
                "export",
                "--all",
                "--format",
                "ndjson",
                "--out",
                str(tmp_path / "all.ndjson"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert before <= 5 and len(server.requests) - before <= 5
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pagination" in done.stderr.lower() or "page" in done.stderr.lower()


# -- page-numbered listing (2024-25 API versions, official SDKs) -------------------------
def _page(query: dict[str, str]) -> tuple[list[dict[str, Any]], int, int]:
    page, limit = int(query.get("page", "1")), int(query.get("limit", "20"))
    return NEWEST_FIRST[(page - 1) * limit : page * limit], page, limit


def test_page_numbered_envelope_with_relative_links_next() -> None:
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        items, page, limit = _page(query)
        pages = -(-len(JOBS) // limit)
        links = {"self": f"/jobs?page={page}&limit={limit}"}
        if page < pages:
            links["next"] = f"/jobs?page={page + 1}&limit={limit}"
        meta = {"type": "list", "limit": limit, "page": page, "pages": pages, "total": len(JOBS)}
        body = {"meta": meta, "data": items, "links": links}
        return 200, {}, json.dumps(body).encode()

    with Hostile(route) as server, server.client() as client:
        got = [j["id"] for j in client.iter_jobs(page_size=100)]
    assert got == [j["id"] for j in NEWEST_FIRST]
    assert len(server.requests) == 3


def test_page_numbered_bare_array_with_relative_link_header() -> None:
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        items, page, limit = _page(query)
        extra = {}
        if page * limit < len(JOBS):
            extra["Link"] = f'</jobs?page={page + 1}&limit={limit}>; rel="next"'
        return 200, extra, _array(items)

    with Hostile(route) as server, server.client() as client:
        got = [j["id"] for j in client.iter_jobs(page_size=100)]
    assert got == [j["id"] for j in NEWEST_FIRST]
    assert len(server.requests) == 3


def test_page_numbered_bare_array_without_headers_ends() -> None:
    # Nothing in the answer says how to page: the client may find page numbers or stop
    # with a PaginationError, but it must end, and never yield a job twice.
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        items, _, _ = _page(query)
        return 200, {}, _array(items)

    with Hostile(route) as server, server.client() as client:
        got: list[str] = []
        with contextlib.suppress(PaginationError):
            got.extend(j["id"] for j in client.iter_jobs(page_size=100))
    assert len(got) == len(set(got))
    assert got in ([j["id"] for j in NEWEST_FIRST], [j["id"] for j in NEWEST_FIRST[:100]])
    assert len(server.requests) <= 5


def test_jobs_moved_between_pages_are_yielded_once() -> None:
    # Page 2 starts 5 jobs early (new jobs arrived while walking).
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        after = query.get("after")
        start = 0 if after is None else [j["id"] for j in NEWEST_FIRST].index(after) + 1 - 5
        items = NEWEST_FIRST[start : start + 100]
        more = start + 100 < len(NEWEST_FIRST)
        return 200, {"Has-More": "true" if more else "false"}, _array(items)

    with Hostile(route) as server, server.client() as client:
        got = [j["id"] for j in client.iter_jobs(page_size=100)]
    assert sorted(got) == sorted(BY_ID) and len(got) == len(JOBS)


# -- IDs ------------------------------------------------------------------------------------
def test_ids_are_stripped_and_bad_ones_are_failure_rows() -> None:
    first, second = NEWEST_FIRST[0]["id"], NEWEST_FIRST[1]["id"]

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        return _job_route(path) or (404, {}, b"{}")

    with Hostile(route) as server, server.client() as client:
        result = client.fetch_jobs([f"{first}\n", f"\ufeff{second} ", "", "  ", "job a/b"])
    assert sorted(j["id"] for j in result.jobs) == sorted([first, second])
    assert list(result.failures["job_id"]) == ["job a/b"]
    assert all(p.count("/") == 2 and " " not in p for p in server.paths("/jobs/"))


def test_listed_job_with_a_newline_in_its_id_does_not_end_the_batch() -> None:
    listed = [dict(j) for j in NEWEST_FIRST[:5]]
    for job in listed:
        del job["tasks"]  # the client must fetch each by ID
    listed[2]["id"] = listed[2]["id"] + "\n"

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        return _job_route(path) or (200, {"Has-More": "false"}, _array(listed))

    with Hostile(route) as server, server.client() as client:
        frames = itf.read_jobs(client=client)
    assert len(frames.jobs) + len(frames.failures) == 5
    assert len(frames.jobs) >= 4


def test_numeric_ids_are_strings_everywhere(tmp_path: Path) -> None:
    listed = [dict(j) for j in NEWEST_FIRST[:3]]
    listed[1]["id"] = 123456789
    for job in listed:
        job["tasks"] = []

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        if path == "/jobs/123456789":
            return 200, {}, json.dumps(listed[1]).encode()
        return _job_route(path) or (200, {"Has-More": "false"}, _array(listed))

    with Hostile(route) as server:
        report = itf.sync(tmp_path / "lake", api_key=SECRET, base_url=server.url, progress=False)
        with server.client() as client:
            frames = itf.read_jobs(client=client)
    lake = itf.read_parquet(tmp_path / "lake")
    assert report.new_jobs == 3
    assert "123456789" in set(lake.jobs["job_id"]) and "123456789" in set(frames.jobs["job_id"])


# -- answers ----------------------------------------------------------------------------------
DEEP = b'{"id":"deep","n":1234567890123456789012,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _deep_route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
    if path == "/jobs/deep":
        return 200, {}, DEEP
    if path == "/jobs/other":
        return 200, {}, json.dumps(BY_ID[NEWEST_FIRST[9]["id"]]).encode()
    return _job_route(path) or (404, {}, b"{}")


def test_unparsable_body_is_a_bad_payload_row_and_not_retried() -> None:
    good = [j["id"] for j in NEWEST_FIRST[:3]]
    with Hostile(_deep_route) as server, server.client() as client:
        result = client.fetch_jobs([good[0], good[1], "deep", good[2]])
    assert sorted(j["id"] for j in result.jobs) == sorted(good)
    row = result.failures.set_index("job_id").loc["deep"]
    assert row["kind"] == "bad_payload"
    assert server.paths("/jobs/deep") == ["/jobs/deep"]


def test_export_writes_the_good_jobs_when_one_body_is_hostile(tmp_path: Path) -> None:
    good = [j["id"] for j in NEWEST_FIRST[:3]]
    with Hostile(_deep_route) as server:
        env = {**os.environ, "ITTYBIT_API_KEY": SECRET, "ITTYBIT_BASE_URL": server.url}
        out = tmp_path / "out.ndjson"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ittybit_frames.cli",
                "export",
                "--format",
                "ndjson",
                "--out",
                str(out),
                "--ids",
                good[0],
                good[1],
                "deep",
                good[2],
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    written = [json.loads(line)["id"] for line in out.read_text().splitlines() if line]
    assert sorted(written) == sorted(good)


def test_a_different_job_than_requested_is_an_id_mismatch_row() -> None:
    with Hostile(_deep_route) as server, server.client() as client:
        result = client.fetch_jobs(["other", NEWEST_FIRST[0]["id"]])
    assert [j["id"] for j in result.jobs] == [NEWEST_FIRST[0]["id"]]
    assert result.failures.set_index("job_id").loc["other", "kind"] == "id_mismatch"


# -- Retry-After on 503 ----------------------------------------------------------------------
def test_retry_after_is_honoured_on_503() -> None:
    jid = NEWEST_FIRST[0]["id"]
    calls: list[int] = []

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        calls.append(1)
        if len(calls) == 1:
            return 503, {"Retry-After": "3"}, b'{"kind":"unavailable","message":"busy"}'
        return _job_route(path)

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    with Hostile(route) as server, server.client(sleep=fake_sleep) as client:
        assert client.get_job(jid)["id"] == jid
    assert len(calls) == 2
    assert waits and max(waits) >= 3.0


# -- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999", "http://[::1", "ftp://127.0.0.1", "http://", "http://:80"]
)
def test_impossible_base_urls_are_configuration_errors_at_once(url: str) -> None:
    with pytest.raises(itf.ConfigurationError):
        itf.Client(SECRET, base_url=url, progress=False)


def test_cli_impossible_base_url_is_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "ITTYBIT_API_KEY": SECRET}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ittybit_frames.cli",
            "export",
            "--ids",
            "job_a",
            "--format",
            "ndjson",
            "--out",
            str(tmp_path / "x.ndjson"),
            "--base-url",
            "http://[::1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_api_version_is_sent_as_accept_version(monkeypatch: pytest.MonkeyPatch) -> None:
    jid = NEWEST_FIRST[0]["id"]

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        return _job_route(path)

    with Hostile(route) as server:
        with server.client() as client:
            client.get_job(jid)
        with server.client(api_version="2025-08-20") as client:
            client.get_job(jid)
        monkeypatch.setenv("ITTYBIT_API_VERSION", "2025-01-01")
        with server.client() as client:
            client.get_job(jid)
    sent = [h.get("accept-version") for _, _, h in server.requests]
    assert sent == [None, "2025-08-20", "2025-01-01"]


_JID = NEWEST_FIRST[0]["id"]
_UNCLOSED = {
    "Client, dropped": (
        f"c = itf.Client({SECRET!r}, base_url=sys.argv[1], progress=False)\n"
        f"assert c.get_job({_JID!r})['id'] == {_JID!r}\n"
        "del c\n"
    ),
    "Client, left open at exit": (
        f"c = itf.Client({SECRET!r}, base_url=sys.argv[1], progress=False)\n"
        f"assert c.get_job({_JID!r})['id'] == {_JID!r}\n"
    ),
    **{
        f"AsyncClient, {how}": (
            "async def main():\n"
            f"    c = itf.AsyncClient({SECRET!r}, base_url=sys.argv[1], progress=False)\n"
            f"    assert (await c.get_job({_JID!r}))['id'] == {_JID!r}\n"
            f"    {drop}\n"
            "asyncio.run(main())\n"
        )
        for how, drop in [
            ("dropped in its loop", "del c; gc.collect()"),
            ("left open when its coroutine returns", "pass"),
        ]
    },
}


@pytest.mark.parametrize("case", list(_UNCLOSED))
def test_an_unclosed_client_leaves_no_warnings(case: str) -> None:
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        return _job_route(path)

    code = f"import asyncio, gc, sys, ittybit_frames as itf\n{_UNCLOSED[case]}gc.collect()\n"
    with Hostile(route) as server:
        done = subprocess.run(
            [sys.executable, "-W", "error", "-X", "dev", "-c", code, server.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "Unclosed" not in done.stderr and "Warning" not in done.stderr
    gc.collect()


# -- page-numbered listing end to end, against the simulator in its page mode ---------------
def test_sync_walks_a_page_numbered_simulator_end_to_end(tmp_path: Path) -> None:
    history = generate_history(450, seed=5)
    with serve(history, paging="pages", list_tasks=False) as api, fast_client(api) as client:
        report = itf.sync(tmp_path / "lake", client=client)
        listing = [r for r in api.requests if r.path == "/jobs"]
        again = itf.sync(tmp_path / "lake", client=client)
    lake = itf.read_parquet(tmp_path / "lake")
    assert report.new_jobs == 450 and again.new_jobs == 0
    assert set(lake.jobs["job_id"]) == {j["id"] for j in history}
    assert len(lake.jobs) == 450
    # five pages of 100, each asked for by number, none twice
    pages = [dict(parse_qsl(r.query)).get("page", "1") for r in listing]
    assert sorted(pages) == ["1", "2", "3", "4", "5"]


def test_page_numbered_simulator_matches_the_cursor_one() -> None:
    history = generate_history(230, seed=6)
    walks = {}
    for paging in ("cursor", "pages"):
        with serve(history, paging=paging) as api, fast_client(api) as client:
            walks[paging] = [j["id"] for j in client.iter_jobs(kind="video", page_size=40)]
    assert walks["pages"] == walks["cursor"] and len(walks["pages"]) > 40


def test_a_next_link_cycle_stops_once_every_page_was_read() -> None:
    # Two pages of different jobs whose links point at each other: the URL check ends it.
    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        page = int(query.get("page", "1"))
        other = 2 if page == 1 else 1
        link = f'</jobs?page={other}&limit=100>; rel="next"'
        return 200, {"Link": link}, _array(NEWEST_FIRST[(page - 1) * 100 : page * 100])

    got: list[str] = []
    with (
        Hostile(route) as server,
        server.client() as client,
        pytest.raises(PaginationError) as info,
    ):
        got.extend(j["id"] for j in client.iter_jobs(page_size=100))
    assert got == [j["id"] for j in NEWEST_FIRST[:200]]
    assert len(server.requests) <= 3
    assert "repeats" in str(info.value)


def test_invalid_utf8_is_bad_payload_but_a_cut_body_is_retried() -> None:
    good = NEWEST_FIRST[0]["id"]

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        if path == "/jobs/latin1":
            return 200, {}, b'{"id":"latin1","name":"caf\xe9"}'
        if path == "/jobs/cut":  # a body cut inside a two-byte character
            return 200, {}, b'{"id":"cut","name":"caf\xc3'
        return _job_route(path) or (404, {}, b"{}")

    with Hostile(route) as server, server.client(max_attempts=3) as client:
        result = client.fetch_jobs(["latin1", "cut", good])
    rows = result.failures.set_index("job_id")
    assert [j["id"] for j in result.jobs] == [good]
    assert rows.loc["latin1", "kind"] == "bad_payload"
    assert server.paths("/jobs/latin1") == ["/jobs/latin1"]
    assert rows.loc["cut", "kind"] == "NetworkError"
    assert len(server.paths("/jobs/cut")) == 3
