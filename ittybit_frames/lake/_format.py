"""How the lake's files look: names, profiles, the pinned Arrow schema, atomic small files.

Files are written against the pinned Arrow schema of :mod:`ittybit_frames.schema` (all-null
columns keep their type), sorted by ``created_at``, with timestamps as INT64 milliseconds
marked ``isAdjustedToUTC=true`` (never nanoseconds, which Spark, Athena and Power BI reject).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, TypeVar

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ittybit_frames.errors import LakeCorruptError
from ittybit_frames.lake._categories import in_categories
from ittybit_frames.lake._store import ObjectStore, is_remote, local_path
from ittybit_frames.schema import ARROW_TO_PANDAS, SCHEMA_VERSION, Table
from ittybit_frames.version import __version__

MANIFEST = "_ittybit_frames.json"
JOURNAL = "_ittybit_frames.journal.json"
INDEX = "_ittybit_frames.index.parquet"
LOCK = ".ittybit_frames.lock"
HOLDER = ".ittybit_frames.holder.json"
PARTITION = "created_date"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for "no value": Spark/Athena know it
TABLES = ("jobs", "tasks")
PART_FILE = "part-0.parquet"
#: The lake's own files of a table, as a glob for DuckDB, Polars and Spark (``jobs/`` + it):
#: valid-looking partition folders only, never the hidden twins or foreign names.
TABLE_GLOB = f"{PARTITION}=[0-9_]*/{PART_FILE}"
TABLE_MARKER = ".ittybit_frames.table"  # in jobs/, tasks/ and twins: the write it holds
_T = TypeVar("_T")
_P = TypeVar("_P", bound=PurePath)
#: Threads that wait on fsyncs and unlinks (holding no GIL and little CPU).
IO_THREADS = 4
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TMP = re.compile(r"^\..+\.(\d+)-[0-9a-f]{32}\.tmp$")


def valid_partition(label: str) -> bool:
    """True for the partition labels the lake writes: a real ``YYYY-MM-DD`` or the null one."""
    if label == NULL_PARTITION:
        return True
    if not _DAY.fullmatch(label):
        return False
    try:
        dt.date.fromisoformat(label)
    except ValueError:
        return False
    return True


def temp_name(target: Path) -> Path:
    """A hidden temporary name beside ``target`` that carries the writer's pid."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")


def is_temp(path: Path) -> bool:
    """True for a temporary file named by :func:`temp_name`."""
    return _TMP.match(path.name) is not None


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

    path: Path | str  # a folder, or a remote lake's URL
    mode: str
    jobs_written: int = 0
    tasks_written: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    partitions: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    #: What was wrong with the frames and what the write did about it, one line each
    #: (tasks that disagreed with their job: written with their job's values; jobs and
    #: tasks with no job_id, or tasks whose job is not in the frames: not written).
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------
def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The lake's ``_ittybit_frames.json`` (empty dict when there is none yet).

    Raises
    ------
    LakeCorruptError
        The file is empty, not JSON, or not an ittybit-frames manifest.
    """
    if is_remote(path):
        store = ObjectStore.open(str(path))
        return parse_manifest(store.get(MANIFEST), f"{store}/{MANIFEST}", store.url)
    root = local_path(path)
    target = root / MANIFEST
    if not target.exists():
        return {}
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise _corrupt(str(target), str(root), f"not JSON: {exc}") from None
    return parse_manifest(raw, str(target), str(root))


def parse_manifest(raw: bytes | None, name: str, lake: str) -> dict[str, Any]:
    """A manifest's content (``{}`` for none); :class:`LakeCorruptError` when unreadable."""
    if raw is None:
        return {}
    try:
        data = orjson.loads(raw)
        reason = "" if isinstance(data, dict) else f"a JSON {type(data).__name__}, not an object"
        if not reason and "schema_version" not in data:
            reason = "no schema_version: not written by ittybit-frames"
    except orjson.JSONDecodeError as exc:
        reason = "empty" if not raw else f"not JSON: {exc}"
    if reason:
        raise _corrupt(name, lake, reason)
    result: dict[str, Any] = data
    return result


def _corrupt(name: str, lake: str, reason: str) -> LakeCorruptError:
    return LakeCorruptError(
        f"{name} is unreadable ({reason}); run 'ittybit-frames check "
        f"{lake} --repair' to rebuild it from the lake's files",
        path=lake,
    )


def write_manifest(path: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically."""

    body = {**manifest, "schema_version": SCHEMA_VERSION, "package_version": __version__}
    data = orjson.dumps(body, option=orjson.OPT_INDENT_2)
    if is_remote(path):
        ObjectStore.open(str(path)).put(MANIFEST, data)  # an object is written whole
        return
    root = local_path(path)
    root.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(root / MANIFEST, data)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write a small file whole or not at all: a temporary name, fsync, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk, a failing fsync: leave nothing behind
        raise
    fsync_dir(target.parent)


def fsync_file(path: Path) -> None:
    """Make a written file's data durable."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def at_once(function: Callable[[_T], object], items: Iterable[_T]) -> None:
    """Call ``function`` on every item, a few at a time: calls that wait on the disk
    (fsyncs; unlinks, which on a filesystem mounted with ``discard`` wait for the
    journal) overlap, and the filesystem's journal commits them together."""
    todo = list(items)
    if len(todo) < 4:
        for item in todo:
            function(item)
        return
    with cf.ThreadPoolExecutor(max_workers=min(IO_THREADS, len(todo))) as pool:
        list(pool.map(function, todo))


def fsync_dirs(directories: Iterable[Path]) -> None:
    """:func:`fsync_dir` each folder, at once (:func:`at_once`)."""
    at_once(fsync_dir, directories)


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------
# Frames <-> Arrow
# --------------------------------------------------------------------------------------
def arrow_schema(table: Table, profile: Profile) -> pa.Schema:
    fields = []
    for column in table.columns:
        arrow_type = column.arrow_type if profile.dictionary_categories else column.arrow
        fields.append(pa.field(column.name, arrow_type))
    return pa.schema(fields)


def to_arrow(frame: pd.DataFrame, table: Table, profile: Profile) -> pa.Table:
    """``frame`` as the profile stores it: :meth:`Table.to_arrow`, the table's columns only."""
    return table.to_arrow(frame, dictionary=profile.dictionary_categories, provisional=False)


def plain_schema(table: Table) -> pa.Schema:
    """The types :func:`from_arrow` reads a file's columns as: a category as text (a
    file may store it dictionary-encoded or not), any other its Arrow type. Files
    conformed to it (:func:`conform_arrow`) concatenate, to be converted once."""
    return pa.schema(
        [
            pa.field(c.name, pa.string() if c.categories is not None else c.arrow)
            for c in table.columns
        ]
    )


def decoded(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each dictionary-encoded column as its values' type: files that
    store a category encoded and files that store it as text (a lake's profile is the
    writer's choice) then unify, and Arrow reads either as the other."""
    fields = [
        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def from_arrow(arrow: pa.Table, table: Table) -> pd.DataFrame:
    columns = [c for c in table.names if c in arrow.column_names]
    arrow = arrow.select(columns)
    plain = plain_schema(table)
    cast = [arrow[name].cast(plain.field(name).type) for name in columns]
    arrow = in_categories(pa.Table.from_arrays(cast, names=columns), table)
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


def conform(frame: pd.DataFrame, table: Table, names: list[str] | None = None) -> pd.DataFrame:
    """``frame`` with the columns ``names`` (default: all of ``table``), in order: columns
    an older schema version did not write (v1: ``kind_raw``, the task ``input_*``
    columns) are added, null."""
    names = table.names if names is None else names
    missing = [table[n] for n in names if n not in frame.columns]
    if missing:
        added = {c.name: pd.Series(index=frame.index, dtype=c.dtype) for c in missing}
        frame = frame.assign(**added)
    return frame[names]


def conform_arrow(arrow: pa.Table, schema: pa.Schema) -> pa.Table:
    """A file's table in the pinned ``schema``: older versions' files gain null columns."""
    arrow = arrow.replace_schema_metadata(None)
    for name in schema.names:
        if name not in arrow.column_names:
            arrow = arrow.append_column(
                schema.field(name), pa.nulls(arrow.num_rows, schema.field(name).type)
            )
    arrow = arrow.select(schema.names)
    return arrow if arrow.schema == schema else arrow.cast(schema)


def file_version(schema: pa.Schema) -> int | None:
    """The schema version a lake file records in its metadata (None: not recorded)."""
    raw = (schema.metadata or {}).get(b"ittybit_frames.schema_version", b"")
    return int(raw) if raw.isdigit() else None


def table_file(root: _P, name: str, partition: str | None) -> _P:
    if partition is None:
        return root / f"{name}.parquet"
    return root / name / f"{PARTITION}={partition}" / PART_FILE


def encode_table(arrow: pa.Table, sink: Path | pa.NativeFile, profile: Profile) -> None:
    """Write ``arrow`` as a lake file (the profile's options, our metadata) to ``sink``."""
    meta = {
        **(arrow.schema.metadata or {}),
        b"ittybit_frames.schema_version": str(SCHEMA_VERSION).encode(),
        b"ittybit_frames.package_version": __version__.encode(),
        b"ittybit_frames.written_at": dt.datetime.now(dt.UTC).isoformat().encode(),
    }
    pq.write_table(
        arrow.replace_schema_metadata(meta),
        sink,
        compression=profile.compression,
        version="2.6",
        coerce_timestamps="ms",
        allow_truncated_timestamps=False,
        use_dictionary=True,
        write_statistics=True,
        row_group_size=128 * 1024,
    )


def write_table_file(arrow: pa.Table, tmp: Path, profile: Profile, *, sync: bool = True) -> None:
    """Write ``arrow`` to ``tmp`` (a :func:`temp_name`) and fsync it (``sync=False``: the
    caller fsyncs it, with :func:`fsync_file`, before anything names it); removed on
    failure."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        encode_table(arrow, tmp, profile)
        if sync:
            fsync_file(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def sort(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


@dataclass(frozen=True)
class Rows:
    """Rows of ``source`` in the order of ``indices``, gathered only when asked (on the
    thread that encodes them): a zero-copy slice when they are one run of ``source``
    (frames usually arrive sorted), else a ``take``."""

    source: pa.Table
    indices: np.ndarray[Any, Any]
    run: bool = False  # the indices are known to be consecutive

    @property
    def num_rows(self) -> int:
        return len(self.indices)

    def table(self) -> pa.Table:
        i = self.indices
        if not len(i):
            return self.source.slice(0, 0)
        if self.run:
            return self.source.slice(int(i[0]), len(i))
        return self.source.take(i)

    def part(self, start: int, stop: int, steps: np.ndarray[Any, Any]) -> Rows:
        """Rows ``start:stop``; ``steps`` counts the non-consecutive steps of the indices
        up to each row (:func:`breaks`)."""
        run = stop > start and steps[stop - 1] == steps[start]
        return Rows(self.source, self.indices[start:stop], bool(run))


def breaks(indices: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """For each position, how many steps before it are not ``+1``."""
    return np.concatenate(([0], np.cumsum(np.diff(indices) != 1)))


def sorted_rows(table: pa.Table, keys: list[str]) -> Rows:
    """``table`` sorted by ``keys`` (ascending, nulls last, stable): ``table.sort_by``
    without copying the table (most of the time is the copy, and sorted frames need none)."""
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys])
    rows = Rows(table, order.to_numpy().astype(np.int64))  # (uint64: differences wrap)
    return rows.part(0, rows.num_rows, breaks(rows.indices))


def slices(
    table: pa.Table, time_column: str, keys: list[str], partition_by: str | None
) -> dict[str | None, Rows]:
    """Partition -> its rows, sorted by ``keys`` (nulls last).

    ``keys`` start with the time column, so once sorted each UTC day is one contiguous
    run of rows (days without a time sort last): no separate partition sort is needed.
    """
    rows = sorted_rows(table, keys)
    if partition_by is None:
        return {None: rows}
    steps = breaks(rows.indices)
    epoch = table[time_column].cast(pa.int64()).to_numpy(zero_copy_only=False)[rows.indices]
    labels = day_labels(epoch)
    starts = [0, *(np.flatnonzero(labels[1:] != labels[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(labels)]
    out: dict[str | None, Rows] = {}
    for a, b in zip(starts, ends, strict=True):
        if b > a:
            out[str(labels[a])] = rows.part(a, b, steps)
    return out


DAY_MS = 86_400_000
_EPOCH_DAY = dt.date(1970, 1, 1)


def day_labels(ms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each epoch-millisecond value's partition: its UTC day (``1969-12-31`` too), or
    the null partition for a missing value or a day no calendar date names (beyond year
    9999). The one rule for the files and the job index, so they always agree."""
    ms = np.asarray(ms, dtype=np.float64)
    day = np.floor_divide(np.nan_to_num(ms, nan=0.0), DAY_MS).astype(np.int64)
    unique, inverse = np.unique(day, return_inverse=True)  # format each day once
    names = [_day_name(int(d)) for d in unique]
    out = np.array(names, dtype=object)[inverse] if len(day) else np.array([], dtype=object)
    out[np.isnan(ms)] = NULL_PARTITION
    return out


def day_label(ms: int) -> str:
    """The partition of one epoch-millisecond value (the rule of :func:`day_labels`)."""
    return _day_name(ms // DAY_MS)


def _day_name(day: int) -> str:
    try:
        return (_EPOCH_DAY + dt.timedelta(days=day)).isoformat()
    except OverflowError:
        return NULL_PARTITION
