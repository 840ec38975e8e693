"""``read_parquet`` and ``data_files``: only the lake's own files, in a committed state."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ittybit_frames.errors import (
    ConfigurationError,
    EmptyWindowWarning,
    LakeError,
    empty_window_message,
)
from ittybit_frames.frames import JobFrames
from ittybit_frames.lake._commit import pending
from ittybit_frames.lake._format import (
    JOURNAL,
    MANIFEST,
    NULL_PARTITION,
    PART_FILE,
    PARTITION,
    conform,
    day_label,
    decoded,
    from_arrow,
    read_manifest,
    sort,
    valid_partition,
)
from ittybit_frames.lake._remote_commit import RemoteView
from ittybit_frames.lake._store import ObjectStore, is_remote, local_path
from ittybit_frames.lake._swap import marker
from ittybit_frames.memory import conversion_pool
from ittybit_frames.schema import JOBS, PROBLEMS, TASKS, Table
from ittybit_frames.vocabulary import (
    KIND_WORDS,
    KINDS,
    STATUS_WORDS,
    STATUSES,
    category,
    parse_window,
)

_ATTEMPTS = 20  # a reader racing writers retries this often before giving up


def partition_label(file: Path) -> str:
    """``2026-10-01`` for ``.../created_date=2026-10-01/part-0.parquet``; ``""`` unpartitioned."""
    if file.parent.name.startswith(f"{PARTITION}="):
        return file.parent.name.split("=", 1)[1]
    return ""


def _in_window(label: str, since_ms: int | None, until_ms: int | None) -> bool:
    if label == NULL_PARTITION:
        return since_ms is None and until_ms is None  # no creation time: outside every window
    if since_ms is not None and label < day_label(since_ms):
        return False
    return until_ms is None or label <= day_label(until_ms - 1)


def data_files(
    root: Path | str, name: str, *, since_ms: int | None = None, until_ms: int | None = None
) -> list[str]:
    """The Parquet files of table ``name`` (jobs, tasks) as of the last committed write.

    Only the lake's own files: ``created_date=<YYYY-MM-DD or the null partition>/
    part-0.parquet`` (or ``name.parquet`` unpartitioned); anything else is ignored. Day
    partitions outside ``[since_ms, until_ms)`` are left out without being opened. While
    a committed write is still being applied, its new files are returned (from their
    temporary names) and the files it removes are not. For a remote lake, URLs.
    """
    if is_remote(root):
        store = ObjectStore.open(str(root))
        return [
            f"{store.url.split('://')[0]}://{k}"
            for k in _remote_files(store, name, since_ms, until_ms)
        ]
    root = local_path(root)
    view = pending(root)
    single = root / f"{name}.parquet"
    candidates: set[Path] = set()
    if single.exists() or single in view.files:
        candidates.add(single)
    folder = view.tables.get(name, root / name)  # the staged table until it is swapped in
    if folder.is_dir():
        candidates.update(folder.glob(f"{PARTITION}=*/{PART_FILE}"))
    candidates.update(p for p in view.files if p.parent.parent == folder and p.name == PART_FILE)
    files = []
    for target in sorted(candidates):
        label = partition_label(target)
        if target != single and not (valid_partition(label) and target.parent.parent == folder):
            continue
        if target != single and not _in_window(label, since_ms, until_ms):
            continue
        resolved = view.files.get(target, target)
        if resolved is not None:
            files.append(str(resolved))
    return files


def _remote_files(
    store: ObjectStore, name: str, since_ms: int | None, until_ms: int | None
) -> list[str]:
    """:func:`data_files` of a remote lake, as the store's keys (one listing)."""
    top = store.top()
    view = RemoteView.of(store, top)
    rels = {r for r in store.find(f"{name}/") if r.endswith(f"/{PART_FILE}")}
    rels |= {r for r in view.redirect if r.startswith(f"{name}/")}
    if f"{name}.parquet" in top or f"{name}.parquet" in view.redirect:
        rels.add(f"{name}.parquet")
    keys = []
    for rel in sorted(rels):
        parts = rel.split("/")
        if len(parts) == 3:
            label = parts[1].removeprefix(f"{PARTITION}=")
            if label == parts[1] or not valid_partition(label):
                continue
            if not _in_window(label, since_ms, until_ms):
                continue
        elif rel != f"{name}.parquet":
            continue
        resolved = view.redirect.get(rel, rel)
        if resolved is not None:
            keys.append(store.key(resolved))
    return keys


@dataclass(frozen=True)
class _Where:
    """A lake to read: a folder, or an object store."""

    root: Path | str
    store: ObjectStore | None = None

    @property
    def filesystem(self) -> Any:
        return None if self.store is None else self.store.fs

    def files(self, name: str, since_ms: int | None, until_ms: int | None) -> list[str]:
        if self.store is None:
            return data_files(self.root, name, since_ms=since_ms, until_ms=until_ms)
        return _remote_files(self.store, name, since_ms, until_ms)

    def token(self) -> object:
        if self.store is None:
            return _state_token(Path(self.root))
        top = self.store.top()  # one listing: the manifest's and the journal's ETags
        return top.get(MANIFEST, ""), top.get(JOURNAL, "")

    def days(self) -> list[str]:
        if self.store is None:
            folder = Path(self.root) / "jobs"
            names = [e.name for e in (folder.iterdir() if folder.is_dir() else [])]
        else:
            names = [r.split("/")[1] for r in self.store.find("jobs/") if r.count("/") == 2]
        return sorted(
            label
            for name in set(names)
            if (label := name.removeprefix(f"{PARTITION}=")) != name
            and label != NULL_PARTITION
            and valid_partition(label)
        )


def lake_location(path: str | os.PathLike[str]) -> Path | str:
    """A lake's folder (a path or ``file://`` URL), or a remote lake's URL as given."""
    return ObjectStore.open(str(path)).url if is_remote(path) else local_path(path)


def lake_objects(url: str) -> dict[str, int]:
    """A remote lake's objects (relative keys) and their sizes, from one listing."""
    return ObjectStore.open(url).sizes()


def read_columns(root: Path | str, name: str, columns: list[str]) -> pa.Table | None:
    """``columns`` of table ``name`` as of the last committed write (None: no files);
    only those columns are fetched."""
    store = ObjectStore.open(str(root)) if is_remote(root) else None
    where = _Where(root, store)
    files = where.files(name, None, None)
    if not files:
        return None
    dataset = ds.dataset(files, format="parquet", filesystem=where.filesystem)
    return dataset.to_table(columns=columns)


def _state_token(root: Path) -> tuple[int, bool, str, str]:
    """Changes whenever a write commits, swaps a table in, or finishes."""
    try:
        stamp = (root / MANIFEST).stat().st_mtime_ns
    except FileNotFoundError:
        stamp = 0
    return stamp, (root / JOURNAL).exists(), marker(root / "jobs"), marker(root / "tasks")


def read_parquet(
    path: str | os.PathLike[str],
    *,
    since: Any = None,
    until: Any = None,
    kind: str | None = None,
    status: str | None = None,
    columns: list[str] | None = None,
    kind_raw: str | None = None,
) -> JobFrames:
    """Read a lake back into typed frames, loading only what the filters need.

    Day partitions outside ``[since, until)`` are never opened; ``kind``/``status``/
    ``kind_raw`` filters are pushed down to row groups. The frames are one committed
    state of the lake, even while a writer commits (the read is retried if a write lands
    during it).

    Parameters
    ----------
    path : str or path
        The lake's root folder, or its URL (``s3://bucket/prefix``, ``gs://...``...).
    since, until : datetime, str or int, optional
        Jobs created in ``[since, until)`` (ISO, epoch, or spans such as ``"7d"``).
    kind, status : str, optional
        Job kind / status: a category, ``other``, or a documented word of any API
        version (``ready`` -> ``succeeded``); tasks follow their job.
    columns : list of str, optional
        Job columns to load (tasks are always complete). Default: all.
    kind_raw : str, optional
        Jobs whose kind was sent as exactly this word (for words outside the
        categories, which ``kind`` files under ``other``); tasks follow their job.

    Returns
    -------
    JobFrames

    Raises
    ------
    ConfigurationError
        ``kind``/``status`` is neither a category nor ``other`` (the message lists the
        valid words), or ``columns`` names an unknown column.
    LakeCorruptError
        The lake's manifest is unreadable (``ittybit-frames check LAKE --repair``).
    LakeError
        Writers changed the lake during each of 20 attempts to read it: read again.
    """
    if is_remote(path):
        store = ObjectStore.open(str(path))
        where = _Where(store.url, store)
        if not read_manifest(store.url) and not store.find("jobs/"):
            raise FileNotFoundError(f"no lake at {store}: write one with write_parquet or sync")
    else:
        where = _Where(local_path(path))
        if not Path(where.root).exists():
            raise FileNotFoundError(
                f"no lake at {where.root}: write one with write_parquet or sync"
            )
        read_manifest(where.root)  # a corrupt manifest is named, not skipped
    since_ms, until_ms = parse_window(since, until)
    words = _Words(_category(kind, "kind"), _category(status, "status"), kind_raw)
    job_filter = _filters(since_ms, until_ms, words, "created_at", "kind", "status")
    task_filter = _filters(since_ms, until_ms, words, "job_created_at", "job_kind", "job_status")
    job_columns = columns
    if kind_raw is not None and columns is not None and "job_id" not in columns:
        job_columns = [*columns, "job_id"]  # the tasks follow the jobs by ID
    query = _Query(since_ms, until_ms, job_filter, task_filter, job_columns, kind_raw)
    with conversion_pool():  # Arrow's buffers to pandas: see memory.py
        jobs, tasks = _read_state(where, query)
    if job_columns is not columns:
        jobs = jobs.drop(columns="job_id")
    if jobs.empty and (since_ms is not None or until_ms is not None):
        _say_the_window_is_empty(where, since_ms, until_ms)
    return JobFrames(jobs, tasks, PROBLEMS.empty())


def _say_the_window_is_empty(where: _Where, since_ms: int | None, until_ms: int | None) -> None:
    """Warn (EmptyWindowWarning) naming the days the lake covers, if it holds any."""
    days = where.days()
    if not days:
        return
    first, last = (
        dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC).timestamp() * 1000
        for d in (days[0], days[-1])
    )
    message = empty_window_message(since_ms, until_ms, first, last, "the lake covers")
    warnings.warn(message, EmptyWindowWarning, stacklevel=3)


@dataclass(frozen=True)
class _Query:
    since_ms: int | None
    until_ms: int | None
    job_filter: Any
    task_filter: Any
    job_columns: list[str] | None
    kind_raw: str | None


def _read_state(where: _Where, q: _Query) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Jobs and tasks of one committed state: read again while writers change the lake."""
    root = where.root
    for attempt in range(_ATTEMPTS):
        token = where.token()
        task_filter = q.task_filter
        try:
            jobs = _read_table(
                root, "jobs", JOBS, q.since_ms, q.until_ms, q.job_filter, q.job_columns
            )
            if q.kind_raw is not None:
                ids = pa.array(jobs["job_id"].astype(object), pa.string())
                task_filter = _and(task_filter, ds.field("job_id").isin(ids))
            tasks = _read_table(root, "tasks", TASKS, q.since_ms, q.until_ms, task_filter, None)
        except FileNotFoundError:
            if attempt == _ATTEMPTS - 1:
                raise
            continue  # a writer renamed or removed a file under us: read again
        if where.token() == token:
            return jobs, tasks
    # Never two same tokens around a read: a mix of two states must not be returned.
    raise LakeError(
        f"the lake at {root} changed during each of {_ATTEMPTS} reads (writers are busy); "
        "read again",
        path=str(root),
    )


@dataclass(frozen=True)
class _Words:
    kind: str | None  # categories
    status: str | None
    kind_raw: str | None  # the API's word, exactly


def _category(word: str | None, field: str) -> str | None:
    if word is None:
        return None
    try:
        return category(word, field=field)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _and(expr: Any, more: Any) -> Any:
    return more if expr is None else expr & more


def _filters(
    since_ms: int | None,
    until_ms: int | None,
    words: _Words,
    created: str,
    kind_col: str,
    status_col: str,
) -> Any:
    expr = None
    if since_ms is not None:
        expr = _and(expr, ds.field(created) >= pa.scalar(since_ms, pa.timestamp("ms", tz="UTC")))
    if until_ms is not None:
        expr = _and(expr, ds.field(created) < pa.scalar(until_ms, pa.timestamp("ms", tz="UTC")))
    if words.kind is not None:
        expr = _and(expr, _is_category(kind_col, words.kind, KIND_WORDS, KINDS))
    if words.status is not None:
        expr = _and(expr, _is_category(status_col, words.status, STATUS_WORDS, STATUSES))
    if words.kind_raw is not None and created == "created_at":  # tasks: by job ID, later
        raw = ds.field("kind_raw") == words.kind_raw
        if words.kind_raw not in KINDS:  # a stored kind outside them reads into a null
            stored = ds.field(kind_col).cast(pa.string()) == words.kind_raw  # kind_raw
            raw = raw | (ds.field("kind_raw").is_null() & stored)  # (lake._categories)
        expr = _and(expr, raw)
    return expr


def _is_category(
    column: str, category: str, words: dict[str, str], categories: tuple[str, ...]
) -> Any:
    """The rows a column reads as ``category`` (see ``lake._categories``): a file this
    version wrote holds only categories; another's may hold an API word (``ingest``),
    which reads as its category, or a word of no version, which reads as ``other``."""
    # As canonical_kind/canonical_status read a word: trimmed, lower case. str.lower
    # maps U+0130 to 'i' and a combining dot (Arrow's utf8_lower to 'i' alone): 'VİDEO'
    # reads as other, not video.
    word = pc.replace_substring(ds.field(column).cast(pa.string()), "\u0130", "i\u0307")
    stored = pc.utf8_trim_whitespace(pc.utf8_lower(word))
    if category != "other":
        return stored.isin([category, *(w for w, c in words.items() if c == category)])
    known = {*categories, *words} - {"other"}
    # A null word reads as other too (never null: is_in gives false for it, not null).
    return ~stored.isin(sorted(known))


def _dataset(where: _Where, files: list[str]) -> ds.Dataset:
    """The files as a dataset: on disk, opened where they are; in an object store, each
    fetched whole, all at once (one GET each, rather than a HEAD and ranged GETs per
    file), and their schemas unified (older versions' files lack columns)."""
    if where.store is None:
        return ds.dataset(files, format="parquet")
    tables = [pq.read_table(pa.BufferReader(b)) for b in where.store.fetch(files)]
    tables = [t.cast(decoded(t.schema)) for t in tables]  # a category encoded or not
    return ds.dataset(pa.concat_tables(tables, promote_options="default"))


def _read_table(
    root: Path | str,
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
    where = _Where(root, ObjectStore.open(root) if isinstance(root, str) else None)
    files = where.files(name, since_ms, until_ms)
    if not files:
        frame = table.empty()
        return frame[columns] if columns is not None else frame
    dataset = _dataset(where, files)
    if not set(table.names) <= set(dataset.schema.names):
        # The first file is of an older schema version (v1: no kind_raw, no task input_*):
        # read every file against the union of their schemas, so newer files keep theirs.
        more = [pq.read_schema(f) for f in files[1:]] if where.store is None else []
        schema = pa.unify_schemas([decoded(s) for s in (dataset.schema, *more)])
        for column in table.columns:  # in no file at all: still filterable, all null
            if column.name not in schema.names:
                schema = schema.append(pa.field(column.name, column.arrow))
        if where.store is None:
            dataset = ds.dataset(files, format="parquet", schema=schema)
        else:
            arrow = dataset.to_table()
            nulls = [
                pa.nulls(arrow.num_rows, f.type) for f in schema if f.name not in arrow.schema.names
            ]
            dataset = ds.dataset(pa.Table.from_arrays([*arrow.columns, *nulls], schema=schema))
    present = None if columns is None else [c for c in columns if c in dataset.schema.names]
    arrow = dataset.to_table(columns=present, filter=row_filter)
    frame = conform(from_arrow(arrow, table), table, columns)  # older files' columns: null
    keys: list[str] = []
    if name == "tasks":
        keys = ["job_created_at", "job_id", "task_index"]
    elif "created_at" in frame.columns:
        keys = ["created_at", "job_id"] if "job_id" in frame.columns else ["created_at"]
    return sort(frame, keys) if keys else frame.reset_index(drop=True)
