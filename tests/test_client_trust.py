"""read_jobs and sync keep their promises when the caller's side misbehaves: a transport
that raises Ctrl-C on the client's loop thread, a Client subclass overriding the public
calls, one slow early ID among many fetched by ID."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import ittybit_frames as itf
from ittybit_frames.client import WireTransport
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve
from tests.conftest import SECRET, fast_client

JOIN = 20  # seconds: a bound that fails the test when the caller hangs


@pytest.fixture(scope="module")
def jobs() -> list[dict[str, Any]]:
    return generate_history(1200, seed=11)


class CtrlCHttpx(httpx.AsyncBaseTransport):
    """An httpx transport that raises KeyboardInterrupt at its ``at``-th request."""

    def __init__(self, at: int) -> None:
        self.inner = WireTransport()
        self.at = at
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        if self.sent == self.at:
            raise KeyboardInterrupt
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CtrlCExchange(WireTransport):
    """The project's transport interface (``exchange``), raising KeyboardInterrupt at its
    ``at``-th request."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.sent = 0

    async def exchange(self, *args: Any, **kwargs: Any) -> tuple[int, Mapping[str, str], bytes]:
        self.sent += 1
        if self.sent == self.at:
            raise KeyboardInterrupt
        return await super().exchange(*args, **kwargs)


TRANSPORTS: dict[str, Callable[[int], httpx.AsyncBaseTransport]] = {
    "httpx": CtrlCHttpx,
    "exchange": CtrlCExchange,
}


def _in_a_thread(work: Callable[[], Any]) -> BaseException | None:
    """Run ``work`` in a thread; what it raised. Fails the test if it hangs."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # Ctrl-C included: it is what the test waits for
            raised.append(exc)

    thread = threading.Thread(target=run, name="caller", daemon=True)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive(), "the caller is still waiting: the call hangs"
    return raised[0] if raised else None


def _others(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in set(threading.enumerate()) - before if t.is_alive()]


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
@pytest.mark.parametrize("route", ["listing", "ids"])
def test_ctrl_c_in_a_transport_reaches_the_read_jobs_caller(
    jobs: list[dict[str, Any]], route: str, transport: str
) -> None:
    ids = [j["id"] for j in jobs] if route == "ids" else None
    with serve(jobs, api_key=SECRET) as api:
        before = set(threading.enumerate())
        sender = TRANSPORTS[transport](5)
        raised = _in_a_thread(
            lambda: itf.read_jobs(
                ids, api_key=api.api_key, base_url=api.url, progress=False, transport=sender
            )
        )
        assert isinstance(raised, KeyboardInterrupt)
        assert _others(before) == []  # the client's loop thread (and readers) have ended
        kept = TRANSPORTS[transport](3)
        with fast_client(api, transport=kept) as client:
            raised = _in_a_thread(lambda: itf.read_jobs(ids, client=client))
            assert isinstance(raised, KeyboardInterrupt)
            # A client the caller keeps still works afterwards, the same transport too.
            again = itf.read_jobs(ids[:50] if ids else None, client=client)
            assert len(again) == (50 if ids else len(jobs))
        assert _others(before) == []


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".ittybit_frames.holder.json"  # who last held the lock
    }


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_ctrl_c_in_a_transport_reaches_the_sync_caller_and_leaves_the_lake_as_it_was(
    tmp_path: Path, jobs: list[dict[str, Any]], transport: str
) -> None:
    lake = tmp_path / "lake"
    with serve(jobs, api_key=SECRET) as api:
        with fast_client(api) as client:
            itf.sync(lake, client=client, kind="video")  # a lake, with its own frontier
        was = _files(lake)
        before = set(threading.enumerate())
        sender = TRANSPORTS[transport](4)  # mid-walk, before the first batch is written
        raised = _in_a_thread(
            lambda: itf.sync(
                lake, api_key=api.api_key, base_url=api.url, progress=False, transport=sender
            )
        )
        assert isinstance(raised, KeyboardInterrupt)
        assert _others(before) == []
        assert _files(lake) == was  # nothing written, nothing half-written
        with fast_client(api) as client:
            report = itf.sync(lake, client=client, lock_timeout=1)  # the lock was let go
    assert report.lake_jobs == len(jobs)


class OnlyVideos(itf.Client):
    """A subclass that overrides the public calls (here: keeps video jobs only)."""

    def iter_pages(self, **query: Any) -> Iterator[list[dict[str, Any]]]:  # type: ignore[override]
        for page in super().iter_pages(**query):
            yield [job for job in page if job.get("kind") == "video"]

    def fetch_jobs(self, ids: Iterable[str], *, errors: Any = "collect") -> itf.FetchResult:
        result = super().fetch_jobs(ids, errors=errors)
        result.jobs = [job for job in result.jobs if job.get("kind") == "video"]
        return result


def _only_videos(api: SimulatorAPI) -> OnlyVideos:
    return OnlyVideos(api.api_key, base_url=api.url, progress=False)


@pytest.mark.parametrize("route", ["listing", "ids"])
def test_read_jobs_honours_a_subclass_overriding_iter_pages_and_fetch_jobs(
    jobs: list[dict[str, Any]], route: str
) -> None:
    videos = [j["id"] for j in jobs if j["kind"] == "video"]
    ids = [j["id"] for j in jobs] if route == "ids" else None
    with serve(jobs, api_key=SECRET) as api, _only_videos(api) as client:
        frames = itf.read_jobs(ids, client=client)
        failed = itf.read_jobs(ids, status="failed", client=client)
    assert 0 < len(videos) < len(jobs)
    assert sorted(frames.jobs["job_id"]) == sorted(videos)
    assert set(failed.jobs["kind"]) == {"video"} and set(failed.jobs["status"]) == {"failed"}


def test_sync_honours_a_subclass_overriding_iter_pages(
    tmp_path: Path, jobs: list[dict[str, Any]]
) -> None:
    videos = [j["id"] for j in jobs if j["kind"] == "video"]
    with serve(jobs, api_key=SECRET) as api, _only_videos(api) as client:
        report = itf.sync(tmp_path / "lake", client=client, batch_jobs=100)
    assert report.new_jobs == len(videos)
    assert sorted(itf.read_parquet(tmp_path / "lake").jobs["job_id"]) == sorted(videos)


class HoldsTheFirst(httpx.AsyncBaseTransport):
    """Answers ``GET /jobs/{id}`` from memory, at once, except the first ID's: held until
    ``bound`` requests have started. Notes the most requests started while the first
    was unanswered, and the most started beyond the jobs the caller has been handed."""

    def __init__(self, jobs: list[dict[str, Any]], first: str, bound: int) -> None:
        self.jobs = {job["id"]: job for job in jobs}
        self.first = first
        self.bound = bound
        self.release = asyncio.Event()
        self.answered_first = False
        self.started = 0
        self.most_while_held = 0
        self.handed = 0  # set by the caller as it is handed jobs
        self.most_ahead = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.started += 1
        if not self.answered_first:
            self.most_while_held = self.started
        self.most_ahead = max(self.most_ahead, self.started - self.handed)
        if self.started == self.bound:
            self.release.set()
        job_id = request.url.path.rsplit("/", 1)[-1]
        if job_id == self.first:
            await self.release.wait()
            self.answered_first = True
        if job_id not in self.jobs:
            return httpx.Response(404, json={"kind": "not_found", "message": "no such job"})
        return httpx.Response(200, json=self.jobs[job_id])


def test_a_fetch_by_id_holds_at_most_a_window_of_jobs_when_the_first_is_slow(
    jobs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ittybit_frames.client._sync.IDS_AHEAD", 40, raising=False)
    bound = 40  # IDS_AHEAD, above 2 x concurrency
    ids = [j["id"] for j in jobs[:400]]
    ids[1:1] = ["job_missing"]  # a failure inside a batch (not at its end: see handed)
    transport = HoldsTheFirst(jobs, ids[0], bound)
    got: list[dict[str, Any]] = []
    done: list[itf.FetchResult] = []
    client = itf.Client(
        SECRET, base_url="http://127.0.0.1:9", progress=False, concurrency=4, transport=transport
    )

    def take_all() -> None:
        for batch in client._fetch_in_order(ids, done):
            got.extend(batch)
            transport.handed = ids.index(got[-1]["id"]) + 1  # the IDs behind the caller

    with client:
        assert _in_a_thread(take_all) is None
    assert transport.most_while_held == bound  # the window filled, and no further
    assert transport.most_ahead <= 2 * bound  # the window, and one batch on its way
    assert [j["id"] for j in got] == [i for i in ids if i != "job_missing"]
    assert list(done[0].failures["job_id"]) == ["job_missing"]
