"""The careful path: one chunk of parsed job records -> a jobs table and a tasks table.

One tight Python pass pulls each field's raw values into columns
(``tuple(map(dict.get, fields))``); each column is then converted by its field handler
(:mod:`._fields`, :mod:`._outputs`) to its Arrow type. Every API generation is accepted
and every oddity recorded; a field this version does not know lands in ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ittybit_frames.frames import _fields as field
from ittybit_frames.frames._assembly import assemble
from ittybit_frames.frames._fields import Extras
from ittybit_frames.frames._outputs import files
from ittybit_frames.frames._values import (
    MISSING,
    Conv,
    Problems,
    dictionary,
    plain,
    plain_columns,
)
from ittybit_frames.vocabulary import JOB_FIELDS, KINDS, STATUSES, TASK_FIELDS

__all__ = ["build"]

_JOB_KEYSET = frozenset(JOB_FIELDS)
_TASK_KEYSET = frozenset(TASK_FIELDS)
#: Tags of a record that is one task (no task list expected).
_STANDALONE = frozenset({"task", "step"})


@dataclass
class _Raw:
    """One chunk's records as raw value columns, one tuple per field."""

    jobs: dict[str, Any]
    tasks: dict[str, Any]
    jextra: Extras
    textra: Extras
    parent: np.ndarray  # each task's job (row in `jobs`)
    index: list[int]  # each task's position in its job's list
    has_tasks: np.ndarray  # which jobs came with a task list
    rows: np.ndarray  # each job's position in the whole input


def _transpose(fields: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    if not rows:
        return dict.fromkeys(fields, ())
    return dict(zip(fields, zip(*rows, strict=True), strict=True))


def _gather(records: list[Any], rows: Any, p: Problems) -> _Raw:
    """``rows``: each record's position in the whole input (its line number for NDJSON),
    or the position of the first record when they are consecutive."""
    kept: list[int] = []
    jrows: list[tuple[Any, ...]] = []
    trows: list[tuple[Any, ...]] = []
    jextra, textra = Extras(), Extras()
    parent: list[int] = []
    index: list[int] = []
    has_tasks: list[bool] = []
    jfields, tfields = JOB_FIELDS, TASK_FIELDS
    for k, record in enumerate(records):
        job = _as_dict(record)
        if job is None:
            p.add(None, None, "record", "not a JSON object; skipped", record)
            continue
        kept.append(k)
        r = len(jrows)
        jrows.append(tuple(map(job.get, jfields)))
        if not job.keys() <= _JOB_KEYSET:
            jextra.rest(r, job, _JOB_KEYSET)
        tasks = job.get("tasks")
        if tasks is None:
            tasks = job.get("steps")  # staging naming: job called task, tasks steps
        elif "steps" in job:
            jextra.put(r, "steps", job["steps"])
        if type(tasks) is not list and _is_sequence(tasks):
            tasks = plain(tasks)
        if type(tasks) is not list:
            has_tasks.append(False)
            _no_task_list(p, job, tasks)
            continue
        has_tasks.append(True)
        for i, item in enumerate(tasks):
            task = _as_dict(item)
            if task is None:
                p.add(job.get("id"), None, "task_id", "task is not an object; skipped", item)
                continue
            t = len(trows)
            trows.append(tuple(map(task.get, tfields)))
            parent.append(r)
            index.append(i)
            if not task.keys() <= _TASK_KEYSET:
                textra.rest(t, task, _TASK_KEYSET)
    positions = np.asarray(kept, dtype=np.int64)
    return _Raw(
        jobs=plain_columns(_transpose(jfields, jrows)),
        tasks=plain_columns(_transpose(tfields, trows)),
        jextra=jextra,
        textra=textra,
        parent=np.asarray(parent, dtype=np.int64),
        index=index,
        has_tasks=np.asarray(has_tasks, dtype=bool),
        rows=positions + int(rows) if isinstance(rows, int) else np.asarray(rows)[positions],
    )


def _as_dict(value: Any) -> dict[str, Any] | None:
    """A record or task as a dict (any ``Mapping`` converted), or None."""
    if type(value) is dict:
        return value
    return plain(value) if isinstance(value, Mapping) else None


def _is_sequence(value: Any) -> bool:
    """A task list in another container than a list (a tuple, a numpy array...)."""
    return isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes)


def _no_task_list(p: Problems, job: dict[str, Any], tasks: Any) -> None:
    jid = job.get("id")
    if tasks is None:
        # A standalone task (G3-G5 `GET /tasks/{id}`, a staging step) has no list.
        if job.get("object") not in _STANDALONE or "tasks" in job or "steps" in job:
            p.add(jid, None, "task_count", "no task list in the payload; task_count is NA", MISSING)
    else:
        p.add(jid, None, "task_count", "task list is not a list; ignored", tasks)


def _shared(conv: Conv, raw: dict[str, Any], extras: Extras, *, task: bool) -> dict[str, Any]:
    """The columns jobs and tasks share: ID, kind, status, error. The ID column becomes
    the one ``conv`` names rows by."""
    id_col = "task_id" if task else "job_id"
    ids = field.ident(conv, raw["id"], id_col, conv.job_ids, task_level=task)
    if task:
        conv.task_ids = ids
    else:
        conv.job_ids = ids
    field.tag(conv, raw["object"], extras, "task" if task else "job")
    kinds, kind_raw = field.kinds(conv, raw["kind"])
    statuses, status_raw = field.statuses(conv, raw["status"])
    error_kind, error_message = field.errors(conv, raw["error"], extras)
    return {
        id_col: ids,
        "kind": dictionary(kinds, KINDS),
        "kind_raw": kind_raw,
        "status": dictionary(statuses, STATUSES),
        "status_raw": status_raw,
        "error_kind": error_kind,
        "error_message": error_message,
    }


def _jobs(raw: dict[str, Any], extras: Extras, p: Problems) -> dict[str, pa.Array]:
    conv = Conv(p, raw["id"], None)
    return {
        **_shared(conv, raw, extras, task=False),
        "input_url": field.urls(conv, raw["input"], "input", extras),
        "_input_duration": field.input_durations(raw["input"]),
        "output_url": field.urls(conv, raw["output"], "output", extras),
        "options": conv.json_text(raw["options"]),
        "metadata": conv.json_text(raw["metadata"]),
        **field.timestamps(conv, raw, extras),
    }


def _tasks(
    raw: dict[str, Any], extras: Extras, p: Problems, job_ids: pa.Array, index: list[int]
) -> dict[str, pa.Array]:
    conv = Conv(p, job_ids, raw["id"])
    shared = _shared(conv, raw, extras, task=True)
    inputs = field.aliased(raw, "input", "inputs", extras)
    outputs = field.aliased(raw, "output", "outputs", extras)
    return {
        "job_id": job_ids,
        **shared,
        "task_index": pa.array(index, type=pa.int64()),
        "progress": conv.ints(raw["progress"], "progress", 0, 100),
        **files(conv, inputs, extras, "input", "inputs"),
        **files(conv, outputs, extras, "output", "outputs"),
        "options": conv.json_text(raw["options"]),
        **field.timestamps(conv, raw, extras),
    }


def build(records: list[Any], rows: Any, p: Problems) -> tuple[pa.Table, pa.Table]:
    """Job records -> the jobs and tasks tables (without durations). ``rows``: see
    :func:`_gather`."""
    raw = _gather(records, rows, p)
    jcols = _jobs(raw.jobs, raw.jextra, p)
    tjob_ids = jcols["job_id"].take(pa.array(raw.parent, type=pa.int64()))
    tcols = _tasks(raw.tasks, raw.textra, p, tjob_ids, raw.index)
    return assemble(
        jcols,
        tcols,
        raw.parent,
        raw.has_tasks,
        raw.rows,
        raw.jextra.column(len(raw.has_tasks)),
        raw.textra.column(len(raw.parent)),
    )
