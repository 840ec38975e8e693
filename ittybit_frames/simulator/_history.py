"""Deterministic synthetic job history shaped like the ittybit jobs API (G5).

The numbers are drawn per job with NumPy from one seeded generator, in a fixed order, so
the same ``seed`` always gives the same list of dicts, byte for byte once serialised.
``generation="older"`` or ``"mix"`` gives the same jobs as older API versions sent them
(:mod:`._generations`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ittybit_frames.simulator._generations import GENERATIONS, rewrite
from ittybit_frames.simulator._media import (
    FORMATS,
    codecs,
    customer_id,
    media_kind,
    metadata,
    options,
)
from ittybit_frames.simulator._queue import (
    Incident,
    Schedule,
    arrivals,
    pool_sizes,
    run_queue,
    schedule,
)

__all__ = ["DEFAULT_START", "generate_history", "scheduled_incidents"]

#: A fixed instant for histories that must not depend on the day they are made
#: (``generate_history(..., start=DEFAULT_START)``); without ``start``/``end`` a
#: history ends now.
DEFAULT_START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

_KINDS = ("video", "image", "audio", "adaptive_video", "animation")
_KIND_P = (0.55, 0.20, 0.12, 0.08, 0.05)
_STAGES = ("probe", "import", "encode", "export")
_RESOLUTIONS = ((640, 360), (1280, 720), (1920, 1080), (3840, 2160))
_RES_P = (0.15, 0.35, 0.40, 0.10)
_B32 = np.array(list("0123456789abcdefghjkmnpqrstvwxyz"))

_ERRORS: dict[str, tuple[tuple[str, str], ...]] = {
    "probe": (
        ("format_unsupported", "Probe failed: moov atom not found in {url}"),
        ("invalid_input", "Could not read input {url}: HTTP 403 Forbidden"),
    ),
    "import": (
        ("download_failed", "Download of {url} timed out after {n} s"),
        ("invalid_input", "Input {url} returned HTTP 404"),
    ),
    "encode": (
        ("codec_unsupported", "Unsupported codec 'prores_ks' in stream {n}"),
        ("encode_failed", "Encoder exited with code {n} on {job}"),
        ("internal_error", "Worker lost while encoding {job} (node wk-{n})"),
    ),
    "export": (("export_failed", "Export to s3://media-out-{n}/{job} failed: AccessDenied"),),
}
_FAIL_STAGE_P = (0.15, 0.25, 0.50, 0.10)
# Failures caused by the incidents (simulator._queue): worker lost (platform), bad release
# (platform), broken files from one customer (user).
_FORCED: tuple[tuple[str, str], ...] = (
    ("worker_lost", "Worker lost while running {stage} for {job} (node wk-{n})"),
    ("encoder_crashed", "Encoder crashed with signal 11 (SIGSEGV) on {job}"),
    ("input_corrupt", "Could not decode {url}: invalid data found when processing input"),
)
_CUSTOMERS = 60
_BROKEN_CUSTOMER = 7


def _ids(rng: np.random.Generator, prefix: str, n: int) -> list[str]:
    """ULID-looking opaque IDs (26 lowercase base32 characters)."""
    chars = np.ascontiguousarray(_B32[rng.integers(0, 32, size=(n, 26))])
    joined = chars.view("<U26").reshape(n)  # each row's 26 characters as one string
    return [prefix + text for text in joined.tolist()]


def generate_history(
    n_jobs: int,
    *,
    seed: int = 0,
    start: dt.datetime | None = None,
    days: float = 30,
    end: dt.datetime | None = None,
    generation: str = "current",
) -> list[dict[str, Any]]:
    """Make a realistic, deterministic ittybit job history.

    Jobs arrive in daily and weekly cycles with batch bursts, wait for a worker of their
    kind, and run; histories of three days or more also hold an outage, a bad release and
    a customer sending broken files (:mod:`ittybit_frames.simulator._queue`).

    Parameters
    ----------
    n_jobs : int
        How many jobs.
    seed : int, default 0
        Same seed, same history (byte for byte).
    start : datetime, optional
        First instant of the history (UTC); then it ends ``days`` later.
    days : float, default 30
        Length of the history.
    end : datetime, optional
        The instant the history is observed at (UTC): jobs the queue has not finished by
        then are still ``queued`` or ``processing``. Default: now (to the second), so
        relative windows such as ``since="7d"`` find jobs; same seed and end, same
        history byte for byte. Give ``start`` or ``end``, not both.
    generation : {"current", "older", "mix"}, default "current"
        Which API version's shape the jobs have. ``"current"``: the jobs API (Unix
        milliseconds, ``created_at``...). ``"older"``: the 2025 files/tasks API (ISO-8601
        timestamps, ``created``/``updated``, its status and kind words, string errors,
        ``framerate``, one ``codec``; one job in ten in a ``{"meta", "data", "links"}``
        envelope). ``"mix"``: each job current, "runs" API (Unix seconds, its words) or
        older. The same jobs (and, for ``"current"``, the same bytes) whatever the
        generation; see :mod:`._generations`.

    Returns
    -------
    list of dict
        Jobs as ``GET /jobs/{id}`` returns them, oldest first, with their tasks (older
        generations: some wrapped in an envelope).

    Examples
    --------
    >>> jobs = generate_history(100, seed=1)
    >>> sorted({t["kind"] for t in jobs[0]["tasks"]} - {"probe", "import", "export"})
    ['video']
    """
    if n_jobs < 0:
        raise ValueError("n_jobs must be >= 0")
    if days <= 0:
        raise ValueError("days must be > 0")
    if generation not in GENERATIONS:
        raise ValueError(f"generation must be one of {', '.join(GENERATIONS)}")
    span = int(days * 86_400_000)
    t0 = _first_instant(start, end, span)
    rng = np.random.default_rng(seed)
    d = _draw(rng, n_jobs, t0, span, _schedule(seed, t0, span))
    job_ids = _ids(rng, "job_", n_jobs)
    task_ids = _ids(rng, "task_", 4 * n_jobs)
    jobs = [_job(d, i, job_ids[i], task_ids[4 * i : 4 * i + 4]) for i in range(n_jobs)]
    return rewrite(jobs, generation, seed)


def _first_instant(start: dt.datetime | None, end: dt.datetime | None, span: int) -> int:
    if start is not None and end is not None:
        raise ValueError("give start or end, not both (the history lasts `days`)")
    if start is not None:
        return _ms(start)
    last = _ms(end) if end is not None else int(time.time()) * 1000
    return last - span


def _ms(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


@dataclass
class _Draws:
    """Every random number of a history, drawn in one fixed order (NumPy arrays, one
    entry per job), and the instant the history is observed at."""

    as_of: int
    created: np.ndarray
    kind_idx: np.ndarray
    res_idx: np.ndarray
    duration: np.ndarray
    queue_ms: np.ndarray
    filesize: np.ndarray
    gaps: np.ndarray
    stage_ms: np.ndarray
    fails: np.ndarray
    fail_stage: np.ndarray
    fail_frac: np.ndarray
    user_cancel: np.ndarray
    cancel_stage: np.ndarray
    err_pick: np.ndarray
    err_num: np.ndarray
    str_error: np.ndarray
    meta_cust: np.ndarray
    meta_src: np.ndarray
    width_pick: np.ndarray
    progress_pick: np.ndarray
    forced: np.ndarray  # -1, or the incident that made the job fail (_FORCED)


def scheduled_incidents(
    *,
    seed: int = 0,
    start: dt.datetime | None = None,
    days: float = 30,
    end: dt.datetime | None = None,
) -> tuple[Incident, ...]:
    """The incidents :func:`generate_history` with the same arguments puts in its history.

    Give ``start`` or ``end`` (a history without them ends at the moment it is made).
    """
    span = int(days * 86_400_000)
    t0 = _first_instant(start, end, span)
    return _schedule(seed, t0, span).incidents


def _schedule(seed: int, t0: int, span: int) -> Schedule:
    # A generator of its own: the incidents do not depend on the number of jobs.
    return schedule(np.random.default_rng([seed, 1]), t0, span, customer_id(_BROKEN_CUSTOMER))


def _draw(rng: np.random.Generator, n: int, t0: int, span: int, plan: Schedule) -> _Draws:
    as_of = t0 + span
    offsets, burst_owner = arrivals(rng, n, t0, span, _CUSTOMERS)
    created = t0 + offsets
    # Customers: a few big ones, a long tail; each leans to one kind.
    weights = 1.0 / np.arange(1, _CUSTOMERS) ** 0.8
    meta_cust = rng.choice(np.arange(1, _CUSTOMERS), size=n, p=weights / weights.sum())
    meta_cust = np.where(burst_owner > 0, burst_owner, meta_cust)
    global_kind = rng.choice(len(_KINDS), size=n, p=_KIND_P)
    kind_idx = np.where(rng.random(n) < 0.5, meta_cust % len(_KINDS), global_kind)
    res_idx = rng.choice(len(_RESOLUTIONS), size=n, p=_RES_P)
    # Media duration (s): lognormal per kind; images have none.
    med = np.array([60.0, 0.0, 180.0, 300.0, 6.0])[kind_idx]
    duration = np.round(med * rng.lognormal(0.0, 0.9, size=n), 3)
    pixels = np.array([w * h for w, h in _RESOLUTIONS], dtype=float)[res_idx] / (1280 * 720)
    enc_per_media_s = np.array([0.35, 0.0, 0.04, 0.9, 0.25])[kind_idx] * np.sqrt(pixels)
    encode_ms = (
        np.where(kind_idx == 1, 800.0, duration * 1000 * enc_per_media_s)
        * rng.lognormal(0.0, 0.35, size=n)
        + 500
    )
    probe_ms = rng.lognormal(np.log(700), 0.4, size=n)
    sizes = (duration * np.array([4e5, 0, 2.4e4, 6e5, 2e5])[kind_idx] * np.sqrt(pixels)).astype(
        np.int64
    ) + 10_000
    image_sizes = rng.integers(80_000, 6_000_000, size=n)
    filesize = np.where(kind_idx == 1, image_sizes, sizes).astype(np.int64)
    import_ms = filesize / rng.uniform(20e6, 120e6, size=n) * 1000 + rng.uniform(100, 600, size=n)
    export_ms = rng.lognormal(np.log(900), 0.5, size=n)
    gaps = rng.uniform(20, 400, size=(n, 4))
    stage_ms = np.stack([probe_ms, import_ms, encode_ms, export_ms], axis=1)
    # The queue: waits come from the load on the platform's one pool of workers.
    service = (gaps.astype(np.int64) + stage_ms.astype(np.int64)).sum(axis=1)
    pool = np.zeros(n, dtype=np.int64)
    workers = pool_sizes(pool, service, span, 1)
    start, lost_at = run_queue(created, pool, service, workers, plan.get("outage"))
    draws = _Draws(
        as_of=as_of,
        created=created,
        kind_idx=kind_idx,
        res_idx=res_idx,
        duration=duration,
        queue_ms=(start - created).astype(float),
        filesize=filesize,
        gaps=gaps,
        stage_ms=stage_ms,
        fails=rng.random(n) < 0.05,
        fail_stage=rng.choice(4, size=n, p=_FAIL_STAGE_P),
        fail_frac=rng.uniform(0.05, 0.95, size=n),
        user_cancel=np.zeros(n, dtype=bool),
        cancel_stage=rng.integers(0, 4, size=n),
        err_pick=rng.integers(0, 3, size=n),
        err_num=rng.integers(1, 9999, size=n),
        str_error=rng.random(n) < 0.15,  # some workers report a plain string error
        meta_cust=meta_cust,
        meta_src=rng.choice(3, size=n, p=(0.6, 0.3, 0.1)),
        width_pick=rng.choice(3, size=n),
        progress_pick=rng.integers(1, 100, size=n),
        forced=np.full(n, -1, dtype=np.int64),
    )
    draws.user_cancel = (~draws.fails) & (rng.random(n) < 0.01)
    _apply_incidents(draws, rng, plan, start, lost_at)
    return draws


def _apply_incidents(
    d: _Draws, rng: np.random.Generator, plan: Schedule, start: np.ndarray, lost_at: np.ndarray
) -> None:
    """Failures the incidents cause, on top of the everyday ones."""
    pick = rng.random(len(start))
    release, broken = plan.get("bad_release"), plan.get("broken_files")
    if release is not None:
        hit = (d.kind_idx == _KINDS.index(release.target)) & (start >= release.start)
        hit &= (start < release.end) & (pick < release.severity)
        _force(d, hit, stage=2, code=1)
    if broken is not None:
        hit = (d.meta_cust == _BROKEN_CUSTOMER) & (d.created >= broken.start)
        hit &= (d.created < broken.end) & (pick < broken.severity)
        _force(d, hit, stage=0, code=2)
    lost = lost_at >= 0
    if lost.any():
        # The stage running at the instant the worker was lost, and how far it had got.
        steps = np.cumsum(np.stack([d.gaps, d.stage_ms], axis=2).reshape(len(start), 8), axis=1)
        elapsed = (lost_at - start)[:, None]
        stage = np.clip((steps[:, 1::2] < elapsed).sum(axis=1), 0, 3)
        begun = np.take_along_axis(steps[:, 0::2], stage[:, None], axis=1)[:, 0]
        frac = (elapsed[:, 0] - begun) / np.maximum(d.stage_ms[np.arange(len(start)), stage], 1)
        _force(d, lost, stage=stage, code=0)
        d.fail_frac = np.where(lost, np.clip(frac, 0.0, 1.0), d.fail_frac)


def _force(d: _Draws, hit: np.ndarray, *, stage: Any, code: int) -> None:
    d.fails = d.fails | hit
    d.user_cancel = d.user_cancel & ~hit
    d.fail_stage = np.where(hit, stage, d.fail_stage)
    d.forced = np.where(hit, code, d.forced)


@dataclass
class _Files:
    """The files one job's four tasks read and write."""

    in_url: str
    outputs: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    options: dict[str, Any]


def _file(kind: str, url: str, fmt: str, **fields: Any) -> dict[str, Any]:
    return {"object": "file", "kind": media_kind(kind), "url": url, "format": fmt, **fields}


def _files(d: _Draws, i: int, jid: str, kind: str) -> _Files:
    w, h = _RESOLUTIONS[d.res_idx[i]]
    cust = int(d.meta_cust[i])
    in_fmt, out_fmt = FORMATS[kind]
    in_url = f"https://media.example-{cust:02d}.com/in/{jid[4:12]}.{in_fmt}"
    store = f"https://store.ittybit.net/org_{cust:02d}/{jid}"
    out_ext = "m3u8" if kind == "adaptive_video" else out_fmt
    duration, filesize = float(d.duration[i]), int(d.filesize[i])
    probe_out = _file(kind, in_url, in_fmt)
    if kind != "audio":
        probe_out["width"], probe_out["height"] = w, h
    if kind != "image":
        probe_out["duration"] = duration
        probe_out["codecs"] = codecs(kind, "in")
    enc_w = (640, 1280, 1920)[d.width_pick[i]] if kind in ("video", "adaptive_video") else w
    enc_out = _file(kind, f"{store}.{out_ext}", out_fmt, filesize=filesize // 3 + 1000)
    if kind != "audio":
        enc_out["width"], enc_out["height"] = enc_w, round(enc_w * h / w)
    if kind != "image":
        enc_out["duration"] = duration
        enc_out["codecs"] = codecs(kind, "out")
        enc_out["bitrate"] = int(enc_out["filesize"] * 8 / max(duration, 0.1))
    if kind in ("video", "adaptive_video", "animation"):
        enc_out["fps"] = (24.0, 25.0, 30.0)[d.width_pick[i]]
    outputs = [
        probe_out,
        _file(kind, f"{store}/source.{in_fmt}", in_fmt, filesize=filesize),
        enc_out,
        _file(kind, f"s3://media-out-{cust:02d}/{jid}.{out_ext}", out_fmt),
    ]
    external = {"object": "external_file", "url": in_url}
    inputs: list[dict[str, Any]] = [
        external,
        dict(external),
        {"object": "file", "url": outputs[1]["url"], "kind": media_kind(kind), "format": in_fmt},
        {"object": "file", "url": enc_out["url"], "kind": media_kind(kind), "format": out_fmt},
    ]
    return _Files(in_url, outputs, inputs, options(kind, enc_w))


def _timeline(d: _Draws, i: int) -> tuple[list[int], list[int], int, int, str]:
    """Stage k starts after stage k-1 finished plus a small hand-off gap. Returns the
    starts, the ends, the stage the job stopped at (4: none), when, and the outcome."""
    t = int(d.created[i]) + int(d.queue_ms[i])
    starts, ends = [], []
    for k in range(4):
        t += int(d.gaps[i, k])
        starts.append(t)
        t += int(d.stage_ms[i, k])
        ends.append(t)
    if d.fails[i] or d.user_cancel[i]:
        stage = int(d.fail_stage[i] if d.fails[i] else d.cancel_stage[i])
        stop_at = starts[stage] + int(d.stage_ms[i, stage] * d.fail_frac[i])
        return starts, ends, stage, stop_at, "failed" if d.fails[i] else "cancelled"
    return starts, ends, 4, ends[3], "succeeded"


def _job(d: _Draws, i: int, jid: str, task_ids: list[str]) -> dict[str, Any]:
    kind = _KINDS[d.kind_idx[i]]
    c, as_of = int(d.created[i]), d.as_of
    files = _files(d, i, jid, kind)
    starts, ends, stop_stage, stop_at, outcome = _timeline(d, i)
    error: Any = None
    if outcome == "failed":
        choices = _ERRORS[_STAGES[stop_stage]]
        ekind, template = choices[d.err_pick[i] % len(choices)]
        if d.forced[i] >= 0:
            ekind, template = _FORCED[d.forced[i]]
        stage = _STAGES[stop_stage]
        msg = template.format(url=files.in_url, n=int(d.err_num[i]), job=jid, stage=stage)
        error = msg if d.str_error[i] else {"kind": ekind, "message": msg}
    tasks = []
    for k in range(4):
        tk: dict[str, Any] = {
            "id": task_ids[k],
            "object": "task",
            "kind": kind if k == 2 else _STAGES[k],
            "input": files.inputs[k],
            "options": files.options if k == 2 else {},
            "output": None,
            "status": "waiting",
            "progress": None,
            "error": None,
            "created_at": c,
            "started_at": None,
            "finished_at": None,
            "updated_at": c,
        }
        if k == 3 and outcome == "succeeded":
            tk["options"] = {"url": files.outputs[3]["url"], "connection_id": "conn_" + jid[4:14]}
        if k < stop_stage:
            _set_state(tk, "succeeded", starts[k], ends[k], output=files.outputs[k], as_of=as_of)
        elif k == stop_stage:
            failure = error if outcome == "failed" else None
            progress = int(d.progress_pick[i])
            _set_state(
                tk,
                outcome,
                starts[k],
                stop_at,
                output=None,
                as_of=as_of,
                error=failure,
                progress=progress,
            )
        # Later siblings never ran: cancelled when the job stopped early.
        elif stop_at <= as_of:
            tk.update(status="cancelled", finished_at=stop_at, updated_at=stop_at)
        tasks.append(tk)
    job: dict[str, Any] = {
        "id": jid,
        "object": "job",
        "kind": kind,
        "input": files.in_url,
        "output": None,
        "options": files.options,
        "metadata": metadata(int(d.meta_cust[i]), int(d.meta_src[i])),
        "status": "queued",
        "error": None,
        "tasks": tasks,
        "created_at": c,
        "started_at": None,
        "finished_at": None,
        "updated_at": c,
    }
    if starts[0] <= as_of:
        job.update(status="processing", started_at=starts[0], updated_at=starts[0])
        job["updated_at"] = max(int(tk["updated_at"]) for tk in tasks)
    if stop_at <= as_of:
        job.update(status=outcome, finished_at=stop_at, updated_at=stop_at, error=error)
        if outcome == "succeeded":
            job["output"] = files.outputs[2]["url"]
    return job


def _set_state(
    task: dict[str, Any],
    final: str,
    started: int,
    finished: int,
    *,
    output: dict[str, Any] | None,
    as_of: int,
    error: Any = None,
    progress: int = 50,
) -> None:
    """Set a task's fields as seen at ``as_of`` (its work may not have happened yet)."""
    if started > as_of:
        return
    if finished > as_of:
        task.update(
            status="processing",
            started_at=started,
            updated_at=as_of - (as_of % 1000),
            progress=progress,
        )
        return
    task.update(
        status=final,
        started_at=started,
        finished_at=finished,
        updated_at=finished,
        output=output,
        error=error,
        progress=100 if final == "succeeded" else None,
    )
