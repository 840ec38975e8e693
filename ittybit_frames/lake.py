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

import contextlib
import datetime as dt
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ittybit_frames.errors import ConfigurationError
from ittybit_frames.frames import JobFrames
from ittybit_frames.normalize import canonical_kind, canonical_status, parse_when
from ittybit_frames.schema import JOBS, PROBLEMS, SCHEMA_VERSION, TASKS, Table

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
    from ittybit_frames import __version__

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    body = {**manifest, "schema_version": SCHEMA_VERSION, "package_version": __version__}
    _atomic_write_bytes(root / MANIFEST, orjson.dumps(body, option=orjson.OPT_INDENT_2))


def _atomic_write_bytes(target: Path, data: bytes) -> None:
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
            values = pa.array(series.astype("string"), type=pa.string(), from_pandas=True)
            arrays.append(
                values.dictionary_encode().cast(schema.field(column.name).type)
                if profile.dictionary_categories
                else values
            )
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
    types = {
        pa.string(): pd.StringDtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    frame: pd.DataFrame = arrow.to_pandas(types_mapper=types.get, coerce_temporal_nanoseconds=False)
    for name in columns:
        column = table[name]
        if column.categories is not None:
            frame[name] = pd.Categorical(
                frame[name].astype(object), categories=list(column.categories)
            )
    return frame


def _partition_of(created: pd.Series) -> pd.Series:
    days: pd.Series = created.dt.strftime("%Y-%m-%d").fillna(NULL_PARTITION).astype(object)
    return days


def _file(root: Path, name: str, partition: str | None) -> Path:
    if partition is None:
        return root / f"{name}.parquet"
    return root / name / f"{PARTITION}={partition}" / _FILE


def _write_file(
    arrow: pa.Table, target: Path, profile: Profile, extra_meta: dict[str, str]
) -> None:
    from ittybit_frames import __version__

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
    if mode == "overwrite":
        _overwrite(frames, root, partition_by, prof, report)
    else:
        jobs, tasks = frames.jobs, frames.tasks
        for partition, part_jobs, part_tasks in _split(jobs, tasks, partition_by):
            _write_partition(root, partition, part_jobs, part_tasks, prof, mode, report)
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


def _split(
    jobs: pd.DataFrame, tasks: pd.DataFrame, partition_by: str | None
) -> Iterator[tuple[str | None, pd.DataFrame, pd.DataFrame]]:
    if partition_by is None:
        yield None, jobs, tasks
        return
    job_part = _partition_of(jobs["created_at"])
    task_part = _partition_of(tasks["job_created_at"])
    for partition in sorted(set(job_part)):
        yield partition, jobs[job_part == partition], tasks[task_part == partition]


def _read_file(target: Path, table: Table) -> pd.DataFrame:
    if not target.exists():
        return table.empty()
    return _from_arrow(pq.read_table(target), table)


def _write_partition(
    root: Path,
    partition: str | None,
    jobs: pd.DataFrame,
    tasks: pd.DataFrame,
    profile: Profile,
    mode: str,
    report: WriteReport,
) -> None:
    jobs_file, tasks_file = _file(root, "jobs", partition), _file(root, "tasks", partition)
    old_jobs, old_tasks = _read_file(jobs_file, JOBS), _read_file(tasks_file, TASKS)
    if mode == "append":
        new_jobs = pd.concat([old_jobs, jobs], ignore_index=True)
        new_tasks = pd.concat([old_tasks, tasks], ignore_index=True)
        report.inserted += len(jobs)
    else:
        merged = _merge(old_jobs, old_tasks, jobs, tasks, report)
        if merged is None:
            return  # nothing changed: leave the files alone
        new_jobs, new_tasks = merged
    new_jobs = _sort(new_jobs, ["created_at", "job_id"])
    new_tasks = _sort(new_tasks, ["job_created_at", "job_id", "task_index"])
    # Tasks first: a reader that sees the new jobs file can rely on their tasks.
    _write_file(_to_arrow(new_tasks, TASKS, profile), tasks_file, profile, {})
    _write_file(_to_arrow(new_jobs, JOBS, profile), jobs_file, profile, {})
    report.jobs_written += len(new_jobs)
    report.tasks_written += len(new_tasks)
    report.partitions.append(partition or "(all)")


def _epoch_ms(values: pd.Series) -> np.ndarray:
    """Timestamps as float epoch milliseconds (exact below 2**53), NaN for missing."""
    arrow = pa.array(values, type=pa.timestamp("ms", tz="UTC"), from_pandas=True)
    result: np.ndarray = arrow.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    return result


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
        _epoch_ms(old_jobs["updated_at"]), index=old_jobs["job_id"].to_numpy(dtype=object)
    )
    ids = incoming["job_id"].to_numpy(dtype=object)
    known = pd.Index(ids).isin(old_updated.index)
    previous = old_updated.reindex(ids).to_numpy(dtype=np.float64)
    current = _epoch_ms(incoming["updated_at"])
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
    frames: JobFrames,
    root: Path,
    partition_by: str | None,
    profile: Profile,
    report: WriteReport,
) -> None:
    """Build the new lake beside the old one, then swap folders."""
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".overwrite-{uuid.uuid4().hex}"
    try:
        for partition, jobs, tasks in _split(frames.jobs, frames.tasks, partition_by):
            _write_partition(staging, partition, jobs, tasks, profile, "append", report)
        report.updated = 0
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
    manifest = read_manifest(root)
    partitioned = manifest.get("partition_by", "day") == "day" and (root / "jobs").is_dir()
    job_filter = _filters(since_ms, until_ms, kind, status, "created_at", "kind", "status")
    task_filter = _filters(
        since_ms, until_ms, kind, status, "job_created_at", "job_kind", "job_status"
    )
    jobs = _read_table(root, "jobs", JOBS, partitioned, since_ms, until_ms, job_filter, columns)
    tasks = _read_table(root, "tasks", TASKS, partitioned, since_ms, until_ms, task_filter, None)
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
    import pyarrow.dataset as ds

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


def _read_table(
    root: Path,
    name: str,
    table: Table,
    partitioned: bool,
    since_ms: int | None,
    until_ms: int | None,
    row_filter: Any,
    columns: list[str] | None,
) -> pd.DataFrame:
    import pyarrow.dataset as ds

    if columns is not None:
        unknown = set(columns) - set(table.names)
        if unknown:
            raise ConfigurationError(f"unknown {name} columns {sorted(unknown)}")
        columns = [c for c in table.names if c in columns]
    if partitioned:
        folder = root / name
        files = []
        for part in sorted(folder.glob(f"{PARTITION}=*/{_FILE}")):
            day = part.parent.name.split("=", 1)[1]
            if day != NULL_PARTITION:
                # Prune whole days outside the window before opening any file.
                if since_ms is not None and day < _day(since_ms):
                    continue
                if until_ms is not None and day > _day(until_ms - 1):
                    continue
            elif since_ms is not None or until_ms is not None:
                continue
            files.append(str(part))
    else:
        single = root / f"{name}.parquet"
        files = [str(single)] if single.exists() else []
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
