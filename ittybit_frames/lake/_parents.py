"""A task lives with its job: the job's values of the parent columns on every task.

Each task row repeats its job's creation time, kind and status (``job_created_at``,
``job_kind``, ``job_status``). The lake puts a task in its job's day partition and
:func:`~ittybit_frames.lake.read_parquet` filters tasks by these columns (a window by
``job_created_at``, ``kind``/``status`` by ``job_kind``/``job_status``), so a task whose
columns disagree with its job would be read apart from it, or left behind in another
partition when the job moves. Frames from ``to_frames`` always agree; hand-built ones
(a job's ``created_at`` changed, tasks taken from elsewhere) may not. The rule: the
job's values win. A write writes them (and says so in ``WriteReport.problems``);
``check`` names a lake whose tasks disagree, and ``--repair`` rewrites them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames import JobFrames
from ittybit_frames.schema import counted, epoch_ms_array

#: Task column -> the job column it repeats.
PARENT_COLUMNS = {"job_created_at": "created_at", "job_kind": "kind", "job_status": "status"}


@dataclass(frozen=True)
class Parents:
    """Where tasks disagree with their job. ``at``: each task's job (a row of the jobs
    given), -1 for none (no such job, or one given twice); ``differ``: task column -> which
    tasks hold another value than their job's."""

    at: np.ndarray[Any, Any]
    differ: dict[str, np.ndarray[Any, Any]]

    @classmethod
    def of(cls, jobs: pd.DataFrame, tasks: pd.DataFrame) -> Parents:
        at = _positions(jobs["job_id"], tasks["job_id"])
        differ = {}
        for column, source in PARENT_COLUMNS.items():
            if column in tasks.columns and source in jobs.columns:
                differ[column] = _differ(jobs[source], tasks[column], at)
        return cls(at, differ)

    @property
    def any(self) -> np.ndarray[Any, Any]:
        """Tasks that disagree with their job on any parent column."""
        out = np.zeros(len(self.at), dtype=bool)
        for mask in self.differ.values():
            out |= mask
        return out

    def describe(self, tasks: pd.DataFrame) -> str:
        """How many tasks, of which jobs, disagree with their job on which columns."""
        wrong = self.any
        jobs = pd.unique(tasks["job_id"].to_numpy(dtype=object)[wrong])
        columns = ", ".join(c for c, mask in self.differ.items() if mask.any())
        return (
            f"{counted(int(wrong.sum()), 'task')} of {counted(len(jobs), 'job')} "
            f"(first: {jobs[0]}) with another {columns} than their job's"
        )


def _positions(job_ids: pd.Series, task_ids: pd.Series) -> np.ndarray[Any, Any]:
    """Each task's job: its row among ``job_ids``; -1 for none, or one given twice."""
    keys, wanted = _arrow_strings(job_ids), _arrow_strings(task_ids)
    unique = keys is not None and keys.null_count == 0 and len(pc.unique(keys)) == len(keys)
    if unique and keys is not None and wanted is not None:  # (one row per job: merges, overwrites)
        # Arrow's hash lookup: a third of pandas' get_indexer on the schema's strings.
        wanted = wanted.cast(keys.type) if wanted.type != keys.type else wanted
        found = pc.index_in(wanted, value_set=keys, skip_nulls=True).fill_null(-1)
        rows: np.ndarray[Any, Any] = found.to_numpy(zero_copy_only=False).astype(np.intp)
        return rows
    ids = pd.Index(job_ids)
    once = (~ids.duplicated(keep=False) & ~ids.isna()).nonzero()[0]
    found = ids[once].get_indexer(pd.Index(task_ids))
    at: np.ndarray[Any, Any] = np.where(found >= 0, once[found] if len(once) else found, -1)
    return at


def _arrow_strings(values: pd.Series) -> pa.Array | None:
    """The Arrow strings behind a column of the schema's string dtype (None: another dtype)."""
    if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
        return None
    arrow = pa.array(values)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    return arrow if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type) else None


def _differ(job_values: pd.Series, task_values: pd.Series, at: np.ndarray[Any, Any]) -> Any:
    """Which tasks (with a job: ``at >= 0``) hold another value than their job's."""
    mine = at >= 0
    out = np.zeros(len(at), dtype=bool)
    if not mine.any():
        return out
    jd, td = job_values.dtype, task_values.dtype
    if (
        isinstance(jd, pd.CategoricalDtype)
        and isinstance(td, pd.CategoricalDtype)
        and list(jd.categories) == list(td.categories)
    ):  # the schema's categories: compare the codes (-1: none)
        same = job_values.cat.codes.to_numpy()[at[mine]] == task_values.cat.codes.to_numpy()[mine]
    elif isinstance(jd, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(jd):
        want = epoch_ms_array(job_values)[at[mine]]
        have = epoch_ms_array(task_values)[mine]
        same = (want == have) | (np.isnan(want) & np.isnan(have))
    else:
        want_o = job_values.astype(object).to_numpy()[at[mine]]
        have_o = task_values.astype(object).to_numpy()[mine]
        none_w, none_h = pd.isna(want_o), pd.isna(have_o)
        same = (none_w & none_h) | (~none_w & ~none_h & (want_o == have_o))
    out[mine] = ~same
    return out


def align_parents(frames: JobFrames) -> tuple[JobFrames, list[str]]:
    """``frames`` as a write writes them (new frames; the caller's are not changed), and
    a line for each thing changed (none: ``[]``): tasks whose job is not among
    ``frames.jobs`` are set aside (a task is written with its job, so it has nowhere to
    go), and every other task's parent columns are set to its job's (tasks of a job given
    twice, as an append may, keep theirs)."""
    if frames.tasks.empty:
        return frames, []
    parents = Parents.of(frames.jobs, frames.tasks)
    frames, parents, lines = _set_aside_orphans(frames, parents)
    tasks = frames.tasks
    wrong = parents.any
    if not wrong.any():
        return frames, lines
    line = parents.describe(tasks) + ": written with their job's values"
    fixed = {}
    for column, mask in parents.differ.items():
        if mask.any():
            values = tasks[column].astype(object).to_numpy(copy=True)
            values[mask] = (
                frames.jobs[PARENT_COLUMNS[column]].astype(object).to_numpy()[parents.at[mask]]
            )
            fixed[column] = pd.Series(values, index=tasks.index).astype(tasks[column].dtype)
    return replace(frames, tasks=tasks.assign(**fixed)), [*lines, line]


def _set_aside_orphans(frames: JobFrames, parents: Parents) -> tuple[JobFrames, Parents, list[str]]:
    """``frames`` without the tasks whose job is not among its jobs, and a line saying
    so; ``parents`` of the tasks kept."""
    none = np.flatnonzero(parents.at < 0)  # no such job, or one given twice: look again
    if not len(none):
        return frames, parents, []
    tasks = frames.tasks
    ids = tasks["job_id"].iloc[none]
    lost = none[(~ids.isin(frames.jobs["job_id"].dropna()) | ids.isna()).to_numpy()]
    if not len(lost):
        return frames, parents, []
    keep = np.ones(len(tasks), dtype=bool)
    keep[lost] = False
    jobs = pd.unique(tasks["job_id"].to_numpy(dtype=object)[lost])
    line = (
        f"{counted(len(lost), 'task')} of {counted(len(jobs), 'job')} (first: {jobs[0]}) "
        "not among the frames' jobs: not written (a task is written with its job)"
    )
    kept = replace(frames, tasks=tasks[keep])
    return kept, Parents.of(kept.jobs, kept.tasks), [line]
