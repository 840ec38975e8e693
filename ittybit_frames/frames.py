"""Job payloads -> two typed tables (jobs, tasks) plus a table of data problems.

Pure: no network, no files. Records are processed in chunks: one tight Python pass pulls
each field's raw values into columns (``tuple(map(dict.get, fields))``), then each column
is converted to its Arrow type in C. Only a column whose optimistic conversion fails (a
string among numbers, seconds among milliseconds...) is walked value by value, and that
walk is where problems are recorded. Arrow tables are finally converted to pandas with
the dtypes declared in :mod:`ittybit_frames.schema`. No ``json_normalize``.

Nothing is dropped silently: a value that cannot be used becomes NA plus a row in
``problems``; a field this version does not know lands in the ``extra`` JSON column.
"""

from __future__ import annotations

import contextlib
import gc
import html
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.errors import SchemaError
from ittybit_frames.schema import ARROW_TO_PANDAS, JOBS, PROBLEMS, TASKS, TIMESTAMP, Table
from ittybit_frames.vocabulary import (
    FILE_FIELDS,
    JOB_FIELDS,
    JOB_KIND_WORDS,
    JOB_KINDS,
    MS_MAX,
    MS_MIN,
    OBJECT_TAGS,
    STATUS_WORDS,
    STATUSES,
    TASK_FIELDS,
    TASK_KIND_WORDS,
    TASK_KINDS,
    TERMINAL_STATUSES,
    canonical_kind,
    canonical_status,
    epoch_ms,
    parse_when,
)

__all__ = ["JobFrames", "to_frames"]


_JSON_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_DURATION_COLUMNS = ("queue_seconds", "processing_seconds", "total_seconds")


def _json(value: Any) -> str:
    """JSON text with sorted keys; falls back to the stdlib for what orjson refuses."""
    try:
        return orjson.dumps(value, option=_JSON_OPTS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


# orjson spends most of a call on its own set-up (about 2.5 us for a small dict, against
# 0.05 us per item inside one list), so many values are written in one call, with a
# separator between them that is split on afterwards.
_SEPARATOR = "\x00ittybit-frames:separator\x00"
_SPLIT = b"," + orjson.dumps(_SEPARATOR) + b","


def _json_many(values: list[Any]) -> list[Any]:
    """``_json`` of each value (as UTF-8 bytes or text, both fine for Arrow)."""
    if not values:
        return []
    mixed = [item for value in values for item in (value, _SEPARATOR)]
    try:
        out = orjson.dumps(mixed, option=_JSON_OPTS)
    except TypeError:
        return [_json(v) for v in values]
    parts = out[1 : -len(_SPLIT)].split(_SPLIT)
    if len(parts) != len(values):  # a value holds the separator itself, in a list
        return [_json(v) for v in values]
    return parts


@dataclass
class JobFrames:
    """Jobs and tasks as typed DataFrames.

    Attributes
    ----------
    jobs : pandas.DataFrame
        One row per distinct job ID (see ``schema.JOBS``).
    tasks : pandas.DataFrame
        One row per task (see ``schema.TASKS``).
    problems : pandas.DataFrame
        One row per data oddity: ``job_id, task_id, column, problem, raw_value``.
    failures : pandas.DataFrame or None
        Jobs that could not be fetched (when the frames came from the API).
    """

    jobs: pd.DataFrame
    tasks: pd.DataFrame
    problems: pd.DataFrame
    failures: pd.DataFrame | None = None
    as_of: pd.Timestamp | None = field(default=None)

    def __len__(self) -> int:
        return len(self.jobs)

    def subset(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
    ) -> JobFrames:
        """Jobs of this kind/status created in ``[since, until)``, with their tasks.

        Returns a new JobFrames (``self`` when nothing is filtered out).
        """
        jobs = self.jobs
        keep = pd.Series(True, index=jobs.index)
        if kind is not None:
            keep &= jobs["kind"] == canonical_kind(kind)
        if status is not None:
            keep &= jobs["status"] == canonical_status(status)
        for bound, op in ((parse_when(since), "ge"), (parse_when(until), "lt")):
            if bound is not None:
                stamp = pd.Timestamp(bound, unit="ms", tz="UTC")
                keep &= getattr(jobs["created_at"], op)(stamp).fillna(False)
        if bool(keep.all()):
            return self
        kept = jobs[keep.to_numpy()].reset_index(drop=True)
        tasks = self.tasks[self.tasks["job_id"].isin(kept["job_id"])].reset_index(drop=True)
        return JobFrames(kept, tasks, self.problems, self.failures, self.as_of)

    def to_parquet(self, path: Any, **options: Any) -> Any:
        """Write to a Parquet lake: see :func:`ittybit_frames.write_parquet`."""
        from ittybit_frames.lake import write_parquet  # noqa: PLC0415

        return write_parquet(self, path, **options)

    def _summary(self) -> dict[str, Any]:
        created = self.jobs["created_at"]
        span = (
            f"{created.min():%Y-%m-%d %H:%M} to {created.max():%Y-%m-%d %H:%M} UTC"
            if created.notna().any()
            else "no timestamps"
        )
        counts = self.jobs["status"].value_counts()
        return {
            "jobs": len(self.jobs),
            "tasks": len(self.tasks),
            "created": span,
            "status": ", ".join(f"{k} {v:,}" for k, v in counts.items() if v),
            "problems": len(self.problems),
            "fetch failures": 0 if self.failures is None else len(self.failures),
        }

    def __repr__(self) -> str:
        s = self._summary()
        return (
            f"JobFrames({s['jobs']:,} jobs, {s['tasks']:,} tasks, {s['problems']:,} problems;"
            f" created {s['created']})"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(f'{v:,}' if isinstance(v, int) else v)}"
            "</td></tr>"
            for k, v in self._summary().items()
        )
        return f"<table><caption>ittybit JobFrames</caption>{rows}</table>"


class _Problems:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.rows: list[tuple[Any, Any, str, str, str | None]] = []

    def add(self, job_id: Any, task_id: Any, column: str, problem: str, raw: Any) -> None:
        raw_text = None if raw is _MISSING else _json(raw)
        if self.strict:
            where = f"job {job_id}" + (f", task {task_id}" if task_id else "")
            raise SchemaError(f"{where}: {column}: {problem} (value: {raw_text})")
        self.rows.append((job_id, task_id, column, problem, raw_text))


_MISSING = object()


# ======================================================================================
# Value checks for the slow path: each returns a usable value, or None plus a problem.
# ======================================================================================
def _ts_value(p: _Problems, value: Any, jid: Any, tid: Any, col: str) -> int | None:
    if value is None:
        return None
    try:
        return epoch_ms(value)
    except ValueError as exc:
        p.add(jid, tid, col, f"unusable timestamp ({exc}); set to NA", value)
        return None


def _int_value(p: _Problems, value: Any, jid: Any, tid: Any, col: str) -> int | None:
    if value is None:
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if type(number) is int and -(2**63) <= number < 2**63:
        return number
    if (
        type(number) is float
        and math.isfinite(number)
        and number == int(number)
        and abs(number) < 2**63
    ):
        return int(number)
    p.add(jid, tid, col, "not a whole number; set to NA", value)
    return None


def _float_value(p: _Problems, value: Any, jid: Any, tid: Any, col: str) -> float | None:
    if value is None:
        return None
    number = math.nan
    if type(value) in (int, float):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if math.isfinite(number):
        return number
    p.add(jid, tid, col, "not a finite number; set to NA", value)
    return None


def _str_value(p: _Problems, value: Any, jid: Any, tid: Any, col: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) in (int, float):
        return str(value)
    p.add(jid, tid, col, "not text; stored as JSON text", value)
    return _json(value)


# ======================================================================================
# Columns: optimistic conversion in C (pyarrow), per-value fallback only where needed.
# ======================================================================================
class _Conv:
    """Converts raw value columns of one chunk into typed Arrow arrays."""

    def __init__(self, p: _Problems, job_ids: Any, task_ids: Any) -> None:
        self.p = p
        self.job_ids = job_ids
        self.task_ids = task_ids
        self.slow_rows: list[int] = []

    def _ids(self, i: int) -> tuple[Any, Any]:
        jid = self.job_ids[i]
        tid = self.task_ids[i] if self.task_ids is not None else None
        # Arrow scalars (looked up only when a problem is recorded) -> Python values.
        return (
            jid.as_py() if isinstance(jid, pa.Scalar) else jid,
            tid.as_py() if isinstance(tid, pa.Scalar) else tid,
        )

    def _infer(self, values: Any) -> pa.Array | None:
        try:
            return pa.array(values, from_pandas=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            return None

    def strings(self, values: Any, col: str) -> pa.Array:
        # An explicit type skips inference. It refuses everything but str and None (and
        # bytes, taken as UTF-8 text), so anything odd still reaches the careful path.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return pa.array(values, type=pa.string())
        return pa.array(
            [_str_value(self.p, v, *self._ids(i), col) for i, v in enumerate(values)],
            type=pa.string(),
        )

    def ints(self, values: Any, col: str, lo: int | None = None, hi: int | None = None) -> pa.Array:
        arr = self._infer(values)
        if arr is None or arr.type not in (pa.int64(), pa.null()):
            arr = pa.array(
                [_int_value(self.p, v, *self._ids(i), col) for i, v in enumerate(values)],
                type=pa.int64(),
            )
        arr = arr.cast(pa.int64())
        if lo is not None and hi is not None and arr.null_count < len(arr):
            bad = pc.or_(pc.less(arr, lo), pc.greater(arr, hi)).fill_null(False)
            if pc.any(bad).as_py():
                for i in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
                    self.p.add(
                        *self._ids(int(i)),
                        col,
                        f"outside {lo}-{hi}; set to NA",
                        arr[int(i)].as_py(),
                    )
                arr = pc.if_else(bad, pa.scalar(None, pa.int64()), arr)
        return arr

    def floats(self, values: Any, col: str) -> pa.Array:
        arr = self._infer(values)
        if arr is not None and arr.type in (pa.float64(), pa.int64(), pa.null()):
            arr = arr.cast(pa.float64())
            if arr.null_count == len(arr) or pc.all(pc.is_finite(arr)).as_py() is not False:
                return arr
        return pa.array(
            [_float_value(self.p, v, *self._ids(i), col) for i, v in enumerate(values)],
            type=pa.float64(),
        )

    def timestamps(self, values: Any, col: str) -> pa.Array:
        arr = self._infer(values)
        if arr is not None and arr.type in (pa.int64(), pa.null()):
            arr = arr.cast(pa.int64())
            if arr.null_count == len(arr):
                return arr.cast(TIMESTAMP)
            in_range = pc.and_(pc.greater_equal(arr, MS_MIN), pc.less(arr, MS_MAX))
            if pc.all(in_range.fill_null(True)).as_py():
                return arr.cast(TIMESTAMP)
        # Seconds, ISO strings, floats or junk: decide value by value.
        return pa.array(
            [_ts_value(self.p, v, *self._ids(i), col) for i, v in enumerate(values)],
            type=pa.int64(),
        ).cast(TIMESTAMP)

    def json_text(self, values: Any) -> pa.Array:
        present = [i for i, v in enumerate(values) if v is not None]
        if len(present) == len(values):
            return pa.array(_json_many(list(values)), type=pa.string())
        texts: list[Any] = [None] * len(values)
        for i, text in zip(present, _json_many([values[i] for i in present]), strict=True):
            texts[i] = text
        return pa.array(texts, type=pa.string())

    def words(self, values: Any, fast: dict[str, str], slow: Any, col: str) -> list[str]:
        """Canonical category words: exact documented words fast, the rest via ``slow``."""
        try:
            out = list(map(fast.get, values))
        except TypeError:  # an unhashable value (a list or object) somewhere
            out = [fast.get(v) if type(v) is str else None for v in values]
        self.slow_rows = []
        if None in out:
            for i, v in enumerate(values):
                if out[i] is None:
                    out[i] = slow(v, *self._ids(i), col)
                    self.slow_rows.append(i)
        return out  # type: ignore[return-value]


def _dictionary(words: list[str], categories: tuple[str, ...]) -> pa.DictionaryArray:
    dictionary = pa.array(categories, type=pa.string())
    codes = pc.index_in(pa.array(words, type=pa.string()), value_set=dictionary)
    return pa.DictionaryArray.from_arrays(codes.cast(pa.int8()), dictionary)


def _first(a: Any, b: Any) -> list[Any]:
    """Field with an older alias: the new name wins; the alias fills gaps."""
    return [x if x is not None else y for x, y in zip(a, b, strict=True)]


# ======================================================================================
# One chunk of job records -> Arrow tables (without durations)
# ======================================================================================
_JOB_FIELDS = JOB_FIELDS
_TASK_FIELDS = TASK_FIELDS
_OUT_FIELDS = FILE_FIELDS
_FILE_KEYS = frozenset({"object", *FILE_FIELDS})
_TAGS_OR_NONE = frozenset({*OBJECT_TAGS, None})
_JOB_KEYSET = frozenset(JOB_FIELDS)
_TASK_KEYSET = frozenset(TASK_FIELDS)
_FAILED_CODE = STATUSES.index("failed")
_PROBE_CODE = TASK_KINDS.index("probe")


class _Chunk:
    """Turns one list of job records into a jobs table and a tasks table."""

    def __init__(self, records: list[Any], rows: Any, p: _Problems) -> None:
        """``rows``: each record's position in the whole input (its line number for
        NDJSON), or the position of the first record when they are consecutive."""
        self.p = p
        kept: list[int] = []
        jrows: list[tuple[Any, ...]] = []
        trows: list[tuple[Any, ...]] = []
        self.jextra: dict[int, dict[str, Any]] = {}
        self.textra: dict[int, dict[str, Any]] = {}
        parent: list[int] = []
        index: list[int] = []
        has_tasks: list[bool] = []
        jfields, tfields = _JOB_FIELDS, _TASK_FIELDS
        for k, job in enumerate(records):
            if type(job) is not dict:
                p.add(None, None, "record", "not a JSON object; skipped", job)
                continue
            kept.append(k)
            r = len(jrows)
            jrows.append(tuple(map(job.get, jfields)))
            if not job.keys() <= _JOB_KEYSET:
                self.jextra[r] = {k: v for k, v in job.items() if k not in _JOB_KEYSET}
            tasks = job.get("tasks")
            if tasks is None:
                tasks = job.get("steps")  # staging naming: job called task, tasks steps
            elif "steps" in job:
                self.jextra.setdefault(r, {})["steps"] = job["steps"]
            if type(tasks) is not list:
                has_tasks.append(False)
                jid = job.get("id")
                if tasks is None:
                    p.add(
                        jid,
                        None,
                        "task_count",
                        "no task list in the payload; task_count is NA",
                        _MISSING,
                    )
                else:
                    p.add(jid, None, "task_count", "task list is not a list; ignored", tasks)
                continue
            has_tasks.append(True)
            for i, task in enumerate(tasks):
                if type(task) is not dict:
                    p.add(job.get("id"), None, "task_id", "task is not an object; skipped", task)
                    continue
                t = len(trows)
                trows.append(tuple(map(task.get, tfields)))
                parent.append(r)
                index.append(i)
                if not task.keys() <= _TASK_KEYSET:
                    self.textra[t] = {k: v for k, v in task.items() if k not in _TASK_KEYSET}
        self.n_jobs, self.n_tasks = len(jrows), len(trows)
        self.jraw = self._transpose(jfields, jrows)
        self.traw = self._transpose(tfields, trows)
        self.parent = np.asarray(parent, dtype=np.int64)
        self.index = index
        self.has_tasks = np.asarray(has_tasks, dtype=bool)
        positions = np.asarray(kept, dtype=np.int64)
        self.rows = positions + int(rows) if isinstance(rows, int) else np.asarray(rows)[positions]

    @staticmethod
    def _transpose(fields: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
        if not rows:
            return dict.fromkeys(fields, ())
        return dict(zip(fields, zip(*rows, strict=True), strict=True))

    # -- shared field handling ---------------------------------------------------------
    def _ident(
        self, conv: _Conv, values: Any, col: str, job_ids: Any, task_level: bool
    ) -> pa.Array:
        arr = conv._infer(values)
        if arr is not None and arr.type == pa.string() and arr.null_count == 0:
            return arr
        out: list[str | None] = []
        for i, v in enumerate(values):
            jid = job_ids[i]
            jid = jid.as_py() if isinstance(jid, pa.Scalar) else jid
            tid = None if not task_level else v
            if type(v) is str and v:
                out.append(v)
            elif type(v) is int:
                self.p.add(jid, tid, col, "numeric id; converted to text", v)
                out.append(str(v))
            else:
                self.p.add(
                    jid if task_level else None,
                    None,
                    col,
                    "missing or unusable id; set to NA",
                    _MISSING if v is None else v,
                )
                out.append(None)
        return pa.array(out, type=pa.string())

    def _tag(self, values: Any, extras: dict[int, dict[str, Any]]) -> None:
        with contextlib.suppress(TypeError):
            if set(values) <= _TAGS_OR_NONE:
                return
        for i, v in enumerate(values):
            if v is not None and (type(v) is not str or v not in OBJECT_TAGS):
                extras.setdefault(i, {})["object"] = v

    @staticmethod
    def _field(
        raw: dict[str, Any], name: str, alias: str, extras: dict[int, dict[str, Any]]
    ) -> Any:
        """A field with an older alias (created/created_at, outputs/output...): the new
        name wins, the alias fills its gaps, and an alias sent beside a value is kept in
        ``extra``."""
        old = raw[alias]
        if old.count(None) == len(old):
            return raw[name]
        for i, (a, b) in enumerate(zip(raw[name], old, strict=True)):
            if a is not None and b is not None:
                extras.setdefault(i, {})[alias] = b
        return _first(raw[name], old)

    def _timestamps(
        self, conv: _Conv, raw: dict[str, Any], extras: dict[int, dict[str, Any]]
    ) -> dict[str, pa.Array]:
        return {
            "created_at": conv.timestamps(
                self._field(raw, "created_at", "created", extras), "created_at"
            ),
            "started_at": conv.timestamps(raw["started_at"], "started_at"),
            "finished_at": conv.timestamps(raw["finished_at"], "finished_at"),
            "updated_at": conv.timestamps(
                self._field(raw, "updated_at", "updated", extras), "updated_at"
            ),
        }

    def _status(self, conv: _Conv, values: Any) -> tuple[list[str], pa.Array]:
        def slow(v: Any, jid: Any, tid: Any, col: str) -> str:
            canonical = canonical_status(v)
            if canonical == "other":
                self.p.add(
                    jid,
                    tid,
                    "status",
                    "unknown status; mapped to 'other' (raw value in status_raw)",
                    _MISSING if v is None else v,
                )
            return canonical

        words = conv.words(values, STATUS_WORDS, slow, "status")
        raw = conv._infer(values)
        if raw is None or raw.type not in (pa.string(), pa.null()):
            raw = pa.array(
                [v if v is None or type(v) is str else _json(v) for v in values], type=pa.string()
            )
        return words, raw.cast(pa.string())

    def _kind(
        self, conv: _Conv, values: Any, *, task: bool, extras: dict[int, dict[str, Any]]
    ) -> list[str]:
        def slow(v: Any, jid: Any, tid: Any, col: str) -> str:
            canonical = canonical_kind(v, task=task)
            if canonical == "other":
                self.p.add(
                    jid,
                    tid,
                    "kind",
                    "unknown kind; mapped to 'other'",
                    _MISSING if v is None else v,
                )
            return canonical

        words = conv.words(values, TASK_KIND_WORDS if task else JOB_KIND_WORDS, slow, "kind")
        for i in conv.slow_rows:
            if words[i] not in ("other", values[i]):  # an alias (ingest -> import): keep it
                extras.setdefault(i, {})["kind"] = values[i]
        return words

    def _urls(
        self, conv: _Conv, values: Any, name: str, extras: dict[int, dict[str, Any]]
    ) -> pa.Array:
        fast = self._fast_urls(values)
        if fast is not None:
            return conv.strings(fast, f"{name}_url")
        out: list[Any] = []
        for i, v in enumerate(values):
            if v is None or type(v) is str:
                out.append(v)
            elif type(v) is dict:
                if not v.keys() <= _FILE_KEYS:
                    extras.setdefault(i, {})[name] = {
                        k: x for k, x in v.items() if k not in _FILE_KEYS
                    }
                out.append(v.get("url"))
            elif type(v) is list:
                extras.setdefault(i, {})[name] = v
                first = v[0] if v else None
                out.append(
                    first
                    if type(first) is str
                    else (first.get("url") if type(first) is dict else None)
                )
            else:
                self.p.add(
                    *conv._ids(i), f"{name}_url", "not a URL or file object; stored in extra", v
                )
                extras.setdefault(i, {})[name] = v
                out.append(None)
        return conv.strings(out, f"{name}_url")

    @staticmethod
    def _fast_urls(values: Any) -> list[Any] | None:
        """URLs when every value is None/str, or every value a plain file object."""
        try:
            kinds = set(map(type, values))
            if kinds <= {str, type(None)}:
                return list(values)
            if kinds == {dict} and set().union(*map(dict.keys, values)) <= _FILE_KEYS:
                return [v.get("url") for v in values]
        except TypeError:
            pass
        return None

    def _errors(
        self, conv: _Conv, values: Any, extras: dict[int, dict[str, Any]]
    ) -> tuple[pa.Array, pa.Array]:
        kinds: list[Any] = [None] * len(values)
        messages: list[Any] = [None] * len(values)
        if values.count(None) == len(values):
            return conv.strings(kinds, "error_kind"), conv.strings(messages, "error_message")
        for i, v in enumerate(values):
            if v is None:
                continue
            if type(v) is str:
                messages[i] = v
            elif type(v) is dict:
                kinds[i] = v.get("kind", v.get("type", v.get("code")))
                messages[i] = v.get("message")
                if not v.keys() <= {"kind", "message"}:
                    extras.setdefault(i, {})["error"] = v
            else:
                self.p.add(
                    *conv._ids(i),
                    "error_message",
                    "error is neither text nor an object; stored as JSON text",
                    v,
                )
                messages[i] = _json(v)
        return conv.strings(kinds, "error_kind"), conv.strings(messages, "error_message")

    # -- jobs ---------------------------------------------------------------------------
    def jobs_table(self) -> dict[str, pa.Array]:
        raw, extras = self.jraw, self.jextra
        raw_ids = raw["id"]
        conv = _Conv(self.p, raw_ids, None)
        ids = self._ident(conv, raw_ids, "job_id", raw_ids, task_level=False)
        conv.job_ids = ids
        self._tag(raw["object"], extras)
        kinds = self._kind(conv, raw["kind"], task=False, extras=extras)
        statuses, status_raw = self._status(conv, raw["status"])
        ek, em = self._errors(conv, raw["error"], extras)
        cols: dict[str, pa.Array] = {
            "job_id": ids,
            "kind": _dictionary(kinds, JOB_KINDS),
            "status": _dictionary(statuses, STATUSES),
            "status_raw": status_raw,
            "input_url": self._urls(conv, raw["input"], "input", extras),
            "output_url": self._urls(conv, raw["output"], "output", extras),
            "options": conv.json_text(raw["options"]),
            "metadata": conv.json_text(raw["metadata"]),
            "error_kind": ek,
            "error_message": em,
            **self._timestamps(conv, raw, extras),
        }
        return cols

    # -- tasks --------------------------------------------------------------------------
    def tasks_table(self, job_ids: pa.Array) -> dict[str, pa.Array]:
        raw, extras = self.traw, self.textra
        tjob_ids = job_ids.take(pa.array(self.parent, type=pa.int64()))
        raw_ids = raw["id"]
        conv = _Conv(self.p, tjob_ids, raw_ids)
        ids = self._ident(conv, raw_ids, "task_id", tjob_ids, task_level=True)
        conv.task_ids = ids
        self._tag(raw["object"], extras)
        kinds = self._kind(conv, raw["kind"], task=True, extras=extras)
        statuses, status_raw = self._status(conv, raw["status"])
        inputs = self._field(raw, "input", "inputs", extras)
        outputs = self._field(raw, "output", "outputs", extras)
        ek, em = self._errors(conv, raw["error"], extras)
        cols: dict[str, pa.Array] = {
            "job_id": tjob_ids,
            "task_id": ids,
            "task_index": pa.array(self.index, type=pa.int64()),
            "kind": _dictionary(kinds, TASK_KINDS),
            "status": _dictionary(statuses, STATUSES),
            "status_raw": status_raw,
            "progress": conv.ints(raw["progress"], "progress", 0, 100),
            "input_url": self._urls(conv, inputs, "input", extras),
            **self._outputs(conv, outputs, extras),
            "options": conv.json_text(raw["options"]),
            "error_kind": ek,
            "error_message": em,
            **self._timestamps(conv, raw, extras),
        }
        return cols

    def _outputs(
        self, conv: _Conv, values: Any, extras: dict[int, dict[str, Any]]
    ) -> dict[str, pa.Array]:
        none = (None,) * len(_OUT_FIELDS)
        parts: list[tuple[Any, ...]] = []
        fast = False
        try:
            kinds = set(map(type, values))
            fast = (
                kinds <= {dict, type(None)}
                and set().union(*(v.keys() for v in values if v is not None)) <= _FILE_KEYS
            )
        except TypeError:
            pass
        if fast:
            parts = [none if v is None else tuple(map(v.get, _OUT_FIELDS)) for v in values]
            values = ()  # nothing left for the careful loop below
        for i, value in enumerate(values):
            v = value
            if type(value) is list:  # "runs" API outputs[]: map the first file, keep them all
                extras.setdefault(i, {}).setdefault("outputs", value)
                v = next((o for o in value if type(o) is dict), None)
            if type(v) is dict:
                parts.append(tuple(map(v.get, _OUT_FIELDS)))
                if not v.keys() <= _FILE_KEYS:
                    extras.setdefault(i, {})["output"] = {
                        k: x for k, x in v.items() if k not in _FILE_KEYS
                    }
                if "fps" in v and "framerate" in v:
                    extras.setdefault(i, {}).setdefault("output", {})["framerate"] = v["framerate"]
            elif v is None:
                parts.append(none)
            elif type(v) is str:
                parts.append((v, *none[1:]))
            else:
                self.p.add(
                    *conv._ids(i),
                    "output_url",
                    "output is not a file object or URL; stored in extra",
                    v,
                )
                extras.setdefault(i, {})["output"] = v
                parts.append(none)
        cols = (
            dict(zip(_OUT_FIELDS, zip(*parts, strict=True), strict=True))
            if parts
            else dict.fromkeys(_OUT_FIELDS, ())
        )
        codecs = cols["codecs"]
        try:
            simple = set(map(type, codecs)) <= {dict, type(None)} and set().union(
                *(c.keys() for c in codecs if c is not None)
            ) <= {"video", "audio"}
        except TypeError:
            simple = False
        if simple:
            video = [None if c is None else c.get("video") for c in codecs]
            audio = [None if c is None else c.get("audio") for c in codecs]
            codecs = ()
        else:
            video = [None] * len(parts)
            audio = [None] * len(parts)
        for i, c in enumerate(codecs):
            if c is None:
                continue
            if type(c) is dict:
                video[i], audio[i] = c.get("video"), c.get("audio")
                if not c.keys() <= {"video", "audio"}:
                    extras.setdefault(i, {}).setdefault("output", {})["codecs"] = {
                        k: x for k, x in c.items() if k not in ("video", "audio")
                    }
            else:
                self.p.add(
                    *conv._ids(i),
                    "output_codec_video",
                    "codecs is not an object; stored in extra",
                    c,
                )
                extras.setdefault(i, {}).setdefault("output", {})["codecs"] = c
        single = cols["codec"]
        for i, c in enumerate(() if single.count(None) == len(single) else single):
            # 2025 API: one `codec` per file.
            if c is not None:
                if cols["kind"][i] == "audio":
                    audio[i] = audio[i] if audio[i] is not None else c
                else:
                    video[i] = video[i] if video[i] is not None else c
        # "runs" API: codecs are objects {"name", "profile", ...}: take the name.
        for names in (video, audio):
            if not set(map(type, names)) <= {str, type(None)}:
                for i, c in enumerate(names):
                    if type(c) is dict:
                        names[i] = c.get("name")
                        # Profile, level, sample rate...: kept whole in extra.
                        extras.setdefault(i, {}).setdefault("output", {})["codecs"] = cols[
                            "codecs"
                        ][i]
        return {
            "output_url": conv.strings(cols["url"], "output_url"),
            "output_kind": conv.strings(cols["kind"], "output_kind"),
            "output_format": conv.strings(cols["format"], "output_format"),
            "output_width": conv.ints(cols["width"], "output_width"),
            "output_height": conv.ints(cols["height"], "output_height"),
            "output_duration_seconds": conv.floats(cols["duration"], "output_duration_seconds"),
            "output_codec_video": conv.strings(video, "output_codec_video"),
            "output_codec_audio": conv.strings(audio, "output_codec_audio"),
            "output_filesize_bytes": conv.ints(cols["filesize"], "output_filesize_bytes"),
            "output_bitrate": conv.ints(cols["bitrate"], "output_bitrate"),
            "output_fps": conv.floats(
                cols["fps"]
                if cols["framerate"].count(None) == len(cols["framerate"])
                else _first(cols["fps"], cols["framerate"]),
                "output_fps",
            ),
        }

    # -- both, with the columns derived across them ---------------------------------------
    def build(self) -> tuple[pa.Table, pa.Table]:
        jcols = self.jobs_table()
        tcols = self.tasks_table(jcols["job_id"])
        return _assemble(
            jcols,
            tcols,
            self.parent,
            self.has_tasks,
            self.rows,
            _extra_column(self.jextra, self.n_jobs),
            _extra_column(self.textra, self.n_tasks),
        )


def _assemble(
    jcols: dict[str, pa.Array],
    tcols: dict[str, pa.Array],
    parent: np.ndarray,
    has_tasks: np.ndarray,
    rows: np.ndarray,
    jextra: pa.Array,
    textra: pa.Array,
) -> tuple[pa.Table, pa.Table]:
    """Job and task columns -> the two tables, with the columns derived across them.

    ``parent`` is each task's job (row index into ``jcols``); ``has_tasks`` says which
    jobs came with a task list; ``rows`` is each job's position in the input.
    """
    nj = len(has_tasks)
    counts = np.bincount(parent, minlength=nj)
    status_codes = tcols["status"].indices.to_numpy(zero_copy_only=False)
    failed = np.bincount(parent[status_codes == _FAILED_CODE], minlength=nj)
    jcols["task_count"] = pa.array(counts, mask=~has_tasks, type=pa.int64())
    jcols["failed_task_count"] = pa.array(failed, mask=~has_tasks, type=pa.int64())
    # Media duration: the first probe task with a duration, per job.
    media = np.full(nj, np.nan)
    durations = tcols["output_duration_seconds"].to_numpy(zero_copy_only=False)
    kind_codes = tcols["kind"].indices.to_numpy(zero_copy_only=False)
    probe = (kind_codes == _PROBE_CODE) & ~np.isnan(durations.astype(np.float64))
    if probe.any():
        first_rows, first = np.unique(parent[probe], return_index=True)
        media[first_rows] = durations[probe][first]
    jcols["media_duration_seconds"] = pa.array(media, type=pa.float64(), from_pandas=True)
    jcols["extra"] = jextra
    # Parent fields on every task row.
    take = pa.array(parent, type=pa.int64())
    tcols["job_kind"] = jcols["kind"].take(take)
    tcols["job_status"] = jcols["status"].take(take)
    tcols["job_created_at"] = jcols["created_at"].take(take)
    tcols["extra"] = textra
    job_rows = np.asarray(rows, dtype=np.int64)
    jcols["_row"] = pa.array(job_rows, type=pa.int64())
    jcols["_updated"] = jcols["updated_at"]
    tcols["_row"] = pa.array(job_rows[parent], type=pa.int64())
    return _table(JOBS, jcols), _table(TASKS, tcols)


def _extra_column(extras: dict[int, dict[str, Any]], n: int) -> pa.Array:
    values: list[str | None] = [None] * n
    for i, extra in extras.items():
        values[i] = _json(extra)
    return pa.array(values, type=pa.string())


_HIDDEN = ("_row", "_updated")


def _table(table: Table, cols: dict[str, pa.Array]) -> pa.Table:
    """Schema order, without durations (added once all chunks are joined), plus hidden."""
    names = [c for c in table.names if c not in _DURATION_COLUMNS]
    names += [h for h in _HIDDEN if h in cols]
    return pa.Table.from_arrays([cols[n] for n in names], names=names)


# ======================================================================================
# Loading, de-duplication, durations
# ======================================================================================
_CHUNK = 5000
#: NDJSON is read in blocks of about this many bytes (whole lines).
_NDJSON_BLOCK = 32 * 2**20
_NOT_SPACE = re.compile(rb"\S")
#: Let DuckDB take the NDJSON lines of the documented shape (tests switch it off to get
#: the careful path's answer for the same bytes).
_USE_SQL = True


def _parse_lines(lines: list[tuple[int, bytes]], p: _Problems) -> tuple[list[Any], list[int]]:
    """(line number, bytes) -> the records and their line numbers; blank lines are
    skipped, an invalid one is reported by number."""
    records: list[Any] = []
    numbers: list[int] = []
    for n, line in lines:
        if not line or line.isspace():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            p.add(
                None,
                None,
                "record",
                f"line {n} is not valid JSON; skipped",
                line[:200].decode(errors="replace").rstrip("\r\n"),
            )
            continue
        numbers.append(n)
    return records, numbers


def _as_ndjson(records: Any) -> bytes | None:
    """The bytes of ``records`` if it is NDJSON text, else None."""
    if not isinstance(records, bytes | bytearray | memoryview | str):
        return None
    data = records.encode() if isinstance(records, str) else bytes(records)
    start = _NOT_SPACE.search(data)
    head = data[start.start() : start.start() + 1] if start else b""
    if head == b"[":
        return None
    if head == b"{":
        first = data.find(b"\n")
        # One object, or an envelope spread over lines, is one JSON document.
        if first < 0 or not _NOT_SPACE.search(data, first):
            return None
        try:
            orjson.loads(data[:first])
        except orjson.JSONDecodeError:
            return None  # a pretty-printed document, not one object per line
    return data


def _chunks(records: Any) -> Iterable[list[Any]]:
    """Job records in lists of at most ``_CHUNK``, whatever form (not NDJSON) they came in."""
    if isinstance(records, bytes | bytearray | memoryview | str):
        try:
            records = orjson.loads(records)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"records are not valid JSON or NDJSON: {exc}") from None
    if isinstance(records, dict):
        records = records["data"] if isinstance(records.get("data"), list) else [records]
    if not isinstance(records, Iterable):
        raise TypeError("records must be job dicts, a JSON array, or NDJSON bytes/text")
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _dedupe(jobs: pa.Table, tasks: pa.Table, p: _Problems) -> tuple[pa.Table, pa.Table]:
    """One row per job ID: the record updated last (the later one on a tie)."""
    ids = jobs["job_id"]
    if pc.count_distinct(ids).as_py() + ids.null_count >= len(ids):
        return jobs, tasks
    frame = pd.DataFrame(
        {
            "id": ids.to_pandas(),
            "updated": jobs["_updated"].cast(pa.int64()).to_pandas().fillna(-1),
            "pos": np.arange(len(ids)),
        }
    )
    with_id = frame[frame["id"].notna()]
    winners = with_id.sort_values(["updated", "pos"]).drop_duplicates("id", keep="last")
    keep = np.ones(len(frame), dtype=bool)
    losers = with_id.index.difference(winners.index)
    keep[losers] = False
    raw_updated = jobs["updated_at"]
    for pos in losers:
        p.add(
            frame.at[pos, "id"],
            None,
            "job_id",
            "duplicate job id; kept the record updated last",
            _MISSING if raw_updated[pos].as_py() is None else str(raw_updated[pos].as_py()),
        )
    kept_rows = pa.array(jobs["_row"].to_numpy()[keep])
    jobs = jobs.filter(pa.array(keep))
    tasks = tasks.filter(pc.is_in(tasks["_row"], value_set=kept_rows))
    return jobs, tasks


def _durations(
    table: pa.Table, as_of_ms: int | None, p: _Problems, task_level: bool
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """queue/processing/total seconds from the exact millisecond integers."""

    def ms(name: str) -> np.ndarray:
        values: np.ndarray = table[name].cast(pa.int64()).to_numpy(zero_copy_only=False)
        return values.astype(np.float64)  # exact: epoch ms < 2**53

    created, started, finished = ms("created_at"), ms("started_at"), ms("finished_at")
    out = {
        "queue_seconds": (started - created) / 1000.0,
        "processing_seconds": (finished - started) / 1000.0,
        "total_seconds": (finished - created) / 1000.0,
    }
    provisional = None
    if as_of_ms is not None:
        terminal = pc.is_in(
            table["status"], value_set=pa.array(sorted(TERMINAL_STATUSES), type=pa.string())
        ).to_numpy(zero_copy_only=False)
        provisional = np.isnan(finished) & ~terminal & ~np.isnan(created)
        queue_so_far = (np.where(np.isnan(started), float(as_of_ms), started) - created) / 1000.0
        out["queue_seconds"] = np.where(
            provisional & np.isnan(out["queue_seconds"]), queue_so_far, out["queue_seconds"]
        )
        out["processing_seconds"] = np.where(
            provisional, (as_of_ms - started) / 1000.0, out["processing_seconds"]
        )
        out["total_seconds"] = np.where(
            provisional, (as_of_ms - created) / 1000.0, out["total_seconds"]
        )
    for name, values in out.items():
        with np.errstate(invalid="ignore"):
            negative = np.flatnonzero(values < 0)
        for i in negative:
            jid = table["job_id"][int(i)].as_py()
            tid = table["task_id"][int(i)].as_py() if task_level else None
            p.add(jid, tid, name, "negative duration (clock skew?); set to NA", float(values[i]))
        values[negative] = np.nan
    return out, provisional


def _finish(
    schema: Table, table: pa.Table, as_of_ms: int | None, p: _Problems, task_level: bool
) -> pd.DataFrame:
    durations, provisional = _durations(table, as_of_ms, p, task_level)
    columns = []
    for name in schema.names:
        if name in durations:
            columns.append(pa.array(durations[name], type=pa.float64(), from_pandas=True))
        else:
            columns.append(table[name])
    if provisional is not None:
        columns.append(pa.array(provisional, type=pa.bool_()))
    arrow = pa.Table.from_arrays(
        columns, schema=schema.arrow_schema(provisional=provisional is not None)
    )
    frame: pd.DataFrame = arrow.to_pandas(
        types_mapper=ARROW_TO_PANDAS.get, coerce_temporal_nanoseconds=False
    )
    # All-null categories come back from Arrow with whatever categories it saw: pin them.
    for column in schema.columns:
        if column.categories is not None:
            frame[column.name] = frame[column.name].cat.set_categories(list(column.categories))
    return frame


def _build_records(records: Any, p: _Problems) -> tuple[list[pa.Table], list[pa.Table]]:
    job_parts, task_parts, row = [], [], 0
    for chunk in _chunks(records):
        jobs_t, tasks_t = _Chunk(chunk, row, p).build()
        row += len(chunk)
        job_parts.append(jobs_t)
        task_parts.append(tasks_t)
    return job_parts, task_parts


def _categories(raw: Any, mapping: dict[str, str], categories: tuple[str, ...]) -> pa.Array:
    """Documented words (every value is one) -> the category column."""
    codes = pa.array([categories.index(mapping[k]) for k in mapping], type=pa.int8())
    positions = pc.index_in(raw, value_set=pa.array(list(mapping), type=pa.string()))
    return pa.DictionaryArray.from_arrays(
        codes.take(positions), pa.array(categories, type=pa.string())
    )


def _typed(table: pa.Table, schema: Table) -> dict[str, pa.Array]:
    """The plain (not category) columns of ``schema`` that ``table`` has, cast to their
    schema types (DuckDB's int64 milliseconds -> timestamps, for one)."""
    return {
        c.name: table[c.name].combine_chunks().cast(c.arrow)
        for c in schema.columns
        if c.categories is None and c.name in table.column_names
    }


def _fast_tables(block: Any) -> tuple[pa.Table, pa.Table]:
    """The lines SQL took whole (see ``_ndjson``) -> jobs and tasks tables."""
    jobs, tasks, parent = block.jobs, block.tasks, block.parent
    jcols, tcols = _typed(jobs, JOBS), _typed(tasks, TASKS)
    tcols["job_id"] = jcols["job_id"].take(pa.array(parent, type=pa.int64()))
    for cols, table, kinds, categories in (
        (jcols, jobs, JOB_KIND_WORDS, JOB_KINDS),
        (tcols, tasks, TASK_KIND_WORDS, TASK_KINDS),
    ):
        status = table["status"].combine_chunks()
        cols["kind"] = _categories(table["kind"].combine_chunks(), kinds, categories)
        cols["status"] = _categories(status, STATUS_WORDS, STATUSES)
        cols["status_raw"] = status
    n_jobs, n_tasks = len(jobs), len(tasks)
    return _assemble(
        jcols,
        tcols,
        parent,
        np.ones(n_jobs, dtype=bool),
        jobs["r"].to_numpy(),
        pa.nulls(n_jobs, pa.string()),
        pa.nulls(n_tasks, pa.string()),
    )


def _build_ndjson(
    data: bytes, p: _Problems, threads: int | None
) -> tuple[list[pa.Table], list[pa.Table]]:
    """NDJSON: DuckDB takes the lines of the documented shape, ``_Chunk`` the rest."""
    from ittybit_frames import _ndjson  # noqa: PLC0415

    job_parts: list[pa.Table] = []
    task_parts: list[pa.Table] = []
    blocks = _ndjson.scan(data, _NDJSON_BLOCK, threads) if _USE_SQL else _ndjson.unscanned(data)
    for block in blocks:
        if len(block.jobs):
            jobs_t, tasks_t = _fast_tables(block)
            job_parts.append(jobs_t)
            task_parts.append(tasks_t)
        for start in range(0, len(block.left), _CHUNK):
            records, numbers = _parse_lines(block.left[start : start + _CHUNK], p)
            if records:
                jobs_t, tasks_t = _Chunk(records, numbers, p).build()
                job_parts.append(jobs_t)
                task_parts.append(tasks_t)
    return job_parts, task_parts


def _in_input_order(jobs: pa.Table, tasks: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Rows from the two NDJSON paths interleave: put them back in line order."""
    rows = jobs["_row"].to_numpy()
    if len(rows) < 2 or bool(np.all(rows[1:] >= rows[:-1])):
        return jobs, tasks
    jobs = jobs.take(pc.sort_indices(jobs, [("_row", "ascending")]))
    order = [("_row", "ascending"), ("task_index", "ascending")]
    return jobs, tasks.take(pc.sort_indices(tasks, order))


def to_frames(
    records: Any, *, strict: bool = False, as_of: Any = None, workers: int | None = None
) -> JobFrames:
    """Turn job payloads into typed ``jobs`` and ``tasks`` DataFrames.

    Parameters
    ----------
    records : iterable of dict, or bytes/str
        Jobs as the client returns them, a JSON array, a ``{"data": [...]}`` envelope,
        or NDJSON. Every documented API generation is accepted (timestamps in ms, s or
        ISO-8601; old field names; every status vocabulary).
    strict : bool, default False
        Raise :class:`~ittybit_frames.SchemaError` at the first problem instead of
        recording it in ``problems``.
    as_of : datetime, str or int, optional
        Give unfinished rows their elapsed-so-far durations up to this instant, and add
        a ``durations_provisional`` column that marks them.
    workers : int, optional
        Threads that read NDJSON input (default: one per core). NDJSON is parsed and
        flattened in C (DuckDB's JSON reader); only lines that are not of the current
        documented shape go through the slower, careful path in Python, with the same
        result.

    Returns
    -------
    JobFrames
        ``jobs`` (one row per distinct job ID; the record updated last wins),
        ``tasks`` (one row per task) and ``problems``.

    Raises
    ------
    SchemaError
        With ``strict=True``, at the first problem.

    Examples
    --------
    >>> frames = to_frames([{"id": "job_1", "kind": "video", "status": "ready",
    ...                      "created_at": 1711900000000, "started_at": 1711900001000,
    ...                      "finished_at": 1711900045000, "tasks": []}])
    >>> frames.jobs.loc[0, ["status", "status_raw", "total_seconds"]].tolist()
    ['succeeded', 'ready', 45.0]
    """
    p = _Problems(strict)
    as_of_ms = parse_when(as_of)
    gc_was_enabled = gc.isenabled()
    # Millions of small containers are made and dropped here; none forms a cycle, so the
    # cyclic GC would only walk them (and the caller's payloads) again and again.
    gc.disable()
    try:
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        ndjson = _as_ndjson(records)
        if ndjson is not None:
            job_parts, task_parts = _build_ndjson(ndjson, p, workers)
        else:
            job_parts, task_parts = _build_records(records, p)
        if not job_parts:
            job_parts, task_parts = (list(t) for t in zip(_Chunk([], 0, p).build(), strict=True))
        jobs_t = pa.concat_tables(job_parts)
        tasks_t = pa.concat_tables(task_parts)
        jobs_t, tasks_t = _in_input_order(jobs_t, tasks_t)
        jobs_t, tasks_t = _dedupe(jobs_t, tasks_t, p)
        jobs = _finish(JOBS, jobs_t, as_of_ms, p, task_level=False)
        tasks = _finish(TASKS, tasks_t, as_of_ms, p, task_level=True)
    finally:
        if gc_was_enabled:
            gc.enable()
    problems = pd.DataFrame(p.rows, columns=PROBLEMS.names).astype(PROBLEMS.dtypes())
    stamp = pd.Timestamp(as_of_ms, unit="ms", tz="UTC") if as_of_ms is not None else None
    return JobFrames(jobs, tasks, problems, as_of=stamp)
