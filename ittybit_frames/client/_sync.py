"""The synchronous client: an :class:`AsyncClient` on a private loop thread."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable, Iterator
from typing import Any, Literal, TypeVar

import pandas as pd

from ittybit_frames.client._async import AsyncClient, _fetch_each, _result, unique_ids
from ittybit_frames.client._config import ClientOptions, check_job_ids, takes_options
from ittybit_frames.client._paging import JobQuery
from ittybit_frames.client._results import ClientStats, FetchResult
from ittybit_frames.client._runtime import LoopThread
from ittybit_frames.errors import ClientClosedError

__all__ = ["Client"]

_T = TypeVar("_T")
_CLOSED = (
    "the client was closed (close() from another thread) while this call was under way; "
    "make a new Client to go on"
)
_CLOSED_WALK = (
    "the client was closed while this walk of it was under way: the walk stopped there; "
    "make a new Client (or use this one again) for a new walk"
)
Jobs = list[dict[str, Any]]


async def _read_page(pages: AsyncGenerator[Any, None], reading: list[asyncio.Future[Any]]) -> Any:
    task = asyncio.current_task()
    reading[:] = [] if task is None else [task]
    return await pages.__anext__()


async def _close_pages(
    pages: AsyncGenerator[Any, None], reading: list[asyncio.Future[Any]]
) -> None:
    """Close the listing's generator once the page being read has unwound (a Ctrl-C
    cancels it from the caller's thread; it ends on this loop a little later): closed
    while it runs, the generator raises RuntimeError ('aclose(): asynchronous generator
    is already running'), which would replace the caller's KeyboardInterrupt."""
    pending = [task for task in reading if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=10)  # a bound for a task deaf to cancellation
        if not all(task.done() for task in pending):
            return  # still running: left to be closed when it is collected
    await pages.aclose()


class Client:
    """Client for the ittybit jobs API, for scripts and notebooks.

    Takes the same arguments as :class:`AsyncClient` (see there); works the same inside
    a running event loop (Jupyter), because the work runs on the client's own loop thread.
    A client never closed (common in notebooks) releases its connections and thread when
    it is garbage-collected, or at interpreter exit.

    Examples
    --------
    >>> from ittybit_frames.simulator import generate_history, serve
    >>> with serve(generate_history(20)) as api, Client(api.api_key, base_url=api.url) as c:
    ...     jobs = c.fetch_jobs([j["id"] for j in api.jobs[:5]]).jobs
    >>> len(jobs)
    5
    """

    @takes_options(ClientOptions)
    def __init__(self, options: ClientOptions) -> None:
        self._async = AsyncClient._from_options(options)
        self._runner: LoopThread | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._starting = threading.Lock()  # two threads' first calls make one loop thread

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient", "Client", 1)

    def _run(self, make: Callable[[], Awaitable[_T]]) -> _T:
        runner = self._runner
        if runner is None:
            with self._starting:
                runner = self._runner
                if runner is None:
                    runner = LoopThread()
                    # Holds the runner and the async client, never self: so self can be
                    # collected.
                    self._finalizer = weakref.finalize(self, _shut_down, runner, self._async)
                    self._runner = runner
        try:
            return runner.run(make())
        except (Exception, asyncio.CancelledError):
            if runner.closing:  # its loop was stopped under it: say so, not how
                raise ClientClosedError(_CLOSED) from None
            raise

    def _tidy(self, make: Callable[[], Awaitable[object]], walk: list[LoopThread]) -> None:
        """Run ``make()`` (a walk's clean-up) on the walk's loop, unless the client is
        closed or closing (its loop then cancels what is left itself) or has gone on
        with a new loop (the walk's is gone)."""
        runner = self._runner
        if runner is not None and not runner.closing and (not walk or walk[0] is runner):
            runner.run(make())

    @property
    def base_url(self) -> str:
        return self._async.base_url

    @property
    def walk_failures(self) -> pd.DataFrame:
        """Listed jobs whose tasks could not be fetched. See :attr:`AsyncClient.walk_failures`."""
        return self._async.walk_failures

    @property
    def _padded_ids(self) -> dict[str, str]:
        """The padded IDs the client knows (see ``AsyncClient._padded``)."""
        return self._async._padded

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters (see :class:`ClientStats`)."""
        return self._async.stats

    def get_job(self, job_id: str) -> dict[str, Any]:
        """Fetch one job with its tasks. See :meth:`AsyncClient.get_job`."""
        return self._run(lambda: self._async.get_job(job_id))

    def fetch_jobs(
        self, ids: Iterable[str], *, errors: Literal["collect", "raise"] = "collect"
    ) -> FetchResult:
        """Fetch many jobs by ID. See :meth:`AsyncClient.fetch_jobs`."""
        check_job_ids(ids)
        ids = list(ids)
        return self._run(lambda: self._async.fetch_jobs(ids, errors=errors))

    @takes_options(JobQuery)
    def iter_pages(self, query: JobQuery) -> Iterator[list[dict[str, Any]]]:
        """Pages of the job listing. See :meth:`AsyncClient.iter_pages`."""
        yield from self._pages(query)

    @takes_options(JobQuery)
    def iter_jobs(self, query: JobQuery) -> Iterator[dict[str, Any]]:
        """Walk the job listing lazily. See :meth:`AsyncClient.iter_jobs`."""
        for page in self._pages(query):
            yield from page

    def _pages(self, query: JobQuery) -> Iterator[list[dict[str, Any]]]:
        pages = self._async._pages(query)  # the one walk of the listing, run on our loop
        reading: list[asyncio.Future[Any]] = []  # the task reading the current page
        loop: list[LoopThread] = []
        try:
            while True:
                try:
                    page = _run_walk(self, lambda: _read_page(pages, reading), loop)
                except StopAsyncIteration:
                    return
                yield page
        finally:
            self._tidy(lambda: _close_pages(pages, reading), loop)

    @takes_options(JobQuery)
    def _pages_ahead(self, query: JobQuery) -> Generator[Jobs, None, None]:
        """The pages of :meth:`iter_pages`, walked by a task of the client's loop up to
        :data:`PAGES_AHEAD` pages ahead of the caller: the caller's work on a page
        (converting it) does not hold the walk up. Closing the iterator stops the walk.

        A subclass's own ``iter_pages`` (one that filters, say) is walked instead, as it
        is: what it yields is what read_jobs and sync get, without the run ahead."""
        if _overridden(self, "iter_pages"):
            yield from self.iter_pages(**_given(query))
            return

        started: list[asyncio.Future[None]] = []  # the task, however start() returns

        async def start() -> asyncio.Queue[Any]:
            queue: asyncio.Queue[Any] = asyncio.Queue(PAGES_AHEAD)
            started.append(asyncio.ensure_future(_fill(queue, self._async._pages(query))))
            return queue

        loop: list[LoopThread] = []
        try:
            queue = _run_walk(self, start, loop)
            while True:
                page = _run_walk(self, queue.get, loop)
                if page is _END:
                    return
                if isinstance(page, _Raised):
                    raise page.exc
                yield page
        finally:
            if started:
                self._tidy(lambda: _cancelled(started[0]), loop)

    def _fetch_in_order(
        self, ids: Iterable[str], into: list[FetchResult]
    ) -> Generator[Jobs, None, None]:
        """The jobs of :meth:`fetch_jobs`, handed over in the order of ``ids`` as they
        arrive (each batch: the jobs whose IDs, and all before them, are answered), while
        the rest are fetched; then its :class:`FetchResult` (its failures; its jobs were
        handed over) is appended to ``into``. The fetch holds at most :data:`IDS_AHEAD`
        jobs (requests in flight, and jobs waiting for an earlier ID or for the caller),
        however slow an early ID is. Closing the iterator stops the fetch.

        A subclass's own ``fetch_jobs`` is called instead, its jobs handed over at once."""
        check_job_ids(ids)
        ids = list(ids)
        if _overridden(self, "fetch_jobs"):
            result = self.fetch_jobs(ids)
            if result.jobs:
                yield list(result.jobs)
            into.append(result)
            return

        started: list[asyncio.Future[None]] = []  # the task, however start() returns

        async def start() -> tuple[asyncio.Queue[Any], asyncio.Semaphore]:
            queue: asyncio.Queue[Any] = asyncio.Queue()
            window = asyncio.Semaphore(max(IDS_AHEAD, 2 * self._async.concurrency))
            started.append(asyncio.ensure_future(_fetch_into(queue, window, self._async, ids)))
            return queue, window

        loop: list[LoopThread] = []
        try:
            queue, window = _run_walk(self, start, loop)
            while True:
                items = _run_walk(self, lambda: _drained(queue, window), loop)
                batch = [job for item in items if isinstance(item, tuple) for job in item[0]]
                if batch:
                    yield batch
                last = items[-1]  # the end comes last
                if isinstance(last, _Raised):
                    raise last.exc
                if isinstance(last, FetchResult):
                    into.append(last)
                    return
        finally:
            if started:
                self._tidy(lambda: _cancelled(started[0]), loop)

    def close(self) -> None:
        """Close connections and stop the loop thread."""
        finalizer, self._finalizer, self._runner = self._finalizer, None, None
        if finalizer is not None:
            finalizer()  # runs once: here, or at collection, or at exit

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_walk(client: Client, make: Callable[[], Awaitable[_T]], walk: list[LoopThread]) -> _T:
    """A call of one of ``client``'s walks: ``walk`` holds the loop its first call ran
    on, where its state lives. Once the client is closed (its next call would start a new
    loop), the walk cannot go on."""
    if walk and walk[0] is not client._runner:
        raise ClientClosedError(_CLOSED_WALK)
    result = client._run(make)
    if not walk and client._runner is not None:
        walk.append(client._runner)
    return result


def _overridden(client: Client, name: str) -> bool:
    """Whether ``client``'s public method ``name`` is not :class:`Client`'s own (a
    subclass's, or one set on the instance)."""
    return getattr(getattr(client, name), "__func__", None) is not getattr(Client, name)


def _given(query: JobQuery) -> dict[str, Any]:
    """The arguments ``query`` was made of, those left at their default left out."""
    return {
        f.name: getattr(query, f.name)
        for f in dataclasses.fields(query)
        if getattr(query, f.name) is not f.default
    }


#: How far (in pages) a walk for read_jobs may run ahead of the conversion: a few tenths
#: of a second of round trips, enough to cover the conversion of a piece.
PAGES_AHEAD = 16
#: How many jobs a fetch by ID for read_jobs may hold at once: requests in flight, and
#: jobs answered but waiting for an earlier ID or for the caller (the listing's run ahead,
#: in jobs). At least twice the concurrency, so that the window never idles the requests.
IDS_AHEAD = PAGES_AHEAD * 100
_END = object()


class _Raised:
    """What the walk raised, handed to the caller in its place among the pages."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


async def _fill(queue: asyncio.Queue[Any], pages: AsyncGenerator[Jobs, None]) -> None:
    """Put the walk's pages in ``queue``, then its end (or what it raised)."""
    try:
        async for page in pages:
            await queue.put(page)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # the caller raises it (Ctrl-C too) where it came
        await queue.put(_Raised(exc))
    else:
        await queue.put(_END)
    finally:
        await pages.aclose()


async def _fetch_into(
    queue: asyncio.Queue[Any], window: asyncio.Semaphore, client: AsyncClient, ids: list[str]
) -> None:
    """``client.fetch_jobs(ids)``, putting the jobs in ``queue`` in the order of the IDs as
    they are answered, each batch with the number of IDs it stands for (failed ones too),
    then the :class:`FetchResult` without the jobs (or what it raised). An ID is started
    only with a place in ``window``, given back when the caller takes its batch."""
    unique = unique_ids(client._padded, ids)
    answered: dict[str, dict[str, Any] | None] = {}
    at = 0

    async def get(job_id: str) -> dict[str, Any]:
        nonlocal at
        job = None
        try:
            job = await client._get_job(job_id)
            return job
        finally:
            answered[job_id] = job
            batch, begun = [], at
            while at < len(unique) and unique[at] in answered:
                got = answered.pop(unique[at])
                if got is not None:
                    batch.append(got)
                at += 1
            if at > begun:
                queue.put_nowait((batch, at - begun))

    try:
        with client._clock.running():
            found, failed = await _fetch_each(
                get,
                unique,
                "collect",
                client.concurrency,
                client.progress,
                client._stats,
                gate=window.acquire,
                keep=False,
            )
        queue.put_nowait(_result(unique, found, failed, client.stats))
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # the caller raises it where it came
        queue.put_nowait(_Raised(exc))


async def _drained(queue: asyncio.Queue[Any], window: asyncio.Semaphore) -> list[Any]:
    """The next item of ``queue`` (waited for), and all that are there already; the
    places in ``window`` of the IDs of the batches taken are given back."""
    items = [await queue.get()]
    while not queue.empty():
        items.append(queue.get_nowait())
    for item in items:
        if isinstance(item, tuple):
            for _ in range(item[1]):
                window.release()
    return items


async def _cancelled(task: asyncio.Future[None]) -> None:
    """Stop ``task`` and wait until it has ended."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _shut_down(runner: LoopThread, client: AsyncClient) -> None:
    """Close ``client``'s connections on ``runner``'s loop, then stop the loop."""
    runner.closing = True  # a call of another thread that fails from now on: closed
    if threading.current_thread() is runner.thread:  # collected on the loop itself
        runner.call_soon(client.aclose)
        return
    try:
        runner.run(client.aclose())
    finally:  # a Ctrl-C while the connections close still ends the thread
        try:
            runner.stop()
        finally:  # and what it kept the loop from closing is closed from here
            client._close_now()
