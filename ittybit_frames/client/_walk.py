"""The walk of the job listing, pipelined: the next page is on its way while this one is used.

A walk is a round trip per page; the consumer's work on a page (converting, writing)
would add to each one. So as soon as a page is read and the next URL known, the request
for the next page starts in a task, and only then is the page handed over: a full walk
approaches one page per round trip (BENCHMARKS.md). :class:`JobPager` decides where to
go and ends the walk when the server loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import httpx

from ittybit_frames.client._paging import JobPager, Page, read_page
from ittybit_frames.client._results import Stopwatch
from ittybit_frames.client._runtime import progress_bar
from ittybit_frames.errors import PaginationError

__all__ = ["walk_pages"]

Jobs = list[dict[str, Any]]
Get = Callable[[str], Awaitable[tuple[Any, httpx.Headers]]]
Complete = Callable[[Jobs], Awaitable[Jobs]]


async def walk_pages(
    get: Get, complete: Complete, pager: JobPager, clock: Stopwatch, *, progress: bool | None
) -> AsyncGenerator[Jobs, None]:
    """Yield the new jobs of each page inside the pager's time window, in order.

    Parameters
    ----------
    get : async callable
        ``get(url)`` is the decoded body and the headers of ``GET url``.
    complete : async callable
        Given the jobs of a page, returns them with their tasks (fetched when missing).
    pager : JobPager
        Where to start, how to go on; it raises :class:`PaginationError` on a loop.
    clock : Stopwatch
        Counts the time spent waiting for pages.
    progress : bool or None
        Progress bar on stderr (None: only in a terminal or notebook).
    """

    async def read(url: str) -> tuple[Page, Jobs]:
        with clock.running():
            payload, headers = await get(url)
            items, has_more = read_page(payload, headers)
            new = await complete(pager.fresh(url, items))
        return Page(url, payload, headers, items, has_more), new

    bar = progress_bar(progress, None, "listing jobs")
    ahead: asyncio.Future[tuple[Page, Jobs]] | None = asyncio.ensure_future(read(pager.url))
    try:
        while ahead is not None:
            page, new = await ahead
            ahead = None
            kept, past = pager.window(new)
            stuck: PaginationError | None = None
            if page.items and not past:
                try:
                    if pager.advance(page):
                        ahead = asyncio.ensure_future(read(pager.url))
                except PaginationError as exc:
                    stuck = exc  # hand over this page's jobs first
            if kept:
                bar.update(len(kept))
                yield kept
            if stuck is not None:
                raise stuck
    finally:
        bar.close()
        if ahead is not None:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)
