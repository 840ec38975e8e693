"""Columns -> tables -> frames: the columns derived across jobs and tasks, input order,
de-duplication, durations (and ``as_of``), and the final pandas dtypes.

Both paths end here: the careful path with the columns it converted
(:func:`assemble`), the NDJSON fast path with the columns SQL read
(:func:`assemble_read`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames._values import LINE_ROWS, MISSING, Problems
from ittybit_frames.schema import ARROW_TO_PANDAS, JOBS, TASKS, Table
from ittybit_frames.vocabulary import (
    KIND_WORDS,
    KINDS,
    STATUS_WORDS,
    STATUSES,
    TERMINAL_STATUSES,
)

__all__ = ["assemble", "assemble_read", "dedupe", "finish", "in_input_order"]

_DURATION_COLUMNS = ("queue_seconds", "processing_seconds", "total_seconds")
_HIDDEN = ("_row", "_updated")
_FAILED_CODE = STATUSES.index("failed")
_PROBE_CODE = KINDS.index("probe")


def assemble(
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
    jcols["media_duration_seconds"] = _media_durations(jcols, tcols, parent)
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


def _first_per_job(
    values: np.ndarray, where: np.ndarray, parent: np.ndarray, out: np.ndarray
) -> None:
    """``out[job]`` = the value of the job's first task where ``where``, if still NaN."""
    where = where & ~np.isnan(values)
    if where.any():
        rows, first = _firsts(parent[where])
        gaps = np.isnan(out[rows])
        out[rows[gaps]] = values[where][first][gaps]


def _firsts(jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``jobs`` and where each first is: without a sort when
    they come in order (tasks follow their jobs), as ``np.unique`` gives them."""
    if len(jobs) > 1 and not bool(np.all(jobs[1:] >= jobs[:-1])):
        rows, first = np.unique(jobs, return_index=True)
        return rows, first
    first = np.flatnonzero(np.concatenate(([True], jobs[1:] != jobs[:-1])))
    return jobs[first], first


def _media_durations(
    jcols: dict[str, pa.Array], tcols: dict[str, pa.Array], parent: np.ndarray
) -> pa.Array:
    """The first probe output's duration, else the first task input's, else the job
    input's."""
    media = np.full(len(jcols["job_id"]), np.nan)

    def floats(array: pa.Array) -> np.ndarray:
        values: np.ndarray = array.to_numpy(zero_copy_only=False).astype(np.float64)
        return values

    kind_codes = tcols["kind"].indices.to_numpy(zero_copy_only=False)
    _first_per_job(
        floats(tcols["output_duration_seconds"]), kind_codes == _PROBE_CODE, parent, media
    )
    inputs = floats(tcols["input_duration_seconds"])
    _first_per_job(inputs, np.ones(len(inputs), dtype=bool), parent, media)
    job_inputs = floats(jcols["_input_duration"])
    media = np.where(np.isnan(media), job_inputs, media)
    return pa.array(media, type=pa.float64(), from_pandas=True)


def _table(table: Table, cols: dict[str, pa.Array]) -> pa.Table:
    """Schema order, without durations (added once all chunks are joined), plus hidden."""
    names = [c for c in table.names if c not in _DURATION_COLUMNS]
    names += [h for h in _HIDDEN if h in cols]
    return pa.Table.from_arrays([cols[n] for n in names], names=names)


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
        c.name: table[c.name].cast(c.arrow)
        for c in schema.columns
        if c.categories is None and c.name in table.column_names
    }


def assemble_read(jobs: pa.Table, tasks: pa.Table, parent: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """The lines SQL took whole (see ``_ndjson``) -> jobs and tasks tables. ``jobs`` has
    each line's number in column ``r``; ``parent`` is each task's row in ``jobs``."""
    jcols, tcols = _typed(jobs, JOBS), _typed(tasks, TASKS)
    tcols["job_id"] = jcols["job_id"].take(pa.array(parent, type=pa.int64()))
    for cols, table in ((jcols, jobs), (tcols, tasks)):
        status = table["status"].combine_chunks()
        kind = table["kind"].combine_chunks()
        cols["kind"] = _categories(kind, KIND_WORDS, KINDS)
        cols["kind_raw"] = kind
        cols["status"] = _categories(status, STATUS_WORDS, STATUSES)
        cols["status_raw"] = status
    # SQL takes only job inputs that are URLs (text): no job input duration.
    jcols["_input_duration"] = pa.nulls(len(jobs), pa.float64())
    n_jobs, n_tasks = len(jobs), len(tasks)
    return assemble(
        jcols,
        tcols,
        parent,
        np.ones(n_jobs, dtype=bool),
        jobs["r"].to_numpy() * LINE_ROWS,
        jobs["extra"].combine_chunks()
        if "extra" in jobs.column_names
        else pa.nulls(n_jobs, pa.string()),
        tasks["extra"].combine_chunks()
        if "extra" in tasks.column_names
        else pa.nulls(n_tasks, pa.string()),
    )


def in_input_order(jobs: pa.Table, tasks: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Rows from the two NDJSON paths interleave: put them back in line order."""
    rows = jobs["_row"].to_numpy()
    if len(rows) < 2 or bool(np.all(rows[1:] >= rows[:-1])):
        return jobs, tasks
    jobs = jobs.take(pc.sort_indices(jobs, [("_row", "ascending")]))
    order = [("_row", "ascending"), ("task_index", "ascending")]
    return jobs, tasks.take(pc.sort_indices(tasks, order))


def dedupe(jobs: pa.Table, tasks: pa.Table, p: Problems) -> tuple[pa.Table, pa.Table]:
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
            MISSING if raw_updated[pos].as_py() is None else str(raw_updated[pos].as_py()),
        )
    kept_rows = pa.array(jobs["_row"].to_numpy()[keep])
    jobs = jobs.filter(pa.array(keep))
    tasks = tasks.filter(pc.is_in(tasks["_row"], value_set=kept_rows))
    return jobs, tasks


def _durations(
    table: pa.Table, as_of_ms: int | None, p: Problems, task_level: bool
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


def finish(
    schema: Table, table: pa.Table, as_of_ms: int | None, p: Problems, task_level: bool
) -> pd.DataFrame:
    """A joined table -> its DataFrame, with durations, in the schema's pandas dtypes."""
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
