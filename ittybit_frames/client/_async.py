"""The asynchronous client: the parts of the client package, composed.

:class:`AsyncClient` owns the settings, the counters and the public calls; one request
is :class:`~ittybit_frames.client._request.Requester`'s job (under the retry policy of
:mod:`~ittybit_frames.client._retry`), walking the listing is
:func:`~ittybit_frames.client._walk.walk_pages`' with the paginators of
:mod:`~ittybit_frames.client._paging`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any, Literal, cast

import pandas as pd

from ittybit_frames.client._config import (
    ClientOptions,
    check_job_id,
    check_job_ids,
    clean_job_id,
    padded_ids,
    raw_id_path,
    resolve_base_url,
    resolve_key,
    takes_options,
)
from ittybit_frames.client._decode import job_object
from ittybit_frames.client._paging import JobPager, JobQuery
from ittybit_frames.client._request import Requester
from ittybit_frames.client._results import ClientStats, FetchResult, Stopwatch
from ittybit_frames.client._runtime import for_each, progress_bar
from ittybit_frames.client._transport import Headers
from ittybit_frames.client._walk import OnHeaders, walk_pages
from ittybit_frames.errors import (
    AuthenticationError,
    ConfigurationError,
    IttybitError,
    NotFoundError,
)
from ittybit_frames.schema import failures_frame

__all__ = ["AsyncClient", "unique_ids"]

logger = logging.getLogger(__name__)


class AsyncClient:
    """Asynchronous client for the ittybit jobs API.

    Parameters
    ----------
    api_key : str, optional
        Project API key. Default: the ``ITTYBIT_API_KEY`` environment variable.
    base_url : str, optional
        Default: ``ITTYBIT_BASE_URL``, else ``https://api.ittybit.com``. Plain ``http://``
        is accepted only for loopback addresses.
    timeout : float, default 30
        Seconds for one request, connection included.
    max_attempts, max_retry_time : int, float
        Per request: attempts, the first included (default 8), and the most seconds
        spent retrying (default 300).
    backoff_initial, backoff_max : float
        Jittered exponential backoff between attempts: first wait, longest wait (s).
    max_retry_after : float, default 60
        Longest ``Retry-After`` honoured, in seconds.
    concurrency : int, default 16
        Requests in flight at once.
    rate_limit : float, optional
        Client-side cap, requests per second (never exceeded; lowered after a 429).
    progress : bool, optional
        Progress bar on stderr. Default: only in a terminal or notebook.
    transport : httpx.AsyncBaseTransport, optional
        Replace the network layer (tests, proxies). Default: :class:`WireTransport`.
    api_version : str, optional
        Sent as ``Accept-Version``. Default: ``ITTYBIT_API_VERSION``, else none.
    sleep : async callable, optional
        Waits a server's ``Retry-After``; default :func:`asyncio.sleep` (tests pass a fake).

    Raises
    ------
    ConfigurationError
        No API key, or an unsafe or malformed base URL (scheme, host, port).
    """

    @takes_options(ClientOptions)
    def __init__(self, options: ClientOptions) -> None:
        self._setup(options)

    @classmethod
    def _from_options(cls, options: ClientOptions) -> AsyncClient:
        """A client from options already built (by :class:`Client`, which takes the same)."""
        client = cls.__new__(cls)
        client._setup(options)
        return client

    def _setup(self, options: ClientOptions) -> None:
        self._key = resolve_key(options.api_key)
        self.base_url = resolve_base_url(options.base_url)
        self.concurrency = options.concurrency
        self.progress = options.progress
        self._stats = ClientStats()
        self._http = Requester(self.base_url, self._key, options, self._stats)
        self._clock = Stopwatch(self._stats)
        self._walk_failures: list[dict[str, Any]] = []
        # {ID as requested: ID as the API or the caller gave it} for padded IDs: a job
        # the API keys by its padded ID is requested by it when the plain one is a 404.
        self._padded: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={self._key!r})"

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters (see :class:`ClientStats`)."""
        return replace(self._stats)

    @property
    def walk_failures(self) -> pd.DataFrame:
        """A failure row for each listed job whose tasks could not be fetched by ID, over
        every listing walk of this client (the job itself was yielded as listed).
        ``read_jobs`` and ``sync`` report those of their own walk."""
        return failures_frame(list(self._walk_failures))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a transport passed in stays the caller's)."""
        await self._http.aclose()

    def _close_now(self) -> None:
        """Close what an interrupted :meth:`aclose` left open, from any thread."""
        self._http.close_now()

    async def get_job(self, job_id: str) -> dict[str, Any]:
        """Fetch one job with its tasks (``GET /jobs/{id}``).

        Raises
        ------
        InvalidJobIdError
            ``job_id`` has characters that could change the request path.
        NotFoundError, AuthenticationError, APIError, NetworkError
            After retries where retrying makes sense.
        """
        job_id = clean_job_id(job_id)
        with self._clock.running():
            return await self._get_job(job_id)

    async def _get_job(self, job_id: str) -> dict[str, Any]:
        """:meth:`get_job` of an ID already cleaned, under a stopwatch already running."""
        job_id = check_job_id(job_id)
        url = f"{self.base_url}/jobs/{job_id}"
        try:
            payload, _ = await self._http.get(url)
        except NotFoundError:
            raw = self._padded.get(job_id)
            if raw is None:
                raise
            url = f"{self.base_url}/jobs/{raw_id_path(job_id, raw)}"
            payload, _ = await self._http.get(url)
        return job_object(payload, job_id, url)

    async def fetch_jobs(
        self, ids: Iterable[str], *, errors: Literal["collect", "raise"] = "collect"
    ) -> FetchResult:
        """Fetch many jobs by ID, ``concurrency`` at a time.

        Parameters
        ----------
        ids : iterable of str
            Job IDs; repeats are fetched once. Whitespace and a BOM around an ID are
            dropped, blank IDs skipped, numbers taken as strings.
        errors : {"collect", "raise"}
            ``collect`` records per-ID failures (not found, invalid ID, retries used up)
            in ``FetchResult.failures`` and goes on; ``raise`` raises the first.
            A rejected API key (401/403) always stops the whole fetch.

        Returns
        -------
        FetchResult
        """
        if errors not in ("collect", "raise"):
            raise ConfigurationError("errors must be 'collect' or 'raise'")
        check_job_ids(ids)
        unique = unique_ids(self._padded, ids)
        with self._clock.running():
            found, failed = await _fetch_each(
                self._get_job, unique, errors, self.concurrency, self.progress, self._stats
            )
        return _result(unique, found, failed, self.stats)

    @takes_options(JobQuery)
    def iter_pages(self, query: JobQuery) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Like :meth:`iter_jobs` (see there), one list per page of the listing."""
        return self._pages(query)

    @takes_options(JobQuery)
    async def iter_jobs(self, query: JobQuery) -> AsyncIterator[dict[str, Any]]:
        """Walk the job listing lazily, following the API's cursor.

        Parameters
        ----------
        kind, status : str, optional
            Filters passed to the API.
        since, until : datetime, str or int, optional
            Keep jobs created at or after ``since`` and before ``until`` (ISO, epoch,
            or spans like ``"7d"``). Walking newest first, the walk stops at ``since``.
        order : {"desc", "asc"}
            Newest first (the API's default) or oldest first.
        page_size : int, default 100
            Jobs per request (1-100).
        after : str, optional
            Resume the walk after this job ID (the API's cursor).

        Yields
        ------
        dict
            Jobs with their tasks (fetched by ID when the listing leaves them out),
            each once, even when the listing moves under the walk.

        Raises
        ------
        PaginationError
            The server repeats a page or a next link: the walk would never end.
        """
        async for page in self._pages(query):
            for job in page:
                yield job

    def _pages(self, query: JobQuery) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The one walk of the listing, for every listing call of both clients."""
        complete = functools.partial(_complete, self.fetch_jobs, self._walk_failures)
        pager = JobPager(self.base_url, query)
        return walk_pages(
            functools.partial(_listed, self),
            complete,
            pager,
            self._clock,
            progress=self.progress,
            stats=self._stats,
            failures=self._walk_failures,
        )


def unique_ids(padded: dict[str, str], ids: Iterable[Any]) -> list[str]:
    """The IDs to request, each once, cleaned (the padded ones remembered in ``padded``)."""
    ids = list(ids)
    padded.update(padded_ids(ids))
    return list(dict.fromkeys(c for c in map(clean_job_id, ids) if c != ""))


async def _listed(
    client: AsyncClient, url: str, on_headers: OnHeaders | None
) -> tuple[Any, Headers]:
    """A listing page's answer, the padded IDs of its jobs remembered."""
    payload, headers = await client._http.get(url, on_headers)
    items = payload.get("data") if isinstance(payload, dict) else payload
    if isinstance(items, list):
        client._padded.update(padded_ids(j.get("id") for j in items if isinstance(j, dict)))
    return payload, headers


def _result(
    ids: list[str],
    found: dict[str, dict[str, Any]],
    failed: list[dict[str, Any]],
    stats: ClientStats,
) -> FetchResult:
    if failed:
        logger.warning("%d of %d jobs could not be fetched", len(failed), len(ids))
    return FetchResult([found[j] for j in ids if j in found], failures_frame(failed), stats)


async def _fetch_each(
    get_job: Callable[[str], Awaitable[dict[str, Any]]],
    ids: list[str],
    errors: Literal["collect", "raise"],
    concurrency: int,
    progress: bool | None,
    stats: ClientStats | None = None,
    *,
    gate: Callable[[], Awaitable[object]] | None = None,
    keep: bool = True,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Jobs found by ID (none kept without ``keep``: ``get_job`` hands them on), and a
    failure row per ID that could not be fetched. ``gate``: see :func:`for_each`."""
    found: dict[str, dict[str, Any]] = {}
    failed: list[dict[str, Any]] = []
    bar = progress_bar(progress, len(ids), "fetching jobs", stats)

    async def fetch_one(jid: str) -> None:
        try:
            job = await get_job(jid)
            if keep:
                found[jid] = job
        except AuthenticationError:
            raise
        except IttybitError as exc:
            if errors == "raise":
                raise
            failed.append(_failure_row(jid, exc))
        bar.update(1)

    try:
        await for_each(ids, fetch_one, concurrency, gate)
    finally:
        bar.close()
    return found, failed


async def _complete(
    fetch_jobs: Callable[..., Awaitable[FetchResult]],
    failures: list[dict[str, Any]],
    items: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Fetch by ID the listed jobs that came without ``tasks``; add a row to
    ``failures`` for each that could not be fetched (it stays as listed)."""
    missing = [j["id"] for j in items if "tasks" not in j and isinstance(j.get("id"), str)]
    if not missing:
        return items
    result = await fetch_jobs(missing, errors="collect")
    failures.extend(cast(list[dict[str, Any]], result.failures.to_dict("records")))
    full = {j.get("id"): j for j in result.jobs}
    return [full.get(j.get("id"), j) for j in items]


def _failure_row(job_id: str, exc: Exception) -> dict[str, Any]:
    return {
        "job_id": str(job_id),
        "status_code": getattr(exc, "status_code", None),
        "kind": getattr(exc, "kind", None) or type(exc).__name__,
        "message": str(exc),
    }
