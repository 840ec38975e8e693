"""Incremental sync of the API into a Parquet lake, with checkpoints.

The list API has no "updated since" filter, so a sync does two things:

1. walks the listing newest first, down to the newest job already in the lake (the
   *frontier*), writing what it finds in batches;
2. re-fetches by ID every job in the lake that is not finished (queued, processing or
   an unknown status). Finished jobs (succeeded, failed, cancelled) never change, so
   the lake is their cache and they are never requested again.

After each written batch the position of the walk is saved in the lake's manifest
(atomically, after the data), so a sync killed at any point resumes where it stopped
without fetching again what it already wrote.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import pandas as pd

from ittybit_frames.client import Client, check_job_id, records_of
from ittybit_frames.errors import ConfigurationError, InvalidJobIdError
from ittybit_frames.frames import to_frames
from ittybit_frames.lake import (
    DEFAULT_LOCK_TIMEOUT,
    PROFILES,
    LakeLock,
    WriteReport,
    lake_layout,
    lake_location,
    lock_lake,
    read_manifest,
    write_manifest,
    write_parquet,
)
from ittybit_frames.schema import (
    FAILURES,
    PROBLEMS,
    counted,
    describe_failures,
    failures_frame,
)
from ittybit_frames.sync_state import (
    advance,
    lake_jobs,
    load_state,
    padded_ids,
    plan_refresh,
    record_bound,
    recorded_bound,
    remember_padded_ids,
    save_state,
    walk_ends,
)
from ittybit_frames.vocabulary import (
    TERMINAL_STATUSES,
    category,
    created_ms,
    listing_filters,
    parse_when,
)

__all__ = ["SyncReport", "recorded_bound", "sync"]

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What a sync did, and where the lake stands.

    Attributes
    ----------
    new_jobs, updated_jobs, unchanged_jobs : int
        Jobs added to the lake, jobs whose newer version replaced the lake's, and jobs
        fetched again that had not changed.
    refreshed : int
        Unfinished lake jobs re-fetched by ID.
    failures : pandas.DataFrame
        Jobs that could not be fetched (``job_id, status_code, kind, message``).
    requests, retries : int
        HTTP requests made, and how many of them were retries.
    elapsed_seconds : float
    resumed : bool
        True when the sync continued an interrupted walk.
    lake_jobs : int
        Jobs in the lake afterwards.
    newest_created_at : pandas.Timestamp or None
        The lake's frontier afterwards.
    problems : list of str
        What the writes said was wrong with what they wrote and what they did about it,
        one line each (:attr:`WriteReport.problems`: rows set aside, tasks written with
        their job's values).
    data_problems : pandas.DataFrame
        What :func:`to_frames` found wrong in the jobs the sync wrote (a bad timestamp, a
        wrong-typed value, a record that is not a job; each kept as it says), with the
        columns of :attr:`JobFrames.problems`: the first :attr:`MAX_PROBLEM_ROWS` rows.
    data_problem_count : int
        How many there were in all.
    """

    #: At most this many rows of ``data_problems`` are kept (all are counted).
    MAX_PROBLEM_ROWS: ClassVar[int] = 1000

    new_jobs: int = 0
    updated_jobs: int = 0
    unchanged_jobs: int = 0
    refreshed: int = 0
    failures: pd.DataFrame = field(default_factory=FAILURES.empty)
    requests: int = 0
    retries: int = 0
    elapsed_seconds: float = 0.0
    resumed: bool = False
    lake_jobs: int = 0
    newest_created_at: pd.Timestamp | None = None
    problems: list[str] = field(default_factory=list)
    data_problems: pd.DataFrame = field(default_factory=PROBLEMS.empty)
    data_problem_count: int = 0

    def __repr__(self) -> str:
        newest = (
            f"{self.newest_created_at:%Y-%m-%d %H:%M} UTC"
            if self.newest_created_at is not None and not pd.isna(self.newest_created_at)
            else "none"
        )
        return (
            f"SyncReport({self.new_jobs:,} new, {self.updated_jobs:,} updated,"
            f" {self.unchanged_jobs:,} unchanged, {self.refreshed:,} refreshed;"
            f" {describe_failures(self.failures)};"
            f" {counted(self.requests, 'request')} ({counted(self.retries, 'retry', 'retries')})"
            f" in {self.elapsed_seconds:.1f} s{'; resumed' if self.resumed else ''};"
            + (f" {counted(len(self.problems), 'write problem')};" if self.problems else "")
            + (
                f" {counted(self.data_problem_count, 'data problem')};"
                if self.data_problem_count
                else ""
            )
            + f" lake {counted(self.lake_jobs, 'job')}, newest created {newest})"
        )

    def add(self, written: WriteReport) -> None:
        self.new_jobs += written.inserted
        self.updated_jobs += written.updated
        self.unchanged_jobs += written.unchanged
        self.problems += written.problems

    def add_data_problems(self, problems: pd.DataFrame) -> None:
        """Count a batch's :attr:`JobFrames.problems`, and keep its rows up to the bound."""
        self.data_problem_count += len(problems)
        room = self.MAX_PROBLEM_ROWS - len(self.data_problems)
        if room > 0 and not problems.empty:
            kept = [f for f in (self.data_problems, problems.head(room)) if not f.empty]
            self.data_problems = pd.concat(kept, ignore_index=True)


def sync(
    path: str | os.PathLike[str],
    *,
    client: Client | None = None,
    since: Any = None,
    kind: str | None = None,
    batch_jobs: int = 2000,
    profile: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    overlap_seconds: float = 300,
    **client_options: Any,
) -> SyncReport:
    """Bring a Parquet lake up to date with the API.

    Parameters
    ----------
    path : str or path
        The lake's root folder (created if needed), or its URL (``s3://bucket/prefix``,
        ``gs://...``, ``az://...``, ``file://...``).
    client : Client, optional
        A client to use (it stays open). Default: a new one from ``client_options``.
    since : datetime, str or int, optional
        How far back the first sync of the lake goes (``"30d"``, an ISO date...); it is
        recorded in the lake, and the first sync of another ``kind`` (or of all kinds)
        keeps to it too. Given again for a kind not synced yet, it is that kind's bound
        (the lake's stays; an interrupted first sync of it goes on down to it); for a
        kind already synced it is not used (the sync goes on from the kind's frontier).
        Default: an interrupted sync's bound, the lake's bound, or the whole history.
    kind : str, optional
        Sync only jobs of this kind (its own frontier is kept): a category or any
        version's word for one, as ``JobFrames.subset`` takes them (``ValueError`` for
        another). A category the listing does not filter by (``other``, ``probe``...) is
        applied to the listed jobs: the walk lists every kind and writes this one.
    batch_jobs : int, default 2000
        Jobs written (and checkpointed) at a time.
    profile : str, optional
        Parquet profile for a new lake (see :data:`ittybit_frames.lake.PROFILES`);
        a lake keeps its own profile and partitioning (another profile is refused).
    lock_timeout : float, default 60
        Seconds to wait for another writer of the lake; the sync holds the lake's lock
        from start to end.
    overlap_seconds : float, default 300
        How far below the newest job the last sync saw the listing is walked again, for
        jobs the API listed only after it (a late commit); they merge as unchanged.
    **client_options
        Passed to :class:`Client` (``api_key``, ``base_url``, ``concurrency``...).

    Returns a :class:`SyncReport`.
    """
    _check_options(client is not None and bool(client_options), batch_jobs, overlap_seconds)
    kind = None if kind is None else category(kind, field="kind")
    began = time.monotonic()
    root = lake_location(path)
    own = client is None
    active = client if client is not None else Client(**client_options)
    start_stats = active.stats
    report = SyncReport()
    try:
        with lock_lake(root, timeout=lock_timeout) as held:
            by_kind, _, kept = listing_filters(kind, None)
            out = _out(held, profile, report, kept.get("kind"), overlap_seconds)
            active._padded_ids.update(padded_ids(root))  # as the API keys them
            cut, unfinished = plan_refresh(root)
            listed = _walk(active, (kind, by_kind), parse_when(since), cut, batch_jobs, out)
            _refresh(active, [j for j in unfinished if j not in listed], batch_jobs, out)  # by ID
            lake = lake_jobs(root)
            still = lake["job_id"][~lake["status"].astype(str).isin(TERMINAL_STATUSES)]
            remember_padded_ids(root, active._padded_ids, set(still.astype(str)))
            _save_last_sync(root, report, active.stats.requests - start_stats.requests, began)
    finally:
        stats = active.stats
        if own:
            active.close()
    report.requests = stats.requests - start_stats.requests
    report.retries = stats.retries - start_stats.retries
    report.lake_jobs = len(lake)
    if len(lake):
        report.newest_created_at = pd.Timestamp(lake["created_at"].max())
    report.elapsed_seconds = time.monotonic() - began
    return report


def _out(
    held: LakeLock, profile: str | None, report: SyncReport, kind: str | None, overlap: float
) -> _Out:
    """Where and how this sync writes: in the lake's own layout (its profile and
    partitioning, also for a lake without its manifest); ``profile`` for a new lake."""
    layout = lake_layout(held.root)
    own = None if layout is None else layout.profile
    guessed = layout is not None and layout.guessed
    if own is not None and guessed and profile in PROFILES:
        # Guessed from the files, which tell only the default profile from the others
        # (their files are alike): a lost manifest's bigquery lake is synced as such.
        alike = PROFILES[profile].dictionary_categories == PROFILES[own].dictionary_categories
        own = profile if alike else own
    if profile is not None and own is not None and profile != own:
        raise ConfigurationError(
            f"the lake at {held.root} uses profile {own!r}, not {profile!r}: leave the "
            "profile out (a sync keeps the lake's), or sync into a new folder"
        )
    chosen = profile or own or "default"
    partition_by = "day" if layout is None else layout.partition_by
    if guessed:
        # Written down before any checkpoint: a manifest of the sync state alone would
        # read as a default, day-partitioned lake (as check --repair rebuilds it).
        write_manifest(held.root, {"partition_by": partition_by, "profile": chosen})
    # Past the package's whole range (2000-2100) an overlap is the whole listing: kept
    # a whole number of milliseconds (1e306 s is no number of them).
    overlap_ms = round(min(overlap, _WHOLE_RANGE_S) * 1000)
    return _Out(held, chosen, report, kind, overlap_ms, partition_by)


#: More seconds than 2000-2100 holds (see sync(overlap_seconds=)).
_WHOLE_RANGE_S = 1e10


def _check_options(both: bool, batch_jobs: int, overlap_seconds: float) -> None:
    if both:
        raise ConfigurationError("pass either client= or client options, not both")
    if batch_jobs < 1:
        raise ConfigurationError("batch_jobs must be at least 1")
    if not 0 <= overlap_seconds < math.inf:
        raise ConfigurationError("overlap_seconds must be 0 or more seconds")


def _save_last_sync(root: Path | str, report: SyncReport, requests: int, began: float) -> None:
    """What this sync did, in the manifest, for ``ittybit-frames info`` (lock held)."""
    manifest = read_manifest(root)
    if not manifest:
        return  # nothing was written: there is no lake to describe yet
    manifest["last_sync"] = {
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "new_jobs": report.new_jobs,
        "updated_jobs": report.updated_jobs,
        "unchanged_jobs": report.unchanged_jobs,
        "refreshed": report.refreshed,
        "failures": len(report.failures),
        "write_problems": len(report.problems),
        "data_problems": report.data_problem_count,
        "requests": requests,
        "seconds": round(time.monotonic() - began, 1),
    }
    write_manifest(root, manifest)


@dataclass(frozen=True)
class _Out:
    """Where a sync writes: the lake it holds, its profile, the report to add to; and
    how it walks: the kind it keeps, how far below a known end it goes."""

    held: LakeLock
    profile: str
    report: SyncReport
    kind: str | None = None  # a kind the listing does not filter by: kept here
    overlap_ms: int = 0  # see sync(overlap_seconds=)
    partition_by: Literal["day"] | None = "day"  # the lake's own

    @property
    def root(self) -> Path | str:
        return self.held.root

    def write(self, records: list[dict[str, Any]]) -> set[str]:
        """Write ``records`` (those of :attr:`kind`), returning the IDs written."""
        frames = to_frames(records_of([records]))
        if self.kind is not None:
            frames = frames.subset(kind=self.kind)
        if not frames.problems.empty:
            logger.warning(
                "%d data problems in this batch (kept, see SyncReport.data_problems)",
                len(frames.problems),
            )
            self.report.add_data_problems(frames.problems)
        written = write_parquet(
            frames,
            self.root,
            mode="merge",
            partition_by=self.partition_by,
            profile=self.profile,
            lock=self.held,
        )
        self.report.add(written)
        if self.kind is None:
            return {str(r["id"]) for r in records}
        return set(frames.jobs["job_id"].astype(str))


def _walk(
    client: Client,
    kinds: tuple[str | None, str | None],
    since_ms: int | None,
    cut: int | None,
    batch_jobs: int,
    out: _Out,
) -> set[str]:
    """Walk the listing newest first down to the frontier (or further, down to ``cut``,
    to re-read unfinished jobs); returns the IDs it wrote. ``kinds``: the kind synced
    (its frontier's key) and the listing's filter for it."""
    kind, by_kind = kinds
    key = kind or "*"
    root, report = out.root, out.report
    state = load_state(root)
    walk: dict[str, Any] | None = state["walks"].get(key)
    began = int(time.time() * 1000)  # no frontier moves past it: see advance
    known, bound, lower = walk_ends(
        state, key, since_ms, cut, unfiltered=out.kind is not None, overlap_ms=out.overlap_ms
    )
    if walk is not None:
        report.resumed = True
        logger.info("resuming an interrupted sync after job %s", walk["cursor"])
    newest: int | None = walk.get("newest") if walk else None
    reached: int | None = walk.get("reached") if walk else None  # checkpointed: see advance
    failed_before = len(client.walk_failures)
    buffer: list[dict[str, Any]] = []
    listed: set[str] = set()
    unusable: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal walk, newest
        if not buffer:
            return
        written = out.write(buffer)
        listed.update(written)
        if out.kind is not None:
            newest = _newest([j for j in buffer if j["id"] in written], newest)
        walk = {"cursor": _cursor(buffer, walk), "newest": newest, "lower": lower}
        walk |= ({"reached": reached} if reached is not None else {}) | (
            {"bound": bound} if known is None else {}
        )
        state["walks"][key] = walk
        save_state(root, state)  # after the data: a crash before this refetches the batch
        buffer.clear()

    # The walk goes on (a few pages ahead) while a batch is converted and written; it
    # stops when the loop ends, whatever ends it.
    ahead = client._pages_ahead(
        kind=by_kind,
        since=lower,
        order="desc",
        page_size=100,
        after=walk.get("cursor") if walk else None,
    )
    with contextlib.closing(ahead) as pages:
        for page in pages:
            if out.kind is None:  # else: of the kind's jobs, once written
                newest = _newest(page, newest)
            else:
                reached = _newest(page, reached)
            for job in page:
                if isinstance(job.get("id"), str):
                    buffer.append(job)
                else:  # a lake row is keyed by its id: say so rather than skip it silently
                    unusable.append(_unusable(job.get("id")))
            if len(buffer) >= batch_jobs:
                flush()
    flush()
    incomplete = client.walk_failures.iloc[failed_before:]  # listed, tasks not fetched
    _add_failures(report, incomplete, failures_frame(unusable))
    # The walk reached the old frontier (or its bound): only now may the frontier move.
    if known is None:
        record_bound(state, key, bound)
    advance(state, key, newest, reached, began=began)
    state["walks"].pop(key, None)
    save_state(root, state)
    return listed


def _add_failures(report: SyncReport, *more: pd.DataFrame) -> None:
    parts = [f for f in (report.failures, *more) if not f.empty]
    if parts:
        report.failures = pd.concat(parts, ignore_index=True)


def _newest(jobs: list[dict[str, Any]], newest: int | None) -> int | None:
    """The newest creation time among ``jobs`` and ``newest`` (a kind's frontier is its
    newest job's: ``check`` holds it to the lake's jobs of that kind)."""
    times = [t for t in map(created_ms, jobs) if t is not None]
    return max([*times, *([] if newest is None else [newest])], default=None)


def _cursor(written: list[dict[str, Any]], walk: dict[str, Any] | None) -> str | None:
    """Where a resumed walk starts: after the last job written whose id the client takes
    as a cursor (an id such as ``job ü/1`` would make every later sync fail); else where
    the previous checkpoint said (None: from the newest job, which the merge makes safe)."""
    for job in reversed(written):
        try:
            return check_job_id(job["id"])
        except InvalidJobIdError:
            continue
    return walk.get("cursor") if walk else None


def _unusable(job_id: Any) -> dict[str, Any]:
    return {
        "job_id": str(job_id)[:200],
        "status_code": None,
        "kind": "bad_payload",
        "message": f"a listed job has no usable id ({str(job_id)[:60]!r}): not written to the lake",
    }


def _refresh(client: Client, ids: list[str], batch_jobs: int, out: _Out) -> None:
    """Fetch by ID the unfinished jobs the walk did not reach, and write them whatever
    their kind (a sync of a listed kind does, as no listing left them out)."""
    report, out = out.report, replace(out, kind=None)
    failures = []
    for start in range(0, len(ids), batch_jobs):
        result = client.fetch_jobs(ids[start : start + batch_jobs])
        report.refreshed += len(result.jobs)
        if result.jobs:
            out.write(result.jobs)
        failures.append(result.failures)
    _add_failures(report, *failures)
