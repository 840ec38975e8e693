"""The simulator's jobs: storage with cached JSON bodies, listing pages, moving jobs on."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

import orjson

from ittybit_frames.simulator._http import Answer, error_answer

__all__ = ["JobStore", "ListingStyle", "advance", "list_page"]

_JOB_KINDS = frozenset({"video", "audio", "image", "animation", "adaptive_video"})
_JOB_STATUSES = frozenset({"queued", "processing", "succeeded", "failed", "cancelled"})
_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
#: Integer timestamps below this are Unix seconds (the "runs" API), not milliseconds.
_SECONDS_BELOW = 10**11


def dumps(value: Any) -> bytes:
    """JSON bytes; integers beyond 64 bits (valid JSON, refused by orjson) via the stdlib."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def record(job: dict[str, Any]) -> dict[str, Any]:
    """The job itself, also when an older API version's envelope wraps it."""
    data = job.get("data")
    return data if "id" not in job and isinstance(data, dict) else job


def created_ms(job: dict[str, Any]) -> int:
    """Creation time for ordering, in ms: an integer (ms, or seconds as the "runs" API
    sent them) or an ISO-8601 ``created``; anything else (the API may send junk) is 0."""
    job = record(job)
    value = job.get("created_at", job.get("created", 0))
    if isinstance(value, str):
        try:
            return int(dt.datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError:
            return 0
    if not isinstance(value, int) or isinstance(value, bool):
        return 0
    return value * 1000 if 0 < value < _SECONDS_BELOW else value


@dataclass
class JobStore:
    """Jobs by ID, their listing order, and their JSON bodies (cached until changed)."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # ascending (created_at, id)
    pos: dict[str, int] = field(default_factory=dict)
    full: dict[str, bytes] = field(default_factory=dict)  # job JSON with tasks
    bare: dict[str, bytes] = field(default_factory=dict)  # job JSON without tasks

    def load(self, jobs: Iterable[dict[str, Any]]) -> None:
        for job in jobs:
            jid = str(record(job)["id"])
            self.jobs[jid] = job
            self.full.pop(jid, None)
            self.bare.pop(jid, None)
        self.order = sorted(self.jobs, key=lambda j: (created_ms(self.jobs[j]), j))
        self.pos = {jid: i for i, jid in enumerate(self.order)}

    def body(self, jid: str, *, tasks: bool) -> bytes:
        cache = self.full if tasks else self.bare
        data = cache.get(jid)
        if data is None:
            job = self.jobs[jid]
            if not tasks:
                bare = {k: v for k, v in record(job).items() if k != "tasks"}
                job = bare if record(job) is job else {**job, "data": bare}
            data = cache[jid] = dumps(job)
        return data

    def touch(self, jid: str) -> None:
        self.full.pop(jid, None)
        self.bare.pop(jid, None)


def _current_shape(job: dict[str, Any]) -> bool:
    stamp = job.get("created_at")
    return job.get("status") in _JOB_STATUSES and isinstance(stamp, int) and stamp >= _SECONDS_BELOW


def advance(store: JobStore, now: int, rng: random.Random, fail_share: float) -> set[str]:
    """Move every unfinished job one step at ``now``: queued -> processing -> succeeded
    (or failed, for a seeded share). Returns the IDs that changed. Jobs of an older API
    version's shape (see ``generate_history(generation=...)``) are served as they are
    and never moved on."""
    changed = set()
    for jid, job in store.jobs.items():
        status = job.get("status")
        if status in _TERMINAL or not _current_shape(job):
            continue
        raw_tasks = job.get("tasks")
        tasks = [t for t in raw_tasks if isinstance(t, dict)] if isinstance(raw_tasks, list) else []
        if status == "queued":
            job.update(status="processing", started_at=now, updated_at=now)
            if tasks:
                tasks[0].update(status="processing", started_at=now, updated_at=now, progress=10)
        else:
            failed = rng.random() < fail_share
            _finish_tasks(tasks, now, failed)
            job.update(status="failed" if failed else "succeeded", finished_at=now, updated_at=now)
            if failed:
                job["error"] = {
                    "kind": "encode_failed",
                    "message": f"Encoder exited with code 1 on {jid}",
                }
            elif tasks:
                out = tasks[-2].get("output") if len(tasks) > 1 else None
                job["output"] = out.get("url") if isinstance(out, dict) else None
        store.touch(jid)
        changed.add(jid)
    return changed


def _finish_tasks(tasks: list[dict[str, Any]], now: int, failed: bool) -> None:
    fail_at = len(tasks) - 2 if failed and len(tasks) >= 2 else -1
    for k, task in enumerate(tasks):
        if task.get("status") in _TERMINAL:
            continue
        if fail_at != -1 and k > fail_at:
            task.update(status="cancelled", finished_at=now, updated_at=now)
            continue
        done: dict[str, Any] = {"started_at": task.get("started_at") or now, "finished_at": now}
        if k == fail_at:
            error = {"kind": "encode_failed", "message": "Encoder exited with code 1"}
            task.update(status="failed", updated_at=now, progress=None, error=error, **done)
        else:
            task.update(status="succeeded", updated_at=now, progress=100, **done)


@dataclass(frozen=True)
class ListingStyle:
    """How ``GET /jobs`` answers: the base URL for ``Link`` headers, a
    ``{"data": [...], "has_more": ...}`` envelope or a bare array, tasks included or not;
    ``paging="pages"`` answers ``?page=N&limit=M`` as the 2024-25 API versions do, in a
    ``{"meta": {...}, "data": [...], "links": {"next": "/jobs?page=2..."}}`` envelope with
    a relative next link (``after`` is ignored then)."""

    url: str
    envelope: bool = False
    list_tasks: bool = True
    paging: str = "cursor"


def _params(query: str) -> dict[str, str] | Answer:
    """The listing's query parameters, checked; an error answer when one is invalid."""
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    try:
        limit = int(params.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return error_answer(400, "request_invalid", "limit must be an integer from 1 to 100.")
    params["limit"] = str(limit)
    if params.setdefault("order", "desc") not in ("asc", "desc"):
        return error_answer(400, "request_invalid", "order must be 'asc' or 'desc'.")
    kind, status = params.get("kind"), params.get("status")
    if kind is not None and kind not in _JOB_KINDS:
        return error_answer(400, "request_invalid", f"kind must be one of {sorted(_JOB_KINDS)}.")
    if status is not None and status not in _JOB_STATUSES:
        message = f"status must be one of {sorted(_JOB_STATUSES)}."
        return error_answer(400, "request_invalid", message)
    if params.get("after") and params.get("before"):
        return error_answer(400, "request_invalid", "Use either after or before, not both.")
    return params


def _pick(store: JobStore, params: dict[str, str]) -> tuple[list[str], bool]:
    """Up to ``limit`` job IDs from the cursor on, in the requested order; and has_more."""
    limit, after, before = int(params["limit"]), params.get("after"), params.get("before")
    kind, status = params.get("kind"), params.get("status")
    n = len(store.order)
    step = 1 if params["order"] == "asc" else -1
    # Walk the list in the requested order (or against it, for `before`).
    if after or before:
        direction = step if after else -step
        i = store.pos[after or before or ""] + direction
    else:
        direction = step
        i = 0 if step == 1 else n - 1
    picked: list[str] = []
    while 0 <= i < n and len(picked) <= limit:
        jid = store.order[i]
        job = record(store.jobs[jid])
        if (kind is None or job.get("kind") == kind) and (
            status is None or job.get("status") == status
        ):
            picked.append(jid)
        i += direction
    has_more = len(picked) > limit
    picked = picked[:limit]
    if before:
        picked.reverse()
    return picked, has_more


def _numbered_page(store: JobStore, params: dict[str, str], style: ListingStyle) -> Answer:
    """Answer ``GET /jobs?page=N&limit=M`` with a ``{meta, data, links}`` envelope."""
    try:
        page = int(params.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        return error_answer(400, "request_invalid", "page must be a positive integer.")
    limit, order = int(params["limit"]), params["order"]
    kind, status = params.get("kind"), params.get("status")
    ids = [
        jid
        for jid in (store.order if order == "asc" else reversed(store.order))
        if (kind is None or store.jobs[jid].get("kind") == kind)
        and (status is None or store.jobs[jid].get("status") == status)
    ]
    pages = max(1, -(-len(ids) // limit))
    picked = ids[(page - 1) * limit : page * limit]
    extra = "".join(f"&{k}={quote(params[k])}" for k in ("kind", "status") if params.get(k))
    links = {"self": f"/jobs?page={page}&limit={limit}&order={order}{extra}"}
    if page < pages:
        links["next"] = f"/jobs?page={page + 1}&limit={limit}&order={order}{extra}"
    meta = {"type": "list", "page": page, "pages": pages, "limit": limit, "total": len(ids)}
    body = b",".join(store.body(j, tasks=style.list_tasks) for j in picked)
    payload = b'{"meta":' + dumps(meta) + b',"data":[' + body + b'],"links":' + dumps(links)
    return ("ok", 200, {}, payload + b"}")


def list_page(store: JobStore, query: str, style: ListingStyle) -> Answer:
    """Answer ``GET /jobs?<query>``: cursor pagination with ``after``/``before``, or
    page numbers when ``style.paging == "pages"``."""
    params = _params(query)
    if isinstance(params, tuple):
        return params
    if style.paging == "pages":
        return _numbered_page(store, params, style)
    cursor = params.get("after") or params.get("before")
    if cursor and cursor not in store.pos:
        return error_answer(400, "request_invalid", f"Unknown cursor {cursor!r}.")
    picked, has_more = _pick(store, params)
    limit, order = params["limit"], params["order"]
    body = b",".join(store.body(j, tasks=style.list_tasks) for j in picked)
    headers = {"Has-More": "true" if has_more else "false", "Limit": limit}
    if has_more and picked and not params.get("before"):
        extra = "".join(f"&{k}={quote(params[k])}" for k in ("kind", "status") if params.get(k))
        headers["Link"] = (
            f"<{style.url}/jobs?after={quote(picked[-1])}&limit={limit}&order={order}{extra}>;"
            ' rel="next"'
        )
    if style.envelope:
        payload = b'{"data":[' + body + b'],"has_more":' + (b"true" if has_more else b"false")
        return ("ok", 200, headers, payload + b"}")
    return ("ok", 200, headers, b"[" + body + b"]")
