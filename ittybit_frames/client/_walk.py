"""The walk of the job listing, pipelined: the next page is on its way while this one is used.

A walk is a round trip per page; decoding a page and the consumer's work on it
(converting, writing) would add to each one. So the request for the next page starts as
soon as its URL is known: from the ``Link`` header, before this page's body is even
decoded; else (a cursor from the body) once the page is read, before it is handed over.
A full walk thus approaches one page per round trip (BENCHMARKS.md), at most two pages
ahead of the consumer. :class:`JobPager` decides where to go and ends the walk when the
server loops; a page started early on a header's word is dropped if the body disagrees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from ittybit_frames.client._paging import JobPager, Page, read_page
from ittybit_frames.client._results import Stopwatch
from ittybit_frames.client._runtime import progress_bar
from ittybit_frames.client._transport import Headers
from ittybit_frames.errors import PaginationError
from ittybit_frames.vocabulary import created_ms

__all__ = ["walk_pages"]

Jobs = list[dict[str, Any]]
OnHeaders = Callable[[Headers], None]
Get = Callable[[str, OnHeaders | None], Awaitable[tuple[Any, Headers]]]
Complete = Callable[[Jobs], Awaitable[Jobs]]


async def walk_pages(
    get: Get,
    complete: Complete,
    pager: JobPager,
    clock: Stopwatch,
    *,
    progress: bool | None,
    stats: Any = None,
    failures: list[dict[str, Any]] | None = None,
) -> AsyncGenerator[Jobs, None]:
    """Yield the new jobs of each page inside the pager's time window, in order.

    Parameters
    ----------
    get : async callable
        ``get(url, on_headers)`` is the decoded body and the headers of ``GET url``;
        it calls ``on_headers(headers)`` before decoding the body.
    complete : async callable
        Given the jobs of a page, returns them with their tasks (fetched when missing).
    pager : JobPager
        Where to start, how to go on; it raises :class:`PaginationError` on a loop.
    clock : Stopwatch
        Counts the time spent waiting for pages.
    progress : bool or None
        Progress bar on stderr (None: only in a terminal or notebook).
    failures : list, optional
        Gets a failure row for each listed item that is not a JSON object.
    """

    early: tuple[str, asyncio.Future[tuple[Page, Jobs]]] | None = None

    def start_early(url: str) -> OnHeaders:
        def on_headers(headers: Headers) -> None:
            nonlocal early
            upcoming = pager.peek(url, headers) if early is None else None
            if upcoming is not None:
                early = (upcoming, asyncio.ensure_future(read(upcoming)))

        return on_headers

    def reading(url: str) -> asyncio.Future[tuple[Page, Jobs]]:
        nonlocal early
        started, early = early, None
        if started is not None and started[0] == url:
            return started[1]
        if started is not None:
            started[1].cancel()  # the body named another next page than the header
            started[1].add_done_callback(_settle)
        return asyncio.ensure_future(read(url))

    async def read(url: str) -> tuple[Page, Jobs]:
        with clock.running():
            return await _read(get, complete, pager, url, start_early(url), failures)

    bar = progress_bar(progress, None, "listing jobs", stats)
    ahead: asyncio.Future[tuple[Page, Jobs]] | None = reading(pager.url)
    try:
        while ahead is not None:
            page, new = await ahead
            ahead = None
            kept, past = pager.window(new)
            stuck: PaginationError | None = None
            if page.items and not past:
                try:
                    if pager.advance(page):
                        ahead = reading(pager.url)
                except PaginationError as exc:
                    stuck = exc  # hand over this page's jobs first
            if kept:
                bar.update(len(kept), reached=_reached(kept))
                yield kept
            if stuck is not None:
                raise stuck
    finally:
        bar.close()
        pending = [f for f in (ahead, early[1] if early else None) if f is not None]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _read(
    get: Get,
    complete: Complete,
    pager: JobPager,
    url: str,
    on_headers: OnHeaders,
    failures: list[dict[str, Any]] | None,
) -> tuple[Page, Jobs]:
    """One listing page read: its answer, and its new jobs completed with their tasks;
    a row in ``failures`` for each listed item that is not a JSON object."""
    payload, headers = await get(url, on_headers)
    items, has_more, strays = read_page(payload, headers, url)
    if failures is not None:
        failures.extend(strays)
    new = await complete(pager.fresh(url, items))
    return Page(url, payload, headers, items, has_more), new


def _settle(future: asyncio.Future[Any]) -> None:
    """Retrieve a dropped page's outcome, so asyncio has no "never retrieved" to log."""
    if not future.cancelled():
        future.exception()


def _reached(jobs: Jobs) -> str | None:
    """'reached 2026-11-20 14:05 UTC': the creation time of a page's last job.

    Pages come in creation order (newest first by default), so this is the time span
    the listing has covered so far, where no total is known.
    """
    times = [t for t in (created_ms(j) for j in reversed(jobs)) if t is not None]
    if not times:
        return None
    return f"reached {dt.datetime.fromtimestamp(times[0] / 1000, dt.UTC):%Y-%m-%d %H:%M} UTC"
