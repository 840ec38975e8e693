"""read_jobs converts the listing while it is walked, with the result of converting it
after the walk: the same frames, failures and errors."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import signal
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ittybit_frames as itf
from ittybit_frames.client import AiohttpTransport, records_of
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve
from tests.conftest import SECRET, fast_client
from tests.frames_equal import assert_frame_equal

BIG = 123456789012345678901234567890


@pytest.fixture(scope="module")
def many() -> list[dict[str, Any]]:
    """Enough jobs (about 4 MB of NDJSON) for the listing to be read in pieces."""
    return generate_history(1500, seed=11, end=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


def _ndjson_threads() -> list[threading.Thread]:
    """DuckDB's reader threads of the fast path (see frames._ndjson.scan)."""
    return [t for t in threading.enumerate() if t.name.startswith("ndjson") and t.is_alive()]


class Watching(itf.Client):
    """A client that notes, as it hands over each page of a walk, whether the pages
    before it are being converted already (DuckDB's reader at work); it can also fail
    after some pages, as a server or Ctrl-C would."""

    def __init__(self, *args: Any, fail_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.converting: list[bool] = []
        self.fail_after = fail_after
        self.fail_with: BaseException = KeyboardInterrupt()

    def _pages_ahead(self, **query: Any) -> Iterator[list[dict[str, Any]]]:  # type: ignore[override]
        for n, page in enumerate(super()._pages_ahead(**query)):
            if n == self.fail_after:
                raise self.fail_with
            self.converting.append(bool(_ndjson_threads()))
            yield page


def _watching(api: SimulatorAPI, **options: Any) -> Watching:
    return Watching(
        api.api_key,
        base_url=api.url,
        progress=False,
        backoff_initial=0.001,
        backoff_max=0.01,
        **options,
    )


def _after_the_walk(client: itf.Client, **query: Any) -> itf.JobFrames:
    """What read_jobs made before: the whole listing, then to_frames."""
    frames = itf.to_frames(records_of(client.iter_pages(**query)))
    return frames


def _same_rows(got: itf.JobFrames, want: itf.JobFrames) -> None:
    assert_frame_equal(got.jobs, want.jobs)
    assert_frame_equal(got.tasks, want.tasks)
    assert sorted(map(str, got.problems.itertuples(index=False))) == sorted(
        map(str, want.problems.itertuples(index=False))
    )


def test_the_listing_is_converted_while_it_is_walked(many: list[dict[str, Any]]) -> None:
    with serve(many, api_key=SECRET) as api, _watching(api) as client:
        frames = itf.read_jobs(client=client)
        want = _after_the_walk(client)
    _same_rows(frames, want)
    assert len(frames.jobs) == len(many)
    # Before the last page was handed over, DuckDB was reading the pages before it
    # (before, every page was gathered first and converted after the walk).
    assert any(client.converting[:-1])
    assert _ndjson_threads() == []


def test_a_huge_integer_mid_walk_keeps_every_digit(many: list[dict[str, Any]]) -> None:
    jobs = copy.deepcopy(many)
    jobs[700]["metadata"] = {"big": BIG}  # mid-walk: pieces before and after it
    with serve(jobs, api_key=SECRET) as api, _watching(api) as client:
        frames = itf.read_jobs(client=client)
        want = _after_the_walk(client)
    _same_rows(frames, want)
    kept = frames.jobs.set_index("job_id").loc[jobs[700]["id"], "metadata"]
    assert kept == f'{{"big":{BIG}}}'
    assert any(client.converting[:-1])  # the pieces route, not all the jobs as dicts


def test_filters_and_a_window_that_ends_early(many: list[dict[str, Any]]) -> None:
    created = sorted(j["created_at"] for j in many)
    since = created[len(created) // 2]  # walking newest first, the walk stops halfway
    with serve(many, api_key=SECRET) as api, _watching(api) as client:
        for query in ({"kind": "video"}, {"status": "failed"}, {"since": since}):
            frames = itf.read_jobs(client=client, **query)
            _same_rows(frames, _after_the_walk(client, **query))
            assert frames.failures is not None and frames.failures.empty
        assert set(frames.jobs["job_id"]) == {j["id"] for j in many if j["created_at"] >= since}


class Missing(httpx.AsyncBaseTransport):
    """The default transport, except that ``GET /jobs/{id}`` of some IDs is a 404."""

    def __init__(self, gone: set[str]) -> None:
        self.inner = AiohttpTransport()
        self.gone = gone

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.rsplit("/", 1)[-1] in self.gone:
            return httpx.Response(404, json={"kind": "not_found", "message": "no such job"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_jobs_whose_tasks_fail_mid_walk_are_kept_as_listed_with_failures(
    many: list[dict[str, Any]],
) -> None:
    gone = {many[10]["id"], many[900]["id"]}
    with serve(many, api_key=SECRET, list_tasks=False) as api:
        transport = Missing(gone)
        with fast_client(api, transport=transport, max_attempts=1) as client:
            frames = itf.read_jobs(client=client)
            before = len(client.walk_failures)
            want = _after_the_walk(client)
            client._run(transport.aclose)
    _same_rows(frames, want)
    assert frames.failures is not None
    assert set(frames.failures["job_id"]) == gone
    assert set(client.walk_failures.iloc[before:]["job_id"]) == gone  # the same failures
    listed = frames.tasks[frames.tasks["job_id"].isin(gone)]
    assert len(frames.jobs) == len(many) and listed.empty  # kept, as listed


def test_an_error_mid_walk_reaches_the_caller_and_stops_everything(
    many: list[dict[str, Any]],
) -> None:
    with serve(many, api_key=SECRET) as api, _watching(api, fail_after=12) as client:
        client.fail_with = itf.PaginationError("the server repeats a page", status_code=200)
        with pytest.raises(itf.PaginationError):
            itf.read_jobs(client=client)
        assert _ndjson_threads() == []
        client.fail_after = None
        assert len(itf.read_jobs(client=client)) == len(many)  # the client still works


def test_ctrl_c_mid_walk_leaves_no_thread_and_closes_the_client(
    many: list[dict[str, Any]],
) -> None:
    """A real SIGINT, sent while the listing is walked (its 8th page is asked for)."""
    before = set(threading.enumerate())

    class CtrlC(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = AiohttpTransport()
            self.pages = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/jobs":
                self.pages += 1
                if self.pages == 8:
                    await self.inner.aclose()  # a transport passed in is the caller's
                    # Ctrl-C, pressed again while the walk goes on (Python drops a
                    # KeyboardInterrupt that lands inside a finalizer: seen on a loaded
                    # machine); the first press that lands cancels this wait.
                    for _ in range(5):
                        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                        await asyncio.sleep(2)
            if self.pages >= 8:
                await asyncio.Event().wait()  # no answer: the walk cannot end by itself
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    transport = CtrlC()
    with serve(many, api_key=SECRET) as api, pytest.raises(KeyboardInterrupt):
        itf.read_jobs(api_key=api.api_key, base_url=api.url, progress=False, transport=transport)
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []  # the client's loop thread and DuckDB's reader have ended
    assert 8 <= transport.pages < len(many) // 100  # stopped mid-walk


class WatchingIds(itf.Client):
    """A client that notes, as it hands over each batch of jobs fetched by ID, whether
    the batches before it are being converted already."""

    converting: list[bool]

    def _fetch_in_order(self, ids: Any, into: Any) -> Iterator[list[dict[str, Any]]]:  # type: ignore[override]
        self.converting = []
        for batch in super()._fetch_in_order(ids, into):
            self.converting.append(bool(_ndjson_threads()))
            yield batch


def test_jobs_by_id_are_converted_as_they_arrive_in_the_order_of_the_ids(
    many: list[dict[str, Any]],
) -> None:
    jobs = copy.deepcopy(many)
    jobs[600]["metadata"] = {"big": BIG}
    ids = [j["id"] for j in reversed(jobs)]  # not the listing's order
    ids[5:5] = ["job_missing", ids[40], "bad id/../x", ""]  # a 404, a repeat, invalid, blank
    with serve(jobs, api_key=SECRET, latency=0.002) as api:
        client = WatchingIds(api.api_key, base_url=api.url, progress=False, concurrency=8)
        with client:
            frames = itf.read_jobs(ids, client=client)
            fetched = client.fetch_jobs(ids)
            failed = itf.read_jobs(ids, status="failed", client=client)
    want = itf.to_frames(records_of([fetched.jobs]))
    _same_rows(frames, want)
    assert list(frames.jobs["job_id"]) == list(
        dict.fromkeys(i for i in ids if i.startswith("job_") and i != "job_missing")
    )
    assert frames.failures is not None
    assert_frame_equal(frames.failures, fetched.failures)
    assert set(failed.jobs["status"]) == {"failed"}
    assert len(failed.jobs) == sum(j["status"] == "failed" for j in jobs)
    assert frames.jobs.set_index("job_id").loc[jobs[600]["id"], "metadata"] == f'{{"big":{BIG}}}'
    assert len(client.converting) > 1 and any(client.converting[:-1])
    assert _ndjson_threads() == []


def test_no_ids_give_empty_frames(api: SimulatorAPI) -> None:
    with fast_client(api) as client:
        frames = itf.read_jobs([], client=client)
    assert frames.jobs.empty and frames.failures is not None and frames.failures.empty
