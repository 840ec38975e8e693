"""A lake row is keyed by its job's ID: no row without one."""

from __future__ import annotations

import pandas as pd

from ittybit_frames.frames import JobFrames
from ittybit_frames.schema import counted


def keyed(frames: JobFrames) -> tuple[JobFrames, list[str]]:
    """``frames`` keyed as the lake keys jobs, and a line for each change (none when
    there was nothing to change): jobs and tasks with no ``job_id`` set aside (merged,
    they would be dropped; written, the index could not name them)."""
    lines = []
    jobs, tasks = frames.jobs, frames.tasks
    no_job, no_task = jobs["job_id"].isna(), tasks["job_id"].isna()
    if no_job.any() or no_task.any():
        lines.append(_unkeyed(jobs[no_job], no_job, no_task))
        jobs, tasks = jobs[~no_job], tasks[~no_task]
    if not lines:
        return frames, []
    return JobFrames(jobs, tasks, frames.problems), lines


def _unkeyed(first: pd.DataFrame, jobs: pd.Series, tasks: pd.Series) -> str:
    about = ""
    if not first.empty:
        about = f", first: created {first['created_at'].iloc[0]}, kind {first['kind'].iloc[0]}"
    what = [counted(int(m.sum()), n) for m, n in ((jobs, "job"), (tasks, "task")) if m.any()]
    return (
        f"{' and '.join(what)} with no job_id not written (a lake row is keyed by its "
        f"job's ID{about})"
    )
