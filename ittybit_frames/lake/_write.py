"""``write_parquet``: overwrite, merge (upsert across partitions) and append, locked and
committed through :mod:`ittybit_frames.lake._commit`."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ittybit_frames.errors import ConfigurationError, LakeError
from ittybit_frames.frames import JobFrames
from ittybit_frames.lake._commit import Commit, OnStep
from ittybit_frames.lake._format import (
    INDEX,
    MANIFEST,
    PROFILES,
    TABLES,
    Profile,
    Rows,
    WriteReport,
    conform_arrow,
    day_labels,
    read_manifest,
    slices,
    sorted_rows,
    table_file,
    to_arrow,
)
from ittybit_frames.lake._index import INDEX_TABLE_KEY, row_hashes
from ittybit_frames.lake._keys import IDS_STRIPPED, by_key, ids_stripped, keyed
from ittybit_frames.lake._lock import DEFAULT_LOCK_TIMEOUT, LakeLock, lock_lake
from ittybit_frames.lake._parents import align_parents
from ittybit_frames.lake._remote import RemoteSource
from ittybit_frames.lake._remote import held as held_lease
from ittybit_frames.lake._remote_commit import RemoteCommit
from ittybit_frames.lake._source import LocalSource, Source, Staging
from ittybit_frames.lake._store import ObjectStore, is_remote, local_path
from ittybit_frames.lake._swap import Exchange, exchange_dirs
from ittybit_frames.machine import usable_cores
from ittybit_frames.schema import JOBS, SCHEMA_VERSION, TASKS, epoch_ms_array
from ittybit_frames.version import __version__

logger = logging.getLogger("ittybit_frames.lake")
_JOB_KEYS = ["created_at", "job_id"]
_TASK_KEYS = ["job_created_at", "job_id", "task_index"]


def write_parquet(
    frames: JobFrames,
    path: str | os.PathLike[str],
    *,
    mode: Literal["merge", "overwrite", "append"] = "merge",
    partition_by: Literal["day"] | None = "day",
    profile: str = "default",
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock: LakeLock | None = None,
    on_step: OnStep | None = None,
) -> WriteReport:
    """Write job frames to a Parquet lake, holding the lake's lock for the whole write.

    Parameters
    ----------
    frames : JobFrames
        From :func:`to_frames`, :func:`read_jobs` or :func:`read_parquet`.
    path : str or path
        The lake's root folder, or its URL: ``s3://bucket/prefix``, ``gs://...``,
        ``az://...``, ``file://...`` (see the README's "Remote lakes").
    mode : {"merge", "overwrite", "append"}
        ``merge`` upserts by job ID over the whole lake: one row per job, the newest
        ``updated_at`` (a tie: this write's row if it differs; a kept row dated after
        tomorrow gives way); a job whose creation day changed moves, with its tasks. Only
        the partitions it touches are rewritten; the same frames again change nothing. ``overwrite``
        replaces the whole lake (one row per job too) and resets its sync state;
        ``append`` adds rows without checks. A task is written with its job (its
        partition; the job's values as ``job_created_at``, ``job_kind``, ``job_status``,
        which hand-built frames may get wrong: ``WriteReport.problems`` says so).
    partition_by : {"day", None}
        ``day`` partitions by the job's UTC creation date (jobs without one go to
        ``created_date=__HIVE_DEFAULT_PARTITION__``); None writes one ``jobs.parquet``
        and one ``tasks.parquet``.
    profile : str
        One of :data:`PROFILES`: ``default``, ``spark``, ``bigquery``, ``athena``.
    lock_timeout : float, default 60
        Seconds to wait for another writer before :class:`LakeLockedError`.
    lock : LakeLock, optional
        A lock already held with :func:`lock_lake` (``sync`` holds one across batches).
    on_step : callable, optional
        Called with each step of the commit protocol (``staging``, ``staged``,
        ``committed``, ``applying``, ``applied``); for tests that interrupt a write.

    Returns
    -------
    WriteReport

    Raises
    ------
    LakeLockedError
        Another writer held the lake for more than ``lock_timeout`` seconds.
    LakeCorruptError
        The lake's manifest is unreadable (``ittybit-frames check LAKE --repair``).
    """
    began = time.monotonic()
    if mode not in ("merge", "overwrite", "append"):
        raise ConfigurationError("mode must be 'merge', 'overwrite' or 'append'")
    if partition_by not in ("day", None):
        raise ConfigurationError("partition_by must be 'day' or None")
    if profile not in PROFILES:
        raise ConfigurationError(f"unknown profile {profile!r}; use one of {sorted(PROFILES)}")
    if is_remote(path):
        store = ObjectStore.open(str(path))
        with held_lease(lock, store, lock_timeout) as lease:
            commit = RemoteCommit(store, lease.confirm, on_step)
            source = RemoteSource(store)
            manifest = read_manifest(store.url) or _old_layout(store.exists("jobs.parquet"))
            report = write_with(
                frames, commit, source, manifest, mode, partition_by, profile, store
            )
        report.elapsed_seconds = time.monotonic() - began
        return report
    root = local_path(path)
    held: contextlib.AbstractContextManager[LakeLock] = (
        contextlib.nullcontext(lock) if lock is not None else lock_lake(root, timeout=lock_timeout)
    )
    with held:
        report = write_locked(frames, root, mode, partition_by, profile, on_step)
    report.elapsed_seconds = time.monotonic() - began
    return report


def write_locked(
    frames: JobFrames,
    root: Path,
    mode: str,
    partition_by: str | None,
    profile: str,
    on_step: OnStep | None,
    exchange: Exchange = exchange_dirs,
) -> WriteReport:
    """``write_parquet`` with the lock held; ``exchange`` swaps the table folders."""
    # An overwrite replaces every partition: its twins need none of the old files.
    commit = Commit(root, on_step, exchange, "users" if mode == "overwrite" else "table")
    source = LocalSource(root)
    manifest = read_manifest(root) or _old_layout((root / "jobs.parquet").is_file())
    return write_with(frames, commit, source, manifest, mode, partition_by, profile, root)


def _old_layout(flat: bool) -> dict[str, Any]:
    """What a lake without its manifest (an old writer's) is taken to be: partitioned as
    its files are (``flat``: it holds ``jobs.parquet``)."""
    return {"partition_by": None} if flat else {}


def write_with(
    frames: JobFrames,
    commit: Staging,
    source: Source,
    manifest: dict[str, Any],
    mode: str,
    partition_by: str | None,
    profile: str,
    where: object,
) -> WriteReport:
    """One write, on disk or in an object store: plan it, stage it through ``commit``
    (reading ``source``), commit it; ``where`` names the lake in messages."""
    root = where
    if mode != "overwrite":
        refuse_newer(root, manifest)
        if manifest and manifest.get("partition_by", "day") != partition_by:
            raise ConfigurationError(
                f"the lake at {root} is partitioned by {manifest.get('partition_by')!r}; "
                "write with the same partition_by (or mode='overwrite' into a new folder)"
            )
        if manifest and manifest.get("profile", profile) != profile:
            raise ConfigurationError(
                f"the lake at {root} uses profile {manifest.get('profile')!r}; keep it, or "
                "rewrite the lake with mode='overwrite'"
            )
    prof = PROFILES[profile]
    report = WriteReport(root if isinstance(root, Path) else str(root), mode)
    plan = _Plan(commit, source, partition_by, prof, report)
    plan.ids["stripped"] = mode == "overwrite" or ids_stripped(manifest)
    frames, unkeyed, collided = keyed(frames)  # a lake row is keyed by its job's ID
    if mode != "append" or collided:
        frames = one_row_per_job(frames)
    frames, report.problems = align_parents(frames)  # a task lives with its job
    report.problems[:0] = unkeyed
    for line in report.problems:
        logger.warning("%s: %s", root, line)
    try:
        if mode == "overwrite":
            index = _overwrite(frames, plan)
            manifest = {}  # a new lake: the sync state described the old one
        else:
            index = _upsert(frames, plan, mode == "append")
        if commit.empty and manifest:
            return report  # nothing changed: leave every file alone
        _commit(plan, index, manifest)
    except BaseException:
        commit.discard()  # before the commit point: the lake is as it was, nothing left
        raise
    report.partitions.sort()
    return report


def _commit(plan: _Plan, index: pd.DataFrame | None, manifest: dict[str, Any]) -> None:
    """Stage the index and the manifest, then commit everything staged."""
    commit, root = plan.commit, plan.root
    if index is not None and commit.jobs_token() not in plan.indexed:
        commit.stage_bytes(index_bytes(index, commit.jobs_token()), root / INDEX)
    now = dt.datetime.now(dt.UTC).isoformat()
    body = {
        **{k: v for k, v in manifest.items() if k != IDS_STRIPPED},
        "partition_by": plan.partition_by,
        "profile": plan.profile.name,
        "updated_at": now,
        "schema_version": SCHEMA_VERSION,
        "package_version": __version__,
        **({IDS_STRIPPED: now} if plan.ids["stripped"] else {}),
    }
    commit.stage_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2), root / MANIFEST)
    commit.run()


def refuse_newer(root: object, manifest: dict[str, Any]) -> None:
    """A lake of a newer schema version is never merged into (it would be downgraded)."""
    version = manifest.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise LakeError(
            f"{_join(root, MANIFEST)} was written by a newer ittybit-frames (schema v{version}; "
            f"this one writes v{SCHEMA_VERSION}); upgrade ittybit-frames to write to this lake",
            path=str(root),
        )


def _join(root: object, name: str) -> str:
    return str(root / name) if isinstance(root, PurePath) else f"{root}/{name}"


def _label(partition: str | None) -> str:
    return "" if partition is None else partition


def _target(root: PurePath, name: str, label: str) -> PurePath:
    return table_file(root, name, label or None)


def index_bytes(index: pd.DataFrame, table: str) -> bytes:
    """The index file, recording the token of the ``jobs/`` table it describes."""
    sink = pa.BufferOutputStream()
    arrow = pa.table(
        {
            "job_id": pa.array(index["job_id"].astype(object), pa.string()),
            "partition": pa.array(index["partition"].astype(object), pa.string()),
            "updated_at": pa.array(index["updated_at"].to_numpy(dtype=np.float64)),
            "row_hash": pa.array(index["row_hash"].to_numpy(dtype=np.uint64)),
        }
    )
    arrow = arrow.replace_schema_metadata({INDEX_TABLE_KEY: table.encode()})
    pq.write_table(arrow, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _new_index(jobs: pd.DataFrame, labels: np.ndarray[Any, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "job_id": jobs["job_id"].astype(object).to_numpy(),
            "partition": labels.astype(object),
            "updated_at": epoch_ms_array(jobs["updated_at"]),
            "row_hash": row_hashes(jobs),
        }
    )


def _day_labels(jobs: pd.DataFrame, partition_by: str | None) -> np.ndarray[Any, Any]:
    if partition_by is None:
        return np.full(len(jobs), "", dtype=object)
    return day_labels(epoch_ms_array(jobs["created_at"]))


@dataclass(frozen=True)
class _Plan:
    """One write under way: where, how, and what it has done."""

    commit: Staging
    source: Source
    partition_by: str | None
    profile: Profile
    report: WriteReport
    indexed: set[str] = field(default_factory=set)  # the jobs/ tokens an index is staged for
    # {"stripped": True}: no padded job ID in the lake (keys.IDS_STRIPPED), so far as known
    ids: dict[str, bool] = field(default_factory=dict)

    @property
    def root(self) -> PurePath:
        return self.commit.root


def _workers() -> int:
    """Threads that encode partitions: one per core this process may run on (Parquet
    encoding releases the GIL; the fsyncs wait on threads of their own)."""
    return usable_cores()


def _overwrite(frames: JobFrames, plan: _Plan) -> pd.DataFrame:
    """Stage every new partition (a thread per core); remove the rest."""
    root, partition_by, profile, commit = plan.root, plan.partition_by, plan.profile, plan.commit
    report = plan.report
    job_parts = slices(to_arrow(frames.jobs, JOBS, profile), "created_at", _JOB_KEYS, partition_by)
    task_parts = slices(
        to_arrow(frames.tasks, TASKS, profile), "job_created_at", _TASK_KEYS, partition_by
    )
    none = np.arange(0)
    empty = {"jobs": Rows(to_arrow(JOBS.empty(), JOBS, profile), none)}
    empty["tasks"] = Rows(to_arrow(TASKS.empty(), TASKS, profile), none)
    work = []
    for part in sorted(set(job_parts) | set(task_parts), key=str):
        label = _label(part)
        for name, parts in (("tasks", task_parts), ("jobs", job_parts)):
            work.append((parts.get(part, empty[name]), _target(root, name, label)))
        report.partitions.append(part or "(all)")
        report.inserted += job_parts[part].num_rows if part in job_parts else 0
    with cf.ThreadPoolExecutor(max_workers=_workers()) as pool:
        futures = [pool.submit(_stage_rows, commit, r, t, profile) for r, t in work]
        # The index is staged while the files encode (Parquet encoding releases the GIL),
        # for the jobs/ this write will swap in (staged again at the end if it swaps none).
        index = _new_index(frames.jobs, _day_labels(frames.jobs, partition_by))
        token = commit.tokens["jobs"]
        commit.stage_bytes(index_bytes(index, token), root / INDEX)
        plan.indexed.add(token)
        for future in futures:
            future.result()
    commit.settle()
    report.jobs_written = report.inserted
    report.tasks_written = len(frames.tasks)
    keep = {t for _, t in work}
    for name in TABLES:
        for existing in plan.source.files(name):
            if existing not in keep:
                commit.delete(existing)
    return index


def _stage_rows(commit: Staging, rows: Rows, target: PurePath, profile: Profile) -> None:
    commit.stage_table(rows.table(), target, profile)  # gathered on the encoding thread


def newest_per_job(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per job ID: the newest ``updated_at``; on a tie, the later row."""
    jobs = jobs.dropna(subset=["job_id"])
    order = np.argsort(
        np.nan_to_num(epoch_ms_array(jobs["updated_at"]), nan=-np.inf), kind="stable"
    )
    return jobs.iloc[order].drop_duplicates("job_id", keep="last")


def one_row_per_job(frames: JobFrames) -> JobFrames:
    """``frames`` with one row per job ID (:func:`newest_per_job`) and the winning
    version's tasks (those born with it: same ``job_created_at``; one per index), for
    frames that hold a job twice (two sources concatenated by hand)."""
    jobs = frames.jobs.reset_index(drop=True)
    twice = jobs["job_id"].duplicated(keep=False) & jobs["job_id"].notna()
    if not twice.any():
        return frames
    winners = newest_per_job(jobs[twice])
    jobs = jobs[~twice | jobs.index.isin(winners.index)]
    tasks = frames.tasks.reset_index(drop=True)
    theirs = tasks["job_id"].isin(set(winners["job_id"]))
    ids = tasks.loc[theirs, "job_id"]
    born = pd.Series(epoch_ms_array(winners["created_at"]), index=winners["job_id"].to_numpy())
    want = born.reindex(ids.to_numpy()).to_numpy()
    have = epoch_ms_array(tasks.loc[theirs, "job_created_at"])
    match = pd.Series((want == have) | (np.isnan(want) & np.isnan(have)), index=ids.index)
    keep = match | ~match.groupby(ids).transform("any")  # none born with it: keep them
    mine = tasks.loc[keep[keep].index].drop_duplicates(["job_id", "task_index"], keep="last")
    tasks = pd.concat([tasks[~theirs], mine]).sort_index()
    return JobFrames(jobs, tasks, frames.problems)


_DAY_MS = 86_400_000


def _upsert(frames: JobFrames, plan: _Plan, append: bool) -> pd.DataFrame:
    """Merge (or append): rewrite the partitions the winning rows enter or leave."""
    partition_by, profile, report = plan.partition_by, plan.profile, plan.report
    index = plan.source.index()
    incoming = frames.jobs if append else newest_per_job(frames.jobs)
    labels = _day_labels(incoming, partition_by)
    new = _new_index(incoming, labels)
    lookup, padded = by_key(index, plan.ids["stripped"])  # an older writer's padded ID
    plan.ids["stripped"] = lookup is index  # none found: the next merge need not look
    known_rows = lookup.reindex(new["job_id"])
    known = known_rows["partition"].notna().to_numpy()
    if append:
        win = np.ones(len(new), dtype=bool)
    else:
        prev = known_rows["updated_at"].to_numpy(dtype=np.float64)
        # A version kept with an updated_at after tomorrow (a clock bug) gives way to
        # any other, or the API's correction of it would never be taken.
        with np.errstate(invalid="ignore"):
            prev = np.where(prev > time.time() * 1000 + _DAY_MS, np.nan, prev)
        cur = new["updated_at"].to_numpy(dtype=np.float64)
        tie = (cur == prev) | (np.isnan(cur) & np.isnan(prev))
        changed = known_rows["row_hash"].to_numpy() != new["row_hash"].to_numpy()
        with np.errstate(invalid="ignore"):
            win = ~known | (cur > prev) | (np.isnan(prev) & ~np.isnan(cur)) | (tie & changed)
    report.inserted += int((~known).sum()) if not append else len(new)
    report.updated += int((known & win).sum()) if not append else 0
    report.unchanged += int((known & ~win).sum())
    winners = incoming[win]
    where = pd.Series(labels[win], index=winners["job_id"].to_numpy(dtype=object))
    tasks = frames.tasks[frames.tasks["job_id"].isin(where.index)]
    task_labels = where.reindex(tasks["job_id"].to_numpy(dtype=object)).to_numpy(dtype=object)
    # Each job leaves the partition the index puts it in (cost: the partitions touched).
    leaving = pd.Series(winners["job_id"].to_numpy(dtype=object)[known[win]])
    if padded:
        leaving = leaving.replace(padded)  # as the files hold it
    leaving_from = known_rows["partition"].to_numpy(dtype=object)[win & known]
    in_jobs, in_tasks = to_arrow(winners, JOBS, profile), to_arrow(tasks, TASKS, profile)
    with cf.ThreadPoolExecutor(max_workers=_workers()) as pool:
        futures = []  # read one partition while the previous ones encode
        for label in sorted(set(labels[win]) | set(leaving_from)):
            gone = pa.array([] if append else leaving[leaving_from == label], pa.string())
            new_jobs = _partition_table(plan, "jobs", label, gone, in_jobs, labels[win] == label)
            new_tasks = _partition_table(plan, "tasks", label, gone, in_tasks, task_labels == label)
            futures += _stage_partition(plan, label, new_jobs, new_tasks, pool)
        for future in futures:
            future.result()
    plan.commit.settle()
    if append:
        return pd.concat([index.reset_index(), new], ignore_index=True).drop_duplicates(
            "job_id", keep="last"
        )
    gone = index.index.isin(where.index)
    if padded:
        gone |= index.index.isin(leaving)  # their rows left under the padded ID
    kept = index[~gone].reset_index()
    return pd.concat([kept, new[win]], ignore_index=True)


def _partition_table(
    plan: _Plan,
    name: str,
    label: str,
    gone: pa.Array,
    incoming: pa.Table,
    mine: np.ndarray[Any, Any],
) -> pa.Table:
    """A partition's old rows without the jobs that leave it, plus its incoming rows."""
    schema = incoming.schema
    target = _target(plan.root, name, label)
    parts = [incoming.filter(pa.array(mine, pa.bool_()))]
    found = plan.source.read(target)
    if found is not None:
        old = conform_arrow(found, schema)  # an older writer's file too
        if len(gone):
            old = old.filter(pc.invert(pc.is_in(old["job_id"], value_set=gone)))
        parts.insert(0, old)
    keys = _TASK_KEYS if name == "tasks" else _JOB_KEYS
    table = pa.concat_tables(parts)
    return sorted_rows(table, keys).table() if table.num_rows else table


def _stage_partition(
    plan: _Plan, label: str, jobs_a: pa.Table, tasks_a: pa.Table, pool: cf.Executor
) -> list[cf.Future[None]]:
    """Stage a partition's two files on ``pool`` (or its removal, when it is empty)."""
    root, commit, report = plan.root, plan.commit, plan.report
    targets = [_target(root, name, label) for name in ("tasks", "jobs")]
    if jobs_a.num_rows == 0 and tasks_a.num_rows == 0:
        for target in targets:  # every job moved out: the partition goes
            if plan.source.exists(target):
                commit.delete(target)
        report.partitions.append(label or "(all)")
        return []
    report.jobs_written += jobs_a.num_rows
    report.tasks_written += tasks_a.num_rows
    report.partitions.append(label or "(all)")
    return [
        pool.submit(commit.stage_table, tasks_a, targets[0], plan.profile),
        pool.submit(commit.stage_table, jobs_a, targets[1], plan.profile),
    ]
