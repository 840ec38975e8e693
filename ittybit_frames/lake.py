"""The Parquet lake: write, merge and read job frames, atomically and BI-safe.

Layout::

    path/_ittybit_frames.json                         schema version, sync state
    path/jobs/created_date=YYYY-MM-DD/part-0.parquet  one file per day (UTC)
    path/tasks/created_date=YYYY-MM-DD/part-0.parquet tasks, by their job's day

A job and its tasks always live in the same day partition. Files are written against the
pinned Arrow schema of :mod:`ittybit_frames.schema` (all-null columns keep their type),
sorted by ``created_at``, zstd-compressed, with timestamps as INT64 milliseconds marked
``isAdjustedToUTC=true`` (never nanoseconds, which Spark, Athena and Power BI reject).

Every file is written under a hidden temporary name in its own directory and moved into
place with :func:`os.replace`, so readers (ours, DuckDB, Spark...) see the old file or
the new one, never half of one; a crash at any point leaves the previous state readable.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ittybit_frames.errors import ConfigurationError
from ittybit_frames.frames import JobFrames
from ittybit_frames.schema import (
    ARROW_TO_PANDAS,
    JOBS,
    PROBLEMS,
    SCHEMA_VERSION,
    TASKS,
    Table,
    epoch_ms_array,
)
from ittybit_frames.version import __version__
from ittybit_frames.vocabulary import canonical_kind, canonical_status, parse_when

__all__ = [
    "PROFILES",
    "Profile",
    "WriteReport",
    "read_manifest",
    "read_parquet",
    "write_manifest",
    "write_parquet",
]

logger = logging.getLogger(__name__)

MANIFEST = "_ittybit_frames.json"
PARTITION = "created_date"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for "no value": Spark/Athena know it
_FILE = "part-0.parquet"


@dataclass(frozen=True)
class Profile:
    """How files are written for a family of readers."""

    name: str
    compression: str
    dictionary_categories: bool
    notes: str


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "default",
            "zstd",
            True,
            "pyarrow, pandas, DuckDB, Polars, Spark 3.2+: zstd, dictionary-encoded "
            "categories, INT64 ms timestamps (UTC)",
        ),
        Profile(
            "spark",
            "snappy",
            False,
            "Spark 3.x (any build): snappy, categories as plain strings, INT64 ms "
            "timestamps read as TimestampType in the session time zone",
        ),
        Profile(
            "bigquery",
            "snappy",
            False,
            "BigQuery load jobs: snappy; TIMESTAMP(MILLIS, UTC) loads as TIMESTAMP; "
            "strings, not dictionary columns",
        ),
        Profile(
            "athena",
            "snappy",
            False,
            "Athena engine v3 / Trino: snappy, plain strings, INT64 ms timestamps "
            "(declare them `timestamp` in the table DDL)",
        ),
    )
}


@dataclass
class WriteReport:
    """What a write did."""

    path: Path
    mode: str
    jobs_written: int = 0
    tasks_written: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    partitions: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------
def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The lake's ``_ittybit_frames.json`` (empty dict when there is none yet)."""
    target = Path(path) / MANIFEST
    if not target.exists():
        return {}
    data: dict[str, Any] = orjson.loads(target.read_bytes())
    return data


def write_manifest(path: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically."""

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    body = {**manifest, "schema_version": SCHEMA_VERSION, "package_version": __version__}
    write_bytes_atomic(root / MANIFEST, orjson.dumps(body, option=orjson.OPT_INDENT_2))


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write a small file whole or not at all: a temporary name, fsync, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------
# Frames <-> Arrow
# --------------------------------------------------------------------------------------
def _arrow_schema(table: Table, profile: Profile) -> pa.Schema:
    fields = []
    for column in table.columns:
        arrow_type = column.arrow_type if profile.dictionary_categories else column.arrow
        fields.append(pa.field(column.name, arrow_type))
    return pa.schema(fields)


def _to_arrow(frame: pd.DataFrame, table: Table, profile: Profile) -> pa.Table:
    schema = _arrow_schema(table, profile)
    arrays = []
    for column in table.columns:
        series = frame[column.name]
        if column.categories is not None:
            # A pandas Categorical converts to a dictionary array without a copy of strings.
            values = pa.array(series.astype(column.dtype), from_pandas=True)
            arrays.append(values.cast(schema.field(column.name).type))
        else:
            arrays.append(pa.array(series, type=column.arrow, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _from_arrow(arrow: pa.Table, table: Table) -> pd.DataFrame:
    columns = [c for c in table.names if c in arrow.column_names]
    arrow = arrow.select(columns)
    cast = []
    for name in columns:
        col = arrow[name]
        column = table[name]
        if column.categories is not None:
            cast.append(col.cast(pa.string()))
        else:
            cast.append(col.cast(column.arrow))
    arrow = pa.Table.from_arrays(cast, names=columns)
    frame: pd.DataFrame = arrow.to_pandas(
        types_mapper=ARROW_TO_PANDAS.get, coerce_temporal_nanoseconds=False
    )
    for name in columns:
        column = table[name]
        if column.categories is not None:
            frame[name] = pd.Categorical(
                frame[name].astype(object), categories=list(column.categories)
            )
    return frame


def _file(root: Path, name: str, partition: str | None) -> Path:
    if partition is None:
        return root / f"{name}.parquet"
    return root / name / f"{PARTITION}={partition}" / _FILE


def _write_file(
    arrow: pa.Table, target: Path, profile: Profile, extra_meta: dict[str, str]
) -> None:

    target.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        **(arrow.schema.metadata or {}),
        b"ittybit_frames.schema_version": str(SCHEMA_VERSION).encode(),
        b"ittybit_frames.package_version": __version__.encode(),
        b"ittybit_frames.written_at": dt.datetime.now(dt.UTC).isoformat().encode(),
        **{k.encode(): v.encode() for k, v in extra_meta.items()},
    }
    arrow = arrow.replace_schema_metadata(meta)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):  # left by a killed writer
        with contextlib.suppress(OSError):
            stale.unlink()
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(
            arrow,
            tmp,
            compression=profile.compression,
            version="2.6",
            coerce_timestamps="ms",
            allow_truncated_timestamps=False,
            use_dictionary=True,
            write_statistics=True,
            row_group_size=128 * 1024,
        )
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def _sort(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Write
# --------------------------------------------------------------------------------------
def write_parquet(
    frames: JobFrames,
    path: str | os.PathLike[str],
    *,
    mode: Literal["merge", "overwrite", "append"] = "merge",
    partition_by: Literal["day"] | None = "day",
    profile: str = "default",
) -> WriteReport:
    """Write job frames to a Parquet lake.

    Parameters
    ----------
    frames : JobFrames
        From :func:`to_frames`, :func:`read_jobs` or :func:`read_parquet`.
    path : str or path
        The lake's root folder.
    mode : {"merge", "overwrite", "append"}
        ``merge`` upserts by job ID, keeping the record with the newest ``updated_at``
        (a job's tasks follow its winning record); only the day partitions the frames
        touch are rewritten, and writing the same frames again changes nothing.
        ``overwrite`` replaces the whole lake; ``append`` adds rows without checks.
    partition_by : {"day", None}
        ``day`` partitions by the job's UTC creation date; None writes one
        ``jobs.parquet`` and one ``tasks.parquet``.
    profile : str
        One of :data:`PROFILES`: ``default``, ``spark``, ``bigquery``, ``athena``.

    Returns
    -------
    WriteReport
    """
    began = time.monotonic()
    if mode not in ("merge", "overwrite", "append"):
        raise ConfigurationError("mode must be 'merge', 'overwrite' or 'append'")
    if partition_by not in ("day", None):
        raise ConfigurationError("partition_by must be 'day' or None")
    if profile not in PROFILES:
        raise ConfigurationError(f"unknown profile {profile!r}; use one of {sorted(PROFILES)}")
    prof = PROFILES[profile]
    root = Path(path)
    manifest = read_manifest(root)
    if manifest and manifest.get("partition_by", "day") != partition_by:
        raise ConfigurationError(
            f"the lake at {root} is partitioned by {manifest.get('partition_by')!r}; "
            "write with the same partition_by (or mode='overwrite' into a new folder)"
        )
    if manifest and manifest.get("profile", profile) != profile and mode != "overwrite":
        raise ConfigurationError(
            f"the lake at {root} uses profile {manifest.get('profile')!r}; keep it, or "
            "rewrite the lake with mode='overwrite'"
        )
    report = WriteReport(root, mode)
    # Convert and sort once, in Arrow; each partition is then a contiguous slice.
    job_parts = _slices(
        _to_arrow(frames.jobs, JOBS, prof), "created_at", ["created_at", "job_id"], partition_by
    )
    task_parts = _slices(
        _to_arrow(frames.tasks, TASKS, prof),
        "job_created_at",
        ["job_created_at", "job_id", "task_index"],
        partition_by,
    )
    if mode == "overwrite":
        _overwrite(job_parts, task_parts, root, prof, report)
    else:
        for partition in sorted(set(job_parts) | set(task_parts), key=str):
            _write_partition(
                root,
                partition,
                job_parts.get(partition),
                task_parts.get(partition),
                prof,
                mode,
                report,
            )
    write_manifest(
        root,
        {
            **manifest,
            "partition_by": partition_by,
            "profile": profile,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
    report.elapsed_seconds = time.monotonic() - began
    return report


def _slices(
    table: pa.Table, time_column: str, keys: list[str], partition_by: str | None
) -> dict[str | None, pa.Table]:
    """Partition -> its rows, sorted by ``keys`` (nulls last).

    ``keys`` start with the time column, so once sorted each UTC day is one contiguous
    run of rows (days without a time sort last): no separate partition sort is needed.
    """
    table = table.sort_by([(k, "ascending") for k in keys])
    if partition_by is None:
        return {None: table}
    epoch = table[time_column].cast(pa.int64()).to_numpy(zero_copy_only=False)
    day = np.where(np.isnan(epoch), -1, np.floor_divide(np.nan_to_num(epoch), 86_400_000))
    starts = [0, *(np.flatnonzero(day[1:] != day[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(day)]
    out: dict[str | None, pa.Table] = {}
    for a, b in zip(starts, ends, strict=True):
        if b > a:
            label = (
                NULL_PARTITION
                if day[a] < 0
                else (dt.date(1970, 1, 1) + dt.timedelta(days=int(day[a]))).isoformat()
            )
            out[label] = table.slice(a, b - a)
    return out


def _read_file(target: Path, table: Table) -> pd.DataFrame:
    if not target.exists():
        return table.empty()
    return _from_arrow(pq.read_table(target), table)


def _write_partition(
    root: Path,
    partition: str | None,
    jobs: pa.Table | None,
    tasks: pa.Table | None,
    profile: Profile,
    mode: str,
    report: WriteReport,
) -> None:
    jobs_file, tasks_file = _file(root, "jobs", partition), _file(root, "tasks", partition)
    fresh = not jobs_file.exists() and not tasks_file.exists()
    n_jobs = 0 if jobs is None else jobs.num_rows
    unique = jobs is None or pc.count_distinct(jobs["job_id"]).as_py() == n_jobs
    if fresh and (mode == "append" or unique):
        # A new partition: the sorted slices are written as they are.
        new_jobs_a = jobs if jobs is not None else _to_arrow(JOBS.empty(), JOBS, profile)
        new_tasks_a = tasks if tasks is not None else _to_arrow(TASKS.empty(), TASKS, profile)
        report.inserted += n_jobs
    else:
        old_jobs, old_tasks = _read_file(jobs_file, JOBS), _read_file(tasks_file, TASKS)
        in_jobs = _from_arrow(jobs, JOBS) if jobs is not None else JOBS.empty()
        in_tasks = _from_arrow(tasks, TASKS) if tasks is not None else TASKS.empty()
        if mode == "append":
            new_jobs = pd.concat([old_jobs, in_jobs], ignore_index=True)
            new_tasks = pd.concat([old_tasks, in_tasks], ignore_index=True)
            report.inserted += len(in_jobs)
        else:
            merged = _merge(old_jobs, old_tasks, in_jobs, in_tasks, report)
            if merged is None:
                return  # nothing changed: leave the files alone
            new_jobs, new_tasks = merged
        new_jobs_a = _to_arrow(_sort(new_jobs, ["created_at", "job_id"]), JOBS, profile)
        new_tasks_a = _to_arrow(
            _sort(new_tasks, ["job_created_at", "job_id", "task_index"]), TASKS, profile
        )
    # Tasks first: a reader that sees the new jobs file can rely on their tasks.
    _write_file(new_tasks_a, tasks_file, profile, {})
    _write_file(new_jobs_a, jobs_file, profile, {})
    report.jobs_written += new_jobs_a.num_rows
    report.tasks_written += new_tasks_a.num_rows
    report.partitions.append(partition or "(all)")


def _merge(
    old_jobs: pd.DataFrame,
    old_tasks: pd.DataFrame,
    jobs: pd.DataFrame,
    tasks: pd.DataFrame,
    report: WriteReport,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Upsert by job_id: the newest updated_at wins; on a tie the lake keeps its row."""
    incoming = jobs.dropna(subset=["job_id"]).drop_duplicates("job_id", keep="last")
    old_updated = pd.Series(
        epoch_ms_array(old_jobs["updated_at"]), index=old_jobs["job_id"].to_numpy(dtype=object)
    )
    ids = incoming["job_id"].to_numpy(dtype=object)
    known = pd.Index(ids).isin(old_updated.index)
    previous = old_updated.reindex(ids).to_numpy(dtype=np.float64)
    current = epoch_ms_array(incoming["updated_at"])
    # Newer wins; a record with an updated_at beats one without; unknown IDs are new.
    with np.errstate(invalid="ignore"):
        newer = ~known | (current > previous) | (np.isnan(previous) & ~np.isnan(current))
    replace = incoming[newer]
    report.inserted += int((~known).sum())
    report.updated += int((known & newer).sum())
    report.unchanged += int((known & ~newer).sum())
    if replace.empty:
        return None
    replaced = set(replace["job_id"])
    kept_jobs = old_jobs[~old_jobs["job_id"].isin(replaced)]
    kept_tasks = old_tasks[~old_tasks["job_id"].isin(replaced)]
    new_tasks = tasks[tasks["job_id"].isin(replaced)]
    return (
        pd.concat([kept_jobs, replace], ignore_index=True),
        pd.concat([kept_tasks, new_tasks], ignore_index=True),
    )


def _overwrite(
    job_parts: dict[str | None, pa.Table],
    task_parts: dict[str | None, pa.Table],
    root: Path,
    profile: Profile,
    report: WriteReport,
) -> None:
    """Build the new lake beside the old one, then swap folders."""
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".overwrite-{uuid.uuid4().hex}"
    try:
        # Fresh partitions only: the work is Parquet encoding and I/O, which release the
        # GIL, so two threads keep both cores busy.

        parts = sorted(set(job_parts) | set(task_parts), key=str)
        reports = [WriteReport(staging, "overwrite") for _ in parts]  # one per thread
        with cf.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            futures = [
                pool.submit(
                    _write_partition,
                    staging,
                    partition,
                    job_parts.get(partition),
                    task_parts.get(partition),
                    profile,
                    "append",
                    part_report,
                )
                for partition, part_report in zip(parts, reports, strict=True)
            ]
            for future in futures:
                future.result()
        for part_report in reports:
            report.inserted += part_report.inserted
            report.jobs_written += part_report.jobs_written
            report.tasks_written += part_report.tasks_written
            report.partitions += part_report.partitions
        report.partitions.sort()
        for name in ("jobs", "tasks"):
            for suffix in ("", ".parquet"):
                old, new = root / f"{name}{suffix}", staging / f"{name}{suffix}"
                if old.exists():
                    trash = root / f".old-{uuid.uuid4().hex}"
                    os.replace(old, trash)
                    shutil.rmtree(trash) if trash.is_dir() else trash.unlink()
                if new.exists():
                    os.replace(new, old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Read
# --------------------------------------------------------------------------------------
def read_parquet(
    path: str | os.PathLike[str],
    *,
    since: Any = None,
    until: Any = None,
    kind: str | None = None,
    status: str | None = None,
    columns: list[str] | None = None,
) -> JobFrames:
    """Read a lake back into typed frames, loading only what the filters need.

    Day partitions outside ``[since, until)`` are never opened; ``kind``/``status``
    filters are pushed down to row groups.

    Parameters
    ----------
    path : str or path
        The lake's root folder.
    since, until : datetime, str or int, optional
        Jobs created in ``[since, until)`` (ISO, epoch, or spans such as ``"7d"``).
    kind, status : str, optional
        Canonical job kind / status; tasks follow their job.
    columns : list of str, optional
        Job columns to load (tasks are always complete). Default: all.

    Returns
    -------
    JobFrames
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no lake at {root}: write one with write_parquet or sync")
    since_ms, until_ms = parse_when(since), parse_when(until)
    job_filter = _filters(since_ms, until_ms, kind, status, "created_at", "kind", "status")
    task_filter = _filters(
        since_ms, until_ms, kind, status, "job_created_at", "job_kind", "job_status"
    )
    jobs = _read_table(root, "jobs", JOBS, since_ms, until_ms, job_filter, columns)
    tasks = _read_table(root, "tasks", TASKS, since_ms, until_ms, task_filter, None)
    return JobFrames(jobs, tasks, PROBLEMS.empty())


def _filters(
    since_ms: int | None,
    until_ms: int | None,
    kind: str | None,
    status: str | None,
    created: str,
    kind_col: str,
    status_col: str,
) -> Any:

    expr = None

    def add(e: Any) -> None:
        nonlocal expr
        expr = e if expr is None else expr & e

    if since_ms is not None:
        add(ds.field(created) >= pa.scalar(since_ms, pa.timestamp("ms", tz="UTC")))
    if until_ms is not None:
        add(ds.field(created) < pa.scalar(until_ms, pa.timestamp("ms", tz="UTC")))
    if kind is not None:
        add(ds.field(kind_col).cast(pa.string()) == canonical_kind(kind))
    if status is not None:
        add(ds.field(status_col).cast(pa.string()) == canonical_status(status))
    return expr


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def data_files(
    root: Path, name: str, *, since_ms: int | None = None, until_ms: int | None = None
) -> list[str]:
    """The Parquet files of table ``name`` (jobs, tasks), day partitions outside
    ``[since_ms, until_ms)`` left out without being opened."""
    single = root / f"{name}.parquet"
    if not (root / name).is_dir():
        return [str(single)] if single.exists() else []
    files = []
    for part in sorted((root / name).glob(f"{PARTITION}=*/{_FILE}")):
        day = part.parent.name.split("=", 1)[1]
        if day == NULL_PARTITION:
            if since_ms is not None or until_ms is not None:
                continue  # no creation time: outside every window
        elif (since_ms is not None and day < _day(since_ms)) or (
            until_ms is not None and day > _day(until_ms - 1)
        ):
            continue
        files.append(str(part))
    return files


def _read_table(
    root: Path,
    name: str,
    table: Table,
    since_ms: int | None,
    until_ms: int | None,
    row_filter: Any,
    columns: list[str] | None,
) -> pd.DataFrame:

    if columns is not None:
        unknown = set(columns) - set(table.names)
        if unknown:
            raise ConfigurationError(f"unknown {name} columns {sorted(unknown)}")
        columns = [c for c in table.names if c in columns]
    files = data_files(root, name, since_ms=since_ms, until_ms=until_ms)
    if not files:
        frame = table.empty()
        return frame[columns] if columns is not None else frame
    dataset = ds.dataset(files, format="parquet")
    arrow = dataset.to_table(columns=columns, filter=row_filter)
    frame = _from_arrow(arrow, table)
    if columns is None:
        for column in table.columns:  # files written by an older schema version
            if column.name not in frame.columns:
                frame[column.name] = pd.Series(pd.NA, index=frame.index, dtype=column.dtype)
        frame = frame[table.names]
    sort: list[str] = []
    if name == "tasks":
        sort = ["job_created_at", "job_id", "task_index"]
    elif "created_at" in frame.columns:
        sort = ["created_at", "job_id"] if "job_id" in frame.columns else ["created_at"]
    return _sort(frame, sort) if sort else frame.reset_index(drop=True)
