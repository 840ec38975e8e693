"""Client._pages_ahead and Client._fetch_in_order: the walk (or the fetch by ID) goes on
on the client's loop while the caller works, and stops when the caller stops."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

import ittybit_frames as itf
from ittybit_frames.client import AiohttpTransport
from ittybit_frames.client._sync import PAGES_AHEAD
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve
from tests.conftest import SECRET, fast_client


class Counting(httpx.AsyncBaseTransport):
    """The default transport; counts listing requests, sets ``reached`` at the n-th,
    and answers the ``fail_at``-th with a 404."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.inner = AiohttpTransport()
        self.listed = 0
        self.n = n
        self.fail_at = fail_at
        self.reached = threading.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jobs":
            self.listed += 1
            if self.listed >= self.n:
                self.reached.set()
            if self.listed == self.fail_at:
                return httpx.Response(404, json={"kind": "not_found", "message": "gone"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(scope="module")
def jobs() -> list[dict[str, Any]]:
    return generate_history(3000, seed=5)


def _pending(client: itf.Client) -> list[asyncio.Task[Any]]:
    runner = client._runner
    assert runner is not None
    current = client._run(_current)
    return [t for t in asyncio.all_tasks(runner._loop) if not t.done() and t is not current]


async def _current() -> Any:
    return asyncio.current_task()


def test_the_walk_runs_ahead_of_the_caller_and_stops_with_it(jobs: list[dict[str, Any]]) -> None:
    transport = Counting(n=8)
    with serve(jobs, api_key=SECRET) as api, fast_client(api, transport=transport) as client:
        pages = client._pages_ahead(page_size=100)
        first = next(pages)
        # The caller holds the first page; the walk goes on without it (before, the next
        # page was requested only when the caller asked for it).
        assert transport.reached.wait(10)
        pages.close()
        stopped_at = transport.listed
        assert 8 <= stopped_at <= PAGES_AHEAD + 3
        assert _pending(client) == []  # the walk's task has ended
        assert first == next(client.iter_pages(page_size=100))
        listed = list(client._pages_ahead(page_size=100))
        assert listed == list(client.iter_pages(page_size=100))
        client._run(transport.aclose)


def test_an_error_of_the_walk_comes_after_the_pages_before_it(jobs: list[dict[str, Any]]) -> None:
    transport = Counting(n=1, fail_at=4)
    got: list[Any] = []

    def walk(client: itf.Client) -> None:
        for page in client._pages_ahead(page_size=100):
            got.append(page)

    with (
        serve(jobs, api_key=SECRET) as api,
        fast_client(api, transport=transport, max_attempts=1) as client,
    ):
        with pytest.raises(itf.NotFoundError):
            walk(client)
        assert len(got) == 3  # the pages before the failing one, then its error
        assert _pending(client) == []
        client._run(transport.aclose)


def test_fetch_in_order_hands_jobs_in_the_order_of_the_ids(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    ids = [j["id"] for j in history[::-1]] + ["job_missing", history[0]["id"]]
    with fast_client(api, concurrency=8) as client:
        done: list[itf.FetchResult] = []
        batches = list(client._fetch_in_order(ids, done))
        want = client.fetch_jobs(ids)
        [result] = done
        assert [j for b in batches for j in b] == want.jobs
        assert result.jobs == []  # handed over in the batches, not held to the end
        assert list(result.failures["job_id"]) == ["job_missing"]
        stopped = client._fetch_in_order(ids, done)
        next(stopped)
        stopped.close()  # stops the fetch
        assert _pending(client) == [] and len(done) == 1


@pytest.mark.parametrize("route", ["listing", "ids"])
def test_ctrl_c_as_the_run_ahead_starts_leaves_no_task_running(
    jobs: list[dict[str, Any]], route: str
) -> None:
    """Ctrl-C landing just as the walk's (or the fetch's) task has been started on the
    loop, before the caller's generator holds it: the task must still be stopped, or a
    ``client=`` the caller keeps would go on fetching in the background."""
    with serve(jobs, api_key=SECRET) as api, fast_client(api) as client:
        run = client._run

        def interrupted_after_start(make: Any) -> Any:
            result = run(make)
            if getattr(make, "__name__", "") == "start":
                raise KeyboardInterrupt
            return result

        client._run = interrupted_after_start  # type: ignore[method-assign]
        ids = [job["id"] for job in jobs[:2000]]
        ahead = (
            client._pages_ahead(page_size=100)
            if route == "listing"
            else client._fetch_in_order(ids, [])
        )
        with pytest.raises(KeyboardInterrupt):
            next(ahead)
        del client._run
        assert _pending(client) == []
        assert len(next(client.iter_pages(page_size=100))) == 100  # the client still works
