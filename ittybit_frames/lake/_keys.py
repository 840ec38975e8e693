"""A lake row is keyed by its job's ID: the ID in the form the client lists and requests
it, and no row without one.

IDs are opaque strings (the API reference, section 8), but the client drops whitespace
and a BOM around an ID where it lists a job or requests one by ID, so a job synced
holds ``job_1`` where frames made from its raw payload hold `` job_1 ``. The lake keys
both the client's way (one job, one row) and says so in ``WriteReport.problems``; the
frames themselves keep the value as received.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames import JobFrames
from ittybit_frames.schema import counted
from ittybit_frames.vocabulary import ID_PADDING  # what the client strips around an ID

#: The manifest's key saying every job ID in the lake is keyed without padding (a merge
#: then need not look for an older writer's padded IDs): set by each write that found none,
#: to that write's ``updated_at``. A writer before session 10 keeps the key as it found it
#: while writing its own ``updated_at`` (and maybe padded IDs): the key then no longer holds.
IDS_STRIPPED = "ids_stripped"


def ids_stripped(manifest: dict[str, object]) -> bool:
    """Whether ``manifest`` says the lake holds no padded job ID (:data:`IDS_STRIPPED`,
    written by the last writer to write ``updated_at``)."""
    said = manifest.get(IDS_STRIPPED)
    return isinstance(said, str) and said == manifest.get("updated_at")


def keyed(frames: JobFrames) -> tuple[JobFrames, list[str], bool]:
    """``frames`` keyed as the lake keys jobs, a line for each change (none when there
    was nothing to change), and whether two rows became one job's (to be made one row
    whatever the mode): IDs without their surrounding whitespace; jobs and tasks with no
    ``job_id`` (or one of only whitespace) set aside (merged, they would be dropped;
    written, the index could not name them)."""
    lines = []
    jobs, tasks = frames.jobs, frames.tasks
    padded = _padded(jobs["job_id"])
    collided = False
    if padded.any():
        first = jobs["job_id"][padded].iloc[0]
        lines.append(
            f"{counted(int(padded.sum()), 'job ID')} with surrounding whitespace written "
            f"without it, as the client lists and requests it (first: {first!r})"
        )
        raw = jobs["job_id"]
        jobs = jobs.assign(job_id=_stripped(raw))
        twice = jobs["job_id"].duplicated(keep=False) & ~raw.duplicated(keep=False)
        if (twice & jobs["job_id"].notna()).any():
            collided = True
            lines.append(
                f"{counted(int(twice.sum()), 'job')} with other IDs as received are one job "
                "once stripped: one row kept for each (the newest)"
            )
    if _padded(tasks["job_id"]).any() or tasks["job_id"].eq("").any():
        tasks = tasks.assign(job_id=_stripped(tasks["job_id"]))
    no_job, no_task = jobs["job_id"].isna(), tasks["job_id"].isna()
    if no_job.any() or no_task.any():
        lines.append(_unkeyed(frames.jobs[no_job], no_job, no_task))
        jobs, tasks = jobs[~no_job], tasks[~no_task]
    if not lines:
        return frames, [], False
    return JobFrames(jobs, tasks, frames.problems), lines, collided


def by_key(index: pd.DataFrame, stripped: bool = False) -> tuple[pd.DataFrame, dict[str, str]]:
    """The lake's job index by the key the lake now keys (IDs without their padding),
    and ``{key: ID in the files}`` for the rows a writer before session 10 keyed by a
    padded ID (``" job_1"``): a merge of ``job_1`` replaces that row. Where a padded
    ID and its plain form (or another padded form) both hold a row, the first is the
    key's (``check`` flags the others). ``stripped``: the manifest says the lake holds
    no padded ID (``IDS_STRIPPED``), so there is nothing to look for."""
    if stripped or index.empty:
        return index, {}
    ids = pa.array(index.index.to_numpy(dtype=object), pa.string())
    padded = pc.fill_null(pc.not_equal(ids, pc.utf8_trim(ids, ID_PADDING)), False)
    if not pc.any(padded).as_py():
        return index, {}
    at = np.flatnonzero(padded.to_numpy(zero_copy_only=False))
    raw = index.index[at]
    keys = pd.Index(_stripped(pd.Series(raw, dtype=object)), dtype=object)
    alone = keys.notna() & (index.index.get_indexer(keys) < 0) & ~keys.duplicated()
    labels = index.index.to_numpy(dtype=object).copy()
    labels[at[alone]] = keys[alone]
    keep = np.ones(len(index), dtype=bool)
    keep[at[~alone]] = False  # no key, or its key holds another row
    rekeyed = index.set_axis(pd.Index(labels, dtype=object, name=index.index.name))[keep]
    return rekeyed, dict(zip(keys[alone], raw[alone], strict=True))


def padded_ids_line(ids: pd.Series) -> str | None:
    """``check``'s line for the jobs a writer before session 10 keyed by a padded ID."""
    present = ids.dropna()
    padded = _padded(present) & present.ne("")
    if not padded.any():
        return None
    return (
        f"{counted(int(padded.sum()), 'job ID')} with surrounding whitespace (first: "
        f"{present[padded].iloc[0]!r}), written before the lake keyed IDs without it: "
        "--repair rewrites them without it (a job synced again would be a second row)"
    )


def _padded(ids: pd.Series) -> pd.Series:
    """IDs to key otherwise: with surrounding whitespace, or empty (no ID)."""
    text = ids.astype("string")
    return ((text.str.strip(ID_PADDING) != text) | (text == "")).fillna(False).astype(bool)


def _stripped(ids: pd.Series) -> pd.Series:
    """The IDs without their padding; NA for those of nothing else."""
    text = ids.astype("string").str.strip(ID_PADDING)
    return text.mask(text == "").astype(ids.dtype)


def _unkeyed(first: pd.DataFrame, jobs: pd.Series, tasks: pd.Series) -> str:
    about = ""
    if not first.empty:
        about = f", first: created {first['created_at'].iloc[0]}, kind {first['kind'].iloc[0]}"
    what = [counted(int(m.sum()), n) for m, n in ((jobs, "job"), (tasks, "task")) if m.any()]
    return (
        f"{' and '.join(what)} with no job_id not written (a lake row is keyed by its "
        f"job's ID{about})"
    )
