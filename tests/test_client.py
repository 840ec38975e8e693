"""The client against the simulator over a real loopback socket."""

from __future__ import annotations

import asyncio
import inspect
import logging
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

import ittybit_frames as itf
from ittybit_frames.client import AiohttpTransport, records_of
from ittybit_frames.client._config import ClientOptions
from ittybit_frames.client._paging import JobPager, JobQuery, Page
from ittybit_frames.client._results import ClientStats
from ittybit_frames.client._retry import RateLimiter, RetryPolicy
from ittybit_frames.simulator import Faults, SimulatorAPI, generate_history, serve
from tests.conftest import SECRET, fast_client, still_rate_limit_clock


def _ordered(history: list[dict[str, Any]], order: str) -> list[str]:
    ids = [j["id"] for j in sorted(history, key=lambda j: (j["created_at"], j["id"]))]
    return ids if order == "asc" else ids[::-1]


def _job_gets(api: SimulatorAPI) -> list[str]:
    return [r.path for r in api.requests if r.path.startswith("/jobs/")]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("envelope", [False, True])
def test_iter_jobs_walks_everything_once_in_order(
    history: list[dict[str, Any]], order: str, envelope: bool
) -> None:
    with serve(history, api_key=SECRET, envelope=envelope) as api, fast_client(api) as client:
        got = list(client.iter_jobs(order=order, page_size=37))
    assert [j["id"] for j in got] == _ordered(history, order)
    assert got[0] == next(j for j in history if j["id"] == got[0]["id"])


def test_iter_jobs_without_link_header_uses_after_cursor(history: list[dict[str, Any]]) -> None:
    # The envelope answer has no Link header: the client must page with after=<last id>.
    with serve(history, api_key=SECRET, envelope=True) as api, fast_client(api) as client:
        list(client.iter_jobs(page_size=100))
        queries = [r.query for r in api.requests]
    assert sum("after=" in q for q in queries) == len(queries) - 1 == 3


def test_listing_without_tasks_fetches_each_job(history: list[dict[str, Any]]) -> None:
    with serve(history, api_key=SECRET, list_tasks=False) as api, fast_client(api) as client:
        got = list(client.iter_jobs(page_size=100))
        assert len(_job_gets(api)) == len(history)
    assert all(len(j["tasks"]) == 4 for j in got)


def test_filters_and_time_window(api: SimulatorAPI, history: list[dict[str, Any]]) -> None:
    with fast_client(api) as client:
        videos = list(client.iter_jobs(kind="video"))
        failed = list(client.iter_jobs(status="failed", order="asc"))
        created = sorted(j["created_at"] for j in history)
        since, until = created[100], created[300]
        before = len(api.requests)
        window = list(client.iter_jobs(since=since, until=until, page_size=50))
        window_requests = len(api.requests) - before
        asc_window = list(client.iter_jobs(since=since, until=until, order="asc"))
    assert [j["id"] for j in videos] == [
        j
        for j in _ordered(history, "desc")
        if next(h for h in history if h["id"] == j)["kind"] == "video"
    ]
    assert {j["id"] for j in failed} == {j["id"] for j in history if j["status"] == "failed"}
    expected = {j["id"] for j in history if since <= j["created_at"] < until}
    assert {j["id"] for j in window} == expected == {j["id"] for j in asc_window}
    assert len(window) == 200
    # Newest first, the walk stops once past `since`: 400 jobs / 50 = 8 pages, it needs 7.
    assert window_requests == 7


def test_fetch_jobs_keeps_order_dedupes_and_collects_failures(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    ids = [j["id"] for j in history[:50]]
    asked = [*ids[::-1], ids[0], "job_missing", ids[5], "../jobs", "a/b", "a?b", "a#b", "a b"]
    with fast_client(api, concurrency=8) as client:
        result = client.fetch_jobs(asked)
    assert [j["id"] for j in result.jobs] == ids[::-1]
    gets = _job_gets(api)
    assert len(gets) == len(set(gets)) == 51  # each ID once, bad IDs never sent
    failures = result.failures.set_index("job_id")
    assert list(result.failures.dtypes.astype(str)) == ["string", "Int64", "string", "string"]
    assert failures.loc["job_missing", "status_code"] == 404
    assert failures.loc["job_missing", "kind"] == "job_not_found"
    for bad in ("../jobs", "a/b", "a?b", "a#b", "a b"):
        assert failures.loc[bad, "kind"] == "InvalidJobIdError"
        assert pd_isna(failures.loc[bad, "status_code"])


def pd_isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_fetch_jobs_raise_mode(api: SimulatorAPI) -> None:
    with fast_client(api) as client, pytest.raises(itf.NotFoundError) as info:
        client.fetch_jobs(["job_missing"], errors="raise")
    assert info.value.kind == "job_not_found" and info.value.status_code == 404
    with fast_client(api) as client, pytest.raises(itf.InvalidJobIdError):
        client.get_job("../../etc")


def test_bad_key_stops_the_whole_run_at_once(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    ids = [j["id"] for j in history]
    with (
        itf.Client("wrong-key", base_url=api.url, progress=False, concurrency=4) as client,
        pytest.raises(itf.AuthenticationError, match="ITTYBIT_API_KEY") as info,
    ):
        client.fetch_jobs(ids)
    assert info.value.kind == "token_invalid"
    assert len(api.requests) <= 8  # stopped, not 400 attempts
    assert client.stats.retries == 0


def test_missing_key_and_unsafe_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITTYBIT_API_KEY", raising=False)
    monkeypatch.delenv("ITTYBIT_BASE_URL", raising=False)
    with pytest.raises(itf.ConfigurationError, match="ITTYBIT_API_KEY"):
        itf.Client()
    with pytest.raises(ValueError, match="plain http"):
        itf.Client("k", base_url="http://api.example.com")
    with pytest.raises(itf.ConfigurationError):
        itf.Client("k", base_url="ftp://api.example.com")
    monkeypatch.setenv("ITTYBIT_API_KEY", "from-env")
    monkeypatch.setenv("ITTYBIT_BASE_URL", "http://127.0.0.1:9")
    assert itf.Client().base_url == "http://127.0.0.1:9"
    assert itf.Client(base_url="https://api.example.com").base_url == "https://api.example.com"


@pytest.mark.parametrize(("form", "wait"), [("seconds", 1), ("date", 2)])
def test_retry_after_is_honoured(
    history: list[dict[str, Any]], form: str, wait: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wall clock stands still at a whole second for the server and the client: the
    # HTTP-date (whole seconds) is exactly `wait` s away when the client reads it. With
    # the real clock it was 1-2 s away, less the time between the server writing it and
    # the client reading it, which a loaded machine made longer than 0.1 s.
    now = types.SimpleNamespace(time=lambda: 1_800_000_000.0, monotonic=time.monotonic)
    monkeypatch.setattr("ittybit_frames.simulator._faults.time", now)
    monkeypatch.setattr("ittybit_frames.client._retry.time", now)
    faults = Faults(retry_after=form, retry_after_seconds=wait)
    with serve(history, api_key=SECRET, faults=faults) as api, fast_client(api) as client:
        api.inject("429")
        began = time.monotonic()
        job = client.get_job(history[0]["id"])
        took = time.monotonic() - began
        stats = client.stats
        asked, again = api.requests
    assert job["id"] == history[0]["id"]
    assert stats.rate_limited == 1 and stats.retries == 1 and stats.requests == 2
    assert (asked.status, again.status) == (429, 200)
    assert took >= wait and stats.waited_seconds >= wait
    assert again.time - asked.time >= wait  # the server saw the retry no sooner


def test_retry_after_is_capped(history: list[dict[str, Any]]) -> None:
    faults = Faults(retry_after_seconds=3600)
    with (
        serve(history, api_key=SECRET, faults=faults) as api,
        fast_client(api, max_retry_after=0.05) as client,
    ):
        api.inject("429")
        client.get_job(history[0]["id"])
        assert client.stats.waited_seconds < 5


@pytest.mark.parametrize("fault", ["500", "502", "503", "drop", "truncate", "429"])
def test_each_fault_kind_is_retried(
    api: SimulatorAPI, history: list[dict[str, Any]], fault: str
) -> None:
    with fast_client(api) as client:
        api.inject(fault, fault)
        job = client.get_job(history[1]["id"])
        stats = client.stats
    assert job == history[1]
    assert [r.status for r in api.requests][-1] == 200 and len(api.requests) == 3
    assert stats.failures == 0
    if fault == "drop":
        # aiohttp itself re-sends once when a reused keep-alive connection turns out closed.
        assert stats.retries >= 1
    else:
        assert stats.retries == 2 and stats.requests == 3


def test_other_4xx_are_not_retried(api: SimulatorAPI) -> None:
    with fast_client(api) as client, pytest.raises(itf.APIError) as info:
        list(client.iter_jobs(kind="gif"))
    assert info.value.status_code == 400 and info.value.kind == "request_invalid"
    assert len(api.requests) == 1


def test_exhausted_retries_become_a_failure_row(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    with fast_client(api, max_attempts=3, concurrency=1) as client:
        api.inject("503", "503", "503")
        result = client.fetch_jobs([history[0]["id"], history[1]["id"]])
    assert [j["id"] for j in result.jobs] == [history[1]["id"]]
    row = result.failures.iloc[0]
    assert row["job_id"] == history[0]["id"] and row["status_code"] == 503
    assert result.stats.failures == 1


def test_fault_storm_loses_and_duplicates_nothing() -> None:
    history = generate_history(5000, seed=3)
    ids = [j["id"] for j in history]
    with serve(history) as api, fast_client(api, concurrency=32) as client:
        clean = client.fetch_jobs(ids)
    storm = Faults(rate=0.3, retry_after="mixed", retry_after_seconds=0)
    # 30 % faults over ~7,000 requests: with the default 8 attempts a request fails all of
    # them with probability 0.3**8 (~1 in 15,000), so a run loses a job about 1 time in 3.
    # A storm calls for more attempts; 20 make a loss a ~1e-7 event per run.
    with (
        serve(history, faults=storm, seed=9) as api,
        fast_client(api, concurrency=32, max_attempts=20) as client,
    ):
        stormy = client.fetch_jobs(ids)
        statuses = {r.status for r in api.requests}
        listed = list(client.iter_jobs())
    assert stormy.failures.empty and clean.failures.empty
    assert stormy.jobs == clean.jobs == history
    assert {0, 429, 500, 502, 503} <= statuses  # drops recorded as 0
    assert stormy.stats.retries > 1000
    assert sorted(j["id"] for j in listed) == sorted(ids)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps the default transport and notes when each request leaves the client."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.sent: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(time.monotonic())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_client_rate_limit_is_never_exceeded(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    rate = 40.0
    transport = RecordingTransport()
    with fast_client(api, rate_limit=rate, concurrency=16, transport=transport) as client:
        client.fetch_jobs([j["id"] for j in history[:60]])
        client._run(transport.aclose)
    sent = transport.sent
    assert len(sent) == 60 == len(api.requests)
    for i, t in enumerate(sent):
        in_window = sum(1 for u in sent[i:] if u - t < 1.0)
        assert in_window <= rate
    assert sent[-1] - sent[0] >= (60 - 1) / rate * 0.99


def test_rate_limiter_backs_off_after_429_and_recovers() -> None:
    limiter = RateLimiter(100.0)
    limiter.penalize(0.0)
    assert limiter.current == 50.0
    for _ in range(10):
        limiter.penalize(0.0)
    assert limiter.current == 100.0 / 32  # floor: 1/32 of the setting
    for _ in range(100):
        limiter.reward()
    assert limiter.current == 100.0


def test_server_rate_limit_is_survived(
    history: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server allows 30 requests/s and answers 429 with Retry-After: 1 beyond that.
    # Its clock stands still until the 31st request (refused, then, however slowly a
    # loaded machine sent the first 30), and runs as the real one from there.
    still_rate_limit_clock(monkeypatch, readings=1 + 31)  # the bucket's start, 31 requests
    with (
        serve(history, api_key=SECRET, rate_limit=30) as api,
        fast_client(api, rate_limit=200, concurrency=8) as client,
    ):
        result = client.fetch_jobs([j["id"] for j in history[:90]])
        stats = client.stats
    assert stats.rate_limited > 0 and stats.waited_seconds >= 1.0
    assert len(result.jobs) == 90 and result.failures.empty


def test_sync_client_inside_a_running_loop(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    async def notebook_cell() -> list[str]:
        # Jupyter runs cells inside a live event loop; the sync client must still work.
        with fast_client(api) as client:
            return [j["id"] for j in client.iter_jobs(page_size=100)]

    assert asyncio.run(notebook_cell()) == _ordered(history, "desc")


def test_async_client(api: SimulatorAPI, history: list[dict[str, Any]]) -> None:
    async def main() -> tuple[dict[str, Any], int, list[str]]:
        async with itf.AsyncClient(api.api_key, base_url=api.url, progress=False) as client:
            job = await client.get_job(history[2]["id"])
            result = await client.fetch_jobs([j["id"] for j in history[:10]])
            ids = [j["id"] async for j in client.iter_jobs(order="asc")]
        return job, len(result), ids

    job, n, ids = asyncio.run(main())
    assert job == history[2] and n == 10 and ids == _ordered(history, "asc")


def test_key_never_leaks(
    history: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    storm = Faults(rate=0.4, retry_after_seconds=0)
    texts: list[str] = []
    with serve(history, api_key=SECRET, faults=storm) as api:
        with fast_client(api, max_attempts=2, progress=True) as client:
            texts += [repr(client), str(client.stats)]
            result = client.fetch_jobs([j["id"] for j in history[:100]] + ["job_missing"])
            texts += [result.failures.to_string(), repr(result.stats)]
            api.inject("503", "503")
            try:
                client.get_job(history[0]["id"])
            except itf.IttybitError as exc:
                texts += [str(exc), repr(exc), repr(exc.__cause__), str(vars(exc))]
        # The wrong key is a secret too: a 401 must not echo it.
        with itf.Client(SECRET + "x", base_url=api.url, progress=False) as bad:
            with pytest.raises(itf.AuthenticationError) as info:
                bad.get_job(history[0]["id"])
            texts += [str(info.value), repr(info.value), repr(bad), str(vars(info.value))]
    captured = capsys.readouterr()
    everything = "\n".join([*texts, caplog.text, captured.out, captured.err])
    assert "token_invalid" in everything  # we did capture the interesting parts
    assert SECRET not in everything


def test_redirect_to_another_host_drops_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.example.com":
            return httpx.Response(302, headers={"Location": "https://cdn.example.net/jobs/j1"})
        return httpx.Response(200, json={"id": "j1", "tasks": []})

    client = itf.Client(
        SECRET,
        base_url="https://api.example.com",
        transport=httpx.MockTransport(handler),
        progress=False,
    )
    with client:
        assert client.get_job("j1")["id"] == "j1"
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert "authorization" not in seen[1].headers


def test_progress_bar_only_when_asked(
    api: SimulatorAPI, history: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [j["id"] for j in history[:20]]
    with fast_client(api, progress=False) as client:
        client.fetch_jobs(ids)
    assert capsys.readouterr().err == ""
    with fast_client(api, progress=True) as client:
        client.fetch_jobs(ids)
    assert "20/20" in capsys.readouterr().err


def test_stats_count_the_work(api: SimulatorAPI, history: list[dict[str, Any]]) -> None:
    with fast_client(api) as client:
        api.inject("500")
        client.fetch_jobs([j["id"] for j in history[:10]])
        stats = client.stats
    assert stats.requests == 11 and stats.retries == 1 and stats.failures == 0
    assert stats.elapsed_seconds > 0


def test_client_takes_exactly_the_async_clients_arguments() -> None:
    def parameters(method: Any) -> list[inspect.Parameter]:
        return list(inspect.signature(method).parameters.values())

    for name in ("__init__", "iter_pages", "iter_jobs"):
        assert parameters(getattr(itf.Client, name)) == parameters(getattr(itf.AsyncClient, name))
    # Explicit, typed keywords (not *args/**kwargs), shown by help() and inspect.
    init = inspect.signature(itf.Client).parameters
    assert init["api_key"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert init["timeout"].kind is inspect.Parameter.KEYWORD_ONLY
    assert (init["timeout"].annotation, init["timeout"].default) == ("float", 30.0)
    walk = inspect.signature(itf.Client.iter_jobs).parameters
    assert list(walk) == ["self", "kind", "status", "since", "until", "order", "page_size", "after"]
    with pytest.raises(TypeError, match="timeot"):
        itf.Client(SECRET, base_url="https://api.example.com", timeot=5)  # type: ignore[call-arg]
    with pytest.raises(itf.ConfigurationError, match="concurrency"):
        itf.AsyncClient(SECRET, base_url="https://api.example.com", concurrency=0)
    assert SECRET not in repr(ClientOptions(SECRET))


def test_mypy_checks_the_clients_keywords(tmp_path: Path) -> None:
    """A typo in a keyword, or a wrong type, fails mypy for both clients and the walk."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import ittybit_frames as itf\n"
        "itf.Client('k', timeout=5.0, concurrency=4)\n"
        "itf.Client('k', timeot=5)\n"
        "itf.AsyncClient('k', concurrency='many')\n"
        "itf.Client('k').iter_jobs(order='sideways')\n"
        "itf.AsyncClient('k').iter_pages(page_sise=5)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["3", "4", "5", "6"], done.stdout
    assert '"timeot"' in errors[0] and '"page_sise"' in errors[3]


def _page(
    items: list[dict[str, Any]],
    *,
    headers: dict[str, str] | None = None,
    payload: Any = None,
    has_more: bool | None = None,
) -> Page:
    url = "https://api.example.com/jobs?limit=2&order=desc"
    body = items if payload is None else payload
    return Page(url, body, httpx.Headers(headers or {}), items, has_more)


def test_pager_asks_the_link_then_has_more_then_the_page_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)  # in-process CLI runs leave the root logger at ERROR
    pager = JobPager("https://api.example.com", JobQuery(kind="video", page_size=2))
    assert pager.url == "https://api.example.com/jobs?limit=2&order=desc&kind=video"
    two = [{"id": "a"}, {"id": "b"}]
    # A same-host rel="next" link wins, whatever else the answer says.
    link = {"Link": '<https://api.example.com/jobs?page=2>; rel="next"'}
    assert pager.advance(_page(two, headers=link, has_more=False))
    assert pager.url == "https://api.example.com/jobs?page=2"
    body = {"data": two, "links": {"next": "https://api.example.com/jobs?page=3"}}
    assert pager.advance(_page(two, payload=body))
    assert pager.url == "https://api.example.com/jobs?page=3"
    # A link to another host is ignored: the cursor moves instead.
    elsewhere = {"Link": '<https://cdn.example.net/jobs?page=4>; rel="next"'}
    assert pager.advance(_page(two, headers=elsewhere))
    assert pager.url == "https://api.example.com/jobs?limit=2&order=desc&kind=video&after=b"
    assert "another host" in caplog.text
    # has_more decides when given (a short page may have more, a full one may not).
    assert pager.advance(_page([{"id": "c"}], has_more=True))
    assert pager.url.endswith("after=c")
    assert not pager.advance(_page(two, has_more=False))
    # Without it, a short page is the last.
    assert not pager.advance(_page([{"id": "d"}]))
    with pytest.raises(itf.APIError, match="no id"):
        pager.advance(_page([{"id": "e"}, {"name": "no id"}]))


def test_listing_query_is_checked() -> None:
    with pytest.raises(itf.ConfigurationError, match="order"):
        JobQuery(order="newest")  # type: ignore[arg-type]
    with pytest.raises(itf.ConfigurationError, match="page_size"):
        JobQuery(page_size=101)
    with pytest.raises(itf.InvalidJobIdError):
        JobPager("https://api.example.com", JobQuery(after="../x"))


def test_retry_policy_judges_the_first_attempt_like_the_others() -> None:
    limiter = RateLimiter(100.0)
    policy = RetryPolicy(
        limiter,
        max_attempts=3,
        max_retry_time=10.0,
        backoff_initial=0.001,
        backoff_max=0.01,
        max_retry_after=0.01,
    )
    answers: list[Exception | str] = [
        itf.RateLimitError("429", retry_after=0.0, status_code=429),
        itf.ServerError("503", status_code=503),
        "ok",
    ]

    async def attempt() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    stats = ClientStats()
    assert asyncio.run(policy.run(attempt, stats)) == "ok"
    assert stats.retries == 2 and stats.failures == 0
    assert limiter.current == 50.0  # the first attempt's 429 was seen once, and only once

    # Attempts are capped, the first included; a 4xx is not retried at all.
    answers[:] = [itf.ServerError("503", status_code=503)] * 3 + ["never"]
    with pytest.raises(itf.ServerError):
        asyncio.run(policy.run(attempt, stats))
    answers[:] = [itf.APIError("400", status_code=400), "never"]
    with pytest.raises(itf.APIError, match="400"):
        asyncio.run(policy.run(attempt, stats))
    assert answers == ["never"] and stats.retries == 4 and stats.failures == 2


def test_rate_limiter_knobs_are_parameters() -> None:
    limiter = RateLimiter(100.0, slowdown=4.0, floor=0.5, recovery=0.25)
    limiter.penalize(0.0)
    assert limiter.current == 50.0  # 100 / 4 is below the floor of 0.5 x 100
    limiter.reward()
    assert limiter.current == 75.0


def test_records_of_hands_ndjson_and_keeps_huge_integers_as_jobs() -> None:
    a, b, c = [{"id": "a", "n": 1}], [{"id": "b", "n": 2**70}], [{"id": "c", "s": "\u2028\n"}]
    assert records_of([a, c]) == b'{"id":"a","n":1}\n{"id":"c","s":"\xe2\x80\xa8\\n"}\n'
    assert records_of([a, b, c]) == [*a, *b, *c]  # in order, every digit kept
    assert records_of([]) == b""


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/jobs/job_01HX-abc_9",
        "https://api.ittybit.com/jobs?after=job_x&limit=100&order=desc",
        "https://api.ittybit.com",
        "http://localhost:1/v1.2/jobs/a~b",
        "http://a/jobs?x=1&&y=",
    ],
)
def test_plain_urls_skip_yarls_quoting_and_mean_the_same(url: str) -> None:
    """The transport hands the URLs of the client's own requests to aiohttp as already
    encoded: for each one its pattern lets through, yarl's own parsing gives the same URL."""
    from yarl import URL

    from ittybit_frames.client._transport import _PLAIN_URL

    assert _PLAIN_URL.fullmatch(url)
    fast, slow = URL(url, encoded=True), URL(url)
    assert (str(fast), fast.host_port_subcomponent, fast.path_qs) == (
        str(slow),
        slow.host_port_subcomponent,
        slow.path_qs,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://a/b/../c",  # dot segments: yarl removes them
        "http://a/./c",
        "http://a/jobs/%41",  # percent-escapes: yarl may requote them
        "http://A/jobs",  # yarl lower-cases the host
        "http://a/jobs/é",  # non-ASCII: encoded
        "http://a/jobs x",
        "http://[::1]:8080/jobs",
        "http://a/jobs?q=a+b",
        "ftp://a/jobs",
    ],
)
def test_other_urls_go_through_yarls_quoting(url: str) -> None:
    from ittybit_frames.client._transport import _PLAIN_URL

    assert not _PLAIN_URL.fullmatch(url)
