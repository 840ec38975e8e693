"""Older API generations of a simulated history: the same jobs as older versions sent them.

``generate_history(..., generation=...)`` draws its jobs in the current (G5 "jobs" API)
shape, then, for ``"older"`` or ``"mix"``, rewrites each job here as an older API
version would have sent it (see ``shared/ittybit-api.md`` §7). The rewriting draws from a
random stream of its own, so the default history is unchanged, byte for byte.

- ``"runs"`` (G4, changelog 2025-11/12): timestamps in Unix seconds; task statuses
  ``validating``/``finishing`` for work about to start or end; pipeline stages named
  ``ingest`` and ``upload``.
- ``"older"`` (G3, Accept-Version 2025-01-01 .. 2025-08-20): ISO-8601 timestamps, under
  ``created``/``updated`` for the creation and update times (with milliseconds only when
  they are not zero); statuses ``pending``, ``ready``/``completed``, ``error``; stages
  ``ingest``/``upload`` and an image job's encode task as ``thumbnails``; errors as plain
  strings; input files tagged ``source``; ``framerate`` for ``fps``; an audio file's one
  ``codec`` instead of ``codecs``; and one job in ten as a saved single-object answer
  (``{"meta", "data", "links"}`` envelope).
- ``"mix"``: each job in the current shape (half of them), ``runs`` or ``older``.

Nothing is dropped in the rewriting: every value of the current job is still there
under its older name, word or unit (seconds lose their milliseconds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["GENERATIONS", "rewrite"]

#: The values ``generation=`` accepts.
GENERATIONS = ("current", "older", "mix")

_STAMPS = ("created_at", "started_at", "finished_at", "updated_at")
_OLDER_NAMES = {"created_at": "created", "updated_at": "updated"}
_STAGE_WORDS = {"import": "ingest", "export": "upload"}
_ENVELOPE_SHARE = 0.1
_MIX = ("current", "runs", "older")
_MIX_P = (0.5, 0.2, 0.3)

_Job = dict[str, Any]


def _iso(ms: int) -> str:
    """ISO-8601 in UTC with a ``Z``; milliseconds only when there are some."""
    when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    if ms % 1000:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(ms: int) -> int:
    return ms // 1000


def _stamps(record: _Job, convert: Callable[[int], Any], rename: dict[str, str]) -> None:
    """Each timestamp converted (``None`` stays), under its older name if it has one;
    the record's key order is kept."""
    items = list(record.items())
    record.clear()
    for key, value in items:
        if key in _STAMPS:
            record[rename.get(key, key)] = None if value is None else convert(value)
        else:
            record[key] = value


def _runs_task(task: _Job, pick: float) -> None:
    task["kind"] = _STAGE_WORDS.get(task["kind"], task["kind"])
    if task["status"] == "waiting" and pick < 0.3:
        task["status"] = "validating"
    elif task["status"] == "processing" and pick < 0.5:
        task["status"] = "finishing"
    _stamps(task, _seconds, {})


def _runs(job: _Job, picks: np.ndarray) -> _Job:
    """The job as the "runs" API (G4) sent it."""
    for task, pick in zip(job["tasks"], picks.tolist(), strict=False):
        _runs_task(task, pick)
    _stamps(job, _seconds, {})
    return job


_OLDER_JOB_STATUS = {"queued": "pending", "succeeded": "completed", "failed": "error"}


def _older_error(error: Any) -> Any:
    return error.get("message") if isinstance(error, dict) else error


def _older_file(file: Any) -> None:
    if not isinstance(file, dict):
        return
    if file.get("object") == "external_file":
        file["object"] = "source"
    if "fps" in file:
        file["framerate"] = file.pop("fps")
    codecs = file.get("codecs")
    if isinstance(codecs, dict) and list(codecs) == ["audio"]:
        del file["codecs"]
        file["codec"] = codecs["audio"]


def _older_task(task: _Job, job_kind: str, pick: float) -> None:
    kind = task["kind"]
    if kind == job_kind and kind == "image":
        task["kind"] = "thumbnails"
    else:
        task["kind"] = _STAGE_WORDS.get(kind, kind)
    status = task["status"]
    if status == "succeeded":
        task["status"] = "ready" if pick < 0.5 else "completed"
    elif status == "failed":
        task["status"] = "error"
    task["error"] = _older_error(task["error"])
    _older_file(task["input"])
    _older_file(task["output"])
    _stamps(task, _iso, _OLDER_NAMES)


def _older(job: _Job, picks: np.ndarray) -> _Job | dict[str, Any]:
    """The job as the 2025 files/tasks API (G3) sent it; one in ten in an envelope."""
    for task, pick in zip(job["tasks"], picks.tolist(), strict=False):
        _older_task(task, job["kind"], pick)
    job["status"] = _OLDER_JOB_STATUS.get(job["status"], job["status"])
    job["error"] = _older_error(job["error"])
    _stamps(job, _iso, _OLDER_NAMES)
    if picks[-1] >= _ENVELOPE_SHARE:
        return job
    meta = {"request_id": "req_" + job["id"][4:16], "type": "object", "version": "2025-01-01"}
    return {"meta": meta, "data": job, "links": {"self": f"/jobs/{job['id']}"}}


def rewrite(jobs: list[_Job], generation: str, seed: int) -> list[_Job]:
    """``jobs`` (current shape, changed in place) as ``generation`` sends them."""
    if generation not in GENERATIONS:
        raise ValueError(f"generation must be one of {', '.join(GENERATIONS)}")
    if generation == "current":
        return jobs
    # A stream of its own: the history's own draws stay those of the current shape.
    rng = np.random.default_rng([seed, 0x6F6C64])
    picks = rng.random(size=(len(jobs), 5))
    if generation == "older":
        return [_older(job, picks[i]) for i, job in enumerate(jobs)]
    which = rng.choice(len(_MIX), size=len(jobs), p=_MIX_P)
    out: list[_Job] = []
    for i, job in enumerate(jobs):
        shape = _MIX[which[i]]
        out.append(
            job if shape == "current" else (_runs if shape == "runs" else _older)(job, picks[i])
        )
    return out
