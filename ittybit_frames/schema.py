"""The one source of truth for the jobs and tasks tables.

Column names and order, Arrow types, pandas dtypes, units and meanings live here. The
README's data dictionary and ``ittybit-frames schema`` are generated from this module,
and a test keeps the README in sync.

Type decisions:

- Timestamps are ``timestamp[ms, tz=UTC]`` in Arrow and ``datetime64[ms, UTC]`` in pandas:
  exactly the API's millisecond precision, never nanoseconds (which Spark, Athena and
  Power BI reject in Parquet).
- ``kind``/``status`` are categoricals over a fixed, documented set (``other`` for
  anything unrecognised), dictionary-encoded in Arrow; the raw words are kept in
  ``kind_raw`` and ``status_raw``.
- Integers are nullable (``Int64``), strings the pandas ``string`` dtype, free-form
  objects (``options``, ``metadata``, ``extra``) JSON text with sorted keys, so they
  survive Parquet and BI tools unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from ittybit_frames.vocabulary import JOB_KINDS, STATUSES, TASK_KINDS

__all__ = [
    "ARROW_TO_PANDAS",
    "FAILURES",
    "JOBS",
    "PROBLEMS",
    "PROVISIONAL",
    "SCHEMA_VERSION",
    "TASKS",
    "Column",
    "Table",
    "counted",
    "data_dictionary",
    "describe_failures",
    "epoch_ms_array",
    "failures_frame",
]

#: Bumped whenever a column is added, removed, renamed or retyped.
SCHEMA_VERSION = 2

TIMESTAMP = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class Column:
    """One column: name, types, unit and meaning."""

    name: str
    arrow: pa.DataType
    unit: str
    meaning: str
    null: str
    categories: tuple[str, ...] | None = None

    @property
    def dtype(self) -> Any:
        """The pandas dtype of this column."""
        if self.categories is not None:
            return pd.CategoricalDtype(list(self.categories), ordered=False)
        return _PANDAS[str(self.arrow)]

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type as stored (dictionary-encoded for categories)."""
        if self.categories is not None:
            return pa.dictionary(pa.int8(), pa.string())
        return self.arrow

    @property
    def type_name(self) -> str:
        if self.categories is not None:
            return "category"
        return {"timestamp[ms, tz=UTC]": "timestamp[ms, UTC]"}.get(str(self.arrow), str(self.arrow))


_PANDAS: dict[str, Any] = {
    "string": pd.StringDtype(),
    "int64": pd.Int64Dtype(),
    "double": "float64",
    "bool": pd.BooleanDtype(),
    "timestamp[ms, tz=UTC]": pd.DatetimeTZDtype("ms", "UTC"),
}


#: Arrow type -> pandas dtype for every Arrow -> pandas conversion of our tables
#: (nullable extension dtypes; other types keep pyarrow's default).
ARROW_TO_PANDAS: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


@dataclass(frozen=True)
class Table:
    """An ordered set of columns."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def arrow_schema(self, *, provisional: bool = False) -> pa.Schema:
        """The Arrow schema (with the optional ``durations_provisional`` column)."""
        cols = [*self.columns, PROVISIONAL] if provisional else list(self.columns)
        return pa.schema([pa.field(c.name, c.arrow_type) for c in cols])

    def to_arrow(
        self, frame: pd.DataFrame, *, dictionary: bool = True, provisional: bool | None = None
    ) -> pa.Table:
        """``frame`` as an Arrow table of exactly these columns and types.

        Categories become dictionary arrays (``dictionary=False``: plain strings); the
        optional ``durations_provisional`` column is kept when the frame has it (or
        never, with ``provisional=False``: the lake stores only the table's columns,
        and so not the durations so far that the column marks either: they are NA, as
        without ``as_of``).
        """
        cols = list(self.columns)
        keep = PROVISIONAL.name in frame.columns if provisional is None else provisional
        if keep and PROVISIONAL.name not in self.names:
            cols.append(PROVISIONAL)
        so_far = not keep and PROVISIONAL.name in frame.columns
        fields, arrays = [], []
        for column in cols:
            series = frame[column.name]
            if so_far and column.name in _ENDED_BY:
                series = _without_so_far(frame, column.name)
            if column.categories is not None:
                arrow_type = column.arrow_type if dictionary else column.arrow
                # A pandas Categorical converts to a dictionary array without copying strings.
                values = pa.array(series.astype(column.dtype), from_pandas=True)
                arrays.append(values.cast(arrow_type))
            else:
                arrow_type = column.arrow
                arrays.append(pa.array(series, type=arrow_type, from_pandas=True))
            fields.append(pa.field(column.name, arrow_type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def dtypes(self, *, provisional: bool = False) -> dict[str, Any]:
        """Column name -> pandas dtype, in order."""
        cols = [*self.columns, PROVISIONAL] if provisional else list(self.columns)
        return {c.name: c.dtype for c in cols}

    def empty(self, *, provisional: bool = False) -> pd.DataFrame:
        """An empty frame with exactly these columns and dtypes."""
        return pd.DataFrame(
            {
                name: pd.Series([], dtype=dtype)
                for name, dtype in self.dtypes(provisional=provisional).items()
            }
        )


#: The timestamp that ends each duration: where it is NA on a provisional row, the
#: duration is elapsed so far up to as_of (NA without it).
_ENDED_BY = {
    "queue_seconds": "started_at",
    "processing_seconds": "finished_at",
    "total_seconds": "finished_at",
}


def _without_so_far(frame: pd.DataFrame, name: str) -> pd.Series:
    """Duration ``name`` of ``frame`` with its elapsed-so-far values NA."""
    flagged = frame[PROVISIONAL.name].fillna(False).astype(bool)
    return frame[name].mask(flagged & frame[_ENDED_BY[name]].isna())


_S = pa.string()
_I = pa.int64()
_F = pa.float64()

_UTC_NOTE = "UTC, millisecond precision"


def _ts(name: str, meaning: str, null: str) -> Column:
    return Column(name, TIMESTAMP, _UTC_NOTE, meaning, null)


def _file_columns(prefix: str, what: str, absent: str) -> tuple[Column, ...]:
    """The media columns of one file object (a task's input or output), beside its URL."""
    return (
        Column(f"{prefix}_kind", _S, "", f"media kind of the {what} file", absent),
        Column(
            f"{prefix}_format",
            _S,
            "",
            f"container/format of the {what} (mp4, webp...)",
            f"{absent} or not reported",
        ),
        Column(f"{prefix}_width", _I, "pixels", f"{what} width", "not reported (e.g. audio)"),
        Column(f"{prefix}_height", _I, "pixels", f"{what} height", "not reported (e.g. audio)"),
        Column(
            f"{prefix}_duration_seconds",
            _F,
            "seconds",
            f"{what} media duration",
            "not reported (e.g. images)",
        ),
        Column(f"{prefix}_codec_video", _S, "", f"video codec of the {what}", "no video stream"),
        Column(f"{prefix}_codec_audio", _S, "", f"audio codec of the {what}", "no audio stream"),
        Column(f"{prefix}_filesize_bytes", _I, "bytes", f"{what} file size", "not reported"),
        Column(f"{prefix}_bitrate", _I, "bits/second", f"{what} bitrate", "not reported"),
        Column(f"{prefix}_fps", _F, "frames/second", f"{what} frame rate", "not reported"),
    )


def _durations(what: str) -> tuple[Column, ...]:
    return (
        Column(
            "queue_seconds",
            _F,
            "seconds",
            f"started_at - created_at of the {what}",
            "not started yet (or, with as_of, time queued so far)",
        ),
        Column(
            "processing_seconds",
            _F,
            "seconds",
            f"finished_at - started_at of the {what}",
            "not started or not finished (with as_of: so far); negative values (clock skew)",
        ),
        Column(
            "total_seconds",
            _F,
            "seconds",
            f"finished_at - created_at of the {what}",
            "not finished (with as_of: so far); negative values (clock skew)",
        ),
    )


_ERROR_COLS = (
    Column(
        "error_kind",
        _S,
        "",
        "machine-readable error kind, when the error is an object",
        "no error, or a plain-text error",
    ),
    Column(
        "error_message", _S, "", "error text (a non-text, non-object error as JSON)", "no error"
    ),
)

JOBS = Table(
    "jobs",
    (
        Column("job_id", _S, "", "job ID (opaque)", "the payload had no usable id"),
        Column(
            "kind",
            _S,
            "",
            "job kind (every API version's kind words; older names of a stage mapped)",
            "never null; unrecognised kinds are 'other'",
            JOB_KINDS,
        ),
        Column("kind_raw", _S, "", "kind exactly as the API sent it", "not sent"),
        Column(
            "status",
            _S,
            "",
            "canonical status (every API generation's words mapped)",
            "never null; unrecognised statuses are 'other'",
            STATUSES,
        ),
        Column("status_raw", _S, "", "status exactly as the API sent it", "not sent"),
        Column("input_url", _S, "", "URL of the job's input media", "not sent"),
        Column("output_url", _S, "", "URL of the job's main output", "not produced (yet)"),
        Column("options", _S, "JSON", "options the job was created with", "not sent"),
        Column("metadata", _S, "JSON", "user metadata attached to the job", "not sent"),
        *_ERROR_COLS,
        _ts("created_at", "when the job was created", "not sent or unusable"),
        _ts("started_at", "when the first task started", "not started yet"),
        _ts("finished_at", "when the job reached a terminal status", "not finished yet"),
        _ts("updated_at", "last change", "not sent"),
        *_durations("job"),
        Column("task_count", _I, "tasks", "number of tasks", "the payload had no task list"),
        Column(
            "failed_task_count",
            _I,
            "tasks",
            "tasks with status failed",
            "the payload had no task list",
        ),
        Column(
            "media_duration_seconds",
            _F,
            "seconds",
            "duration of the input media: the probe task's output duration, else the first"
            " task input duration, else the job input's",
            "no duration anywhere (images, or probe not finished)",
        ),
        Column(
            "extra",
            _S,
            "JSON",
            "every field this version does not map, so nothing is lost",
            "no unmapped fields",
        ),
    ),
)

TASKS = Table(
    "tasks",
    (
        Column("job_id", _S, "", "ID of the job the task belongs to", "job had no usable id"),
        Column("task_id", _S, "", "task ID (opaque)", "the payload had no usable id"),
        Column("task_index", _I, "", "position of the task in its job (0 = first)", "never"),
        Column(
            "kind",
            _S,
            "",
            "task kind: a pipeline stage, an encode kind or an older API's task kind",
            "never null; unrecognised kinds are 'other'",
            TASK_KINDS,
        ),
        Column("kind_raw", _S, "", "kind exactly as the API sent it", "not sent"),
        Column("status", _S, "", "canonical status", "never null; unrecognised: 'other'", STATUSES),
        Column("status_raw", _S, "", "status exactly as the API sent it", "not sent"),
        Column("progress", _I, "percent", "progress 0-100", "not reported"),
        Column(
            "input_url",
            _S,
            "",
            "URL of the task's input (the rest of an input file "
            "object repeats the previous task's output)",
            "not sent",
        ),
        *_file_columns("input", "input", "no input object"),
        Column("output_url", _S, "", "URL of the task's output file", "no output (yet)"),
        *_file_columns("output", "output", "no output"),
        Column("options", _S, "JSON", "task options", "not sent"),
        *_ERROR_COLS,
        _ts("created_at", "when the task was created", "not sent or unusable"),
        _ts("started_at", "when the task started", "not started (or never ran)"),
        _ts("finished_at", "when the task reached a terminal status", "not finished"),
        _ts("updated_at", "last change", "not sent"),
        *_durations("task"),
        Column("job_kind", _S, "", "kind of the parent job", "never null", JOB_KINDS),
        Column("job_status", _S, "", "canonical status of the parent job", "never null", STATUSES),
        _ts("job_created_at", "when the parent job was created", "parent had none"),
        Column(
            "extra", _S, "JSON", "every task field this version does not map", "no unmapped fields"
        ),
    ),
)

#: Added to both tables by ``to_frames(..., as_of=...)``.
PROVISIONAL = Column(
    "durations_provisional",
    pa.bool_(),
    "",
    "True where the durations are elapsed-so-far up to as_of (the row has not finished)",
    "never (only present when as_of is given)",
)

PROBLEMS = Table(
    "problems",
    (
        Column("job_id", _S, "", "job the problem was found in", "job had no usable id"),
        Column("task_id", _S, "", "task the problem was found in", "a job-level problem"),
        Column("column", _S, "", "column (or field) affected", "never"),
        Column("problem", _S, "", "what was wrong and what was done about it", "never"),
        Column("raw_value", _S, "JSON", "the value as received", "the value was missing"),
    ),
)


#: One row per job ID that could not be fetched (``FetchResult.failures``,
#: ``JobFrames.failures``, ``SyncReport.failures``).
FAILURES = Table(
    "failures",
    (
        Column("job_id", _S, "", "the ID that was requested", "never"),
        Column("status_code", _I, "", "HTTP status of the last answer", "no HTTP answer"),
        Column("kind", _S, "", "error kind (the API's, or the client's)", "not known"),
        Column("message", _S, "", "what went wrong", "never"),
    ),
)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun: ``"1 job"``, ``"2 jobs"``, ``"1,200 retries"``."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def describe_failures(failures: pd.DataFrame | None, *, top: int = 3) -> str:
    """``"2 failures (not_found 1, id_mismatch 1)"``: a failures frame in one phrase."""
    if failures is None or failures.empty:
        return "0 failures"
    kinds = failures["kind"].astype("string").fillna("unknown").value_counts()
    shown = ", ".join(f"{kind} {count:,}" for kind, count in kinds.head(top).items())
    more = f", {counted(len(kinds) - top, 'other kind')}" if len(kinds) > top else ""
    return f"{counted(len(failures), 'failure')} ({shown}{more})"


def failures_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A failures frame from row dicts (any missing key is NA), typed by :data:`FAILURES`."""
    frame = pd.DataFrame(rows, columns=FAILURES.names)
    return frame.astype(FAILURES.dtypes())


def data_dictionary(fmt: str = "markdown") -> str:
    """The data dictionary of both tables, as Markdown or JSON.

    Examples
    --------
    >>> print(data_dictionary().splitlines()[0])
    ### jobs (one row per job)
    """
    if fmt == "json":
        return (
            orjson.dumps(
                {
                    "schema_version": SCHEMA_VERSION,
                    "tables": {
                        t.name: [
                            {
                                "column": c.name,
                                "type": c.type_name,
                                "unit": c.unit,
                                "meaning": c.meaning,
                                "null_means": c.null,
                                **({"categories": list(c.categories)} if c.categories else {}),
                            }
                            for c in [*t.columns, PROVISIONAL]
                        ]
                        for t in (JOBS, TASKS)
                    },
                },
                option=orjson.OPT_INDENT_2,
            ).decode()
            + "\n"
        )
    if fmt != "markdown":
        raise ValueError("format must be 'markdown' or 'json'")
    out: list[str] = []
    for table, what in ((JOBS, "one row per job"), (TASKS, "one row per task")):
        out += [
            f"### {table.name} ({what})",
            "",
            "| column | type | unit | meaning | null means |",
            "|---|---|---|---|---|",
        ]
        for c in [*table.columns, PROVISIONAL]:
            meaning = c.meaning + (f" ({', '.join(c.categories)})" if c.categories else "")
            out.append(f"| `{c.name}` | {c.type_name} | {c.unit} | {meaning} | {c.null} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def epoch_ms_array(values: pd.Series) -> np.ndarray:
    """A timestamp column as float epoch milliseconds (exact below 2**53), NaN for NaT.

    Durations, merges and sweep lines compute on these instead of on Timestamp objects.
    """
    stamps = values.to_numpy(dtype="datetime64[ms]", na_value=np.datetime64("NaT"))
    out: np.ndarray = stamps.astype("int64").astype(np.float64)
    out[np.isnat(stamps)] = np.nan
    return out
