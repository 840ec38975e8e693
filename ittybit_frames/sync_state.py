"""Where a sync stands, in the lake's manifest (``sync`` key): each kind's frontier,
an interrupted walk's checkpoint, the lake's bound (``since``); and in the lake itself:
its unfinished jobs, to read again. Read and written by :mod:`ittybit_frames.sync` under
the lake's lock."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ittybit_frames.errors import ConfigurationError
from ittybit_frames.lake import MANIFEST, read_columns, read_manifest, sync_entry, write_manifest
from ittybit_frames.schema import epoch_ms_array
from ittybit_frames.vocabulary import MS_MIN, TERMINAL_STATUSES, epoch_ms

logger = logging.getLogger(__name__)

__all__ = [
    "advance",
    "first_bound",
    "known_end",
    "lake_jobs",
    "load_state",
    "lower_end",
    "padded_ids",
    "plan_refresh",
    "record_bound",
    "recorded_bound",
    "remember_padded_ids",
    "save_state",
    "walk_ends",
]


def load_state(root: Path | str) -> dict[str, Any]:
    state = sync_entry(read_manifest(root))
    state.setdefault("frontiers", {})
    state.setdefault("walks", {})
    if "since" in state:
        state["since"] = recorded_bound(state)
    return state


def recorded_bound(state: dict[str, Any]) -> int | None:
    """The lake's bound (``sync.since`` in its manifest) in epoch milliseconds (``None``:
    the whole history); a time written by hand (``2026-11-01``) is read as one, and
    anything else is a :class:`ConfigurationError` line naming the key (left as found)."""
    value = state.get("since")
    try:
        return epoch_ms(value)
    except ValueError as exc:
        raise ConfigurationError(
            f"the lake's {MANIFEST} records sync.since {repr(value)[:40]}, which is no time "
            f"({exc}): put back the epoch milliseconds a sync wrote there, or remove the "
            "key (new kinds are then read from the whole history)"
        ) from None


def save_state(root: Path | str, state: dict[str, Any]) -> None:
    manifest = read_manifest(root)
    manifest["sync"] = state
    write_manifest(root, manifest)


def lower_end(frontier: int, walk: dict[str, Any] | None) -> int | None:
    """Where the walk of a kind synced before stops (before the cut for unfinished jobs):
    its frontier, or an interrupted walk's own lower end, but no higher than the frontier
    (a ``since`` before a kind's mark, given to the sync that resumes its walk)."""
    if walk is None:
        return frontier
    lower: int | None = walk.get("lower")
    return None if lower is None else min(lower, frontier)


def known_end(
    state: dict[str, Any], key: str, *, unfiltered: bool, since_ms: int | None = None
) -> int | None:
    """Where a walk of a kind synced before stops: its frontier; for a kind the listing
    does not filter (``unfiltered``), the newest job the last completed walk listed, of
    any kind (``sync.walked``), when that is newer, so that each sync does not walk the
    listing again down to the kind's newest job (or, with none, the whole listing).
    ``None``: a first walk.

    The mark says nothing of how far back that walk went: a ``since_ms`` before it is
    walked down to, as for a kind the listing filters and that has no frontier yet."""
    frontier: int | None = state["frontiers"].get(key)
    mark: int | None = state.get("walked", {}).get(key) if unfiltered else None
    if mark is None:
        return frontier
    if frontier is None:
        return mark if since_ms is None else min(mark, since_ms)
    # A completed walk went down to the frontier and listed nothing newer than the mark.
    return max(frontier, mark)


def advance(
    state: dict[str, Any], key: str, newest: int | None, reached: int | None, *, began: int
) -> None:
    """Move a kind's frontier after a completed walk: to ``newest``, the newest job of
    the kind it wrote (a frontier is its newest job's, which ``check`` holds it to); and,
    for a kind the listing does not filter, remember ``reached`` (the newest job listed,
    of any kind) in ``sync.walked``, so the next walk stops there rather than at the
    kind's newest job, however old (:func:`known_end`).

    Neither moves past ``began``, when the walk began (epoch ms, this machine's clock): a
    job created "in the future" (a clock bug, a hand-typed value) would otherwise stop
    every later walk above the jobs created since. Such a job is listed again by each
    sync instead (it is newer than where the walk stops)."""
    if max(newest or 0, reached or 0) > began:
        logger.warning(
            "a listed job is dated after this machine's clock: the next sync walks down "
            "to now again (check the clock, or the job's created_at)"
        )
    newest = None if newest is None else min(newest, began)
    reached = None if reached is None else min(reached, began)
    walked = state.get("walked", {})
    if newest is not None:
        frontier = state["frontiers"].get(key)
        state["frontiers"][key] = max(newest, frontier or newest)
    if reached is not None:
        walked[key] = max(reached, walked.get(key) or reached)
    if walked:
        state["walked"] = walked
    else:
        state.pop("walked", None)


def first_bound(
    state: dict[str, Any], walk: dict[str, Any] | None, since_ms: int | None
) -> int | None:
    """Where the first walk of a kind (or of all kinds) stops: ``since`` when given (the
    kind is not synced yet, so an interrupted walk goes on after its checkpoint down to
    it); else an interrupted walk's bound; else the lake's bound (:func:`record_bound`;
    ``None`` or none recorded: the whole history), so a lake first synced from D holds
    every kind from D."""
    if since_ms is not None:
        return since_ms
    if walk is not None:
        # A checkpoint written before the bound was kept apart has its lower end only.
        kept: int | None = walk.get("bound", walk.get("lower"))
        return kept
    lake: int | None = state.get("since")
    return lake


def record_bound(state: dict[str, Any], key: str, bound: int | None) -> None:
    """Record the lake's bound (``sync.since``) once a first walk has completed: the
    lowest ``since`` a completed walk covered (``None``: the whole history).

    The first walk to complete sets it, and so does each one after it while no walk has
    found a job (a walk that found nothing does not bound the next one: the lake holds
    what that one reads); a walk of all kinds reaching further back lowers it; a kind's
    own ``since`` later is that kind's only. A lake synced before the bound was recorded
    has none, which stays so: its kinds are read whole, as they were."""
    if not state["frontiers"]:
        state["since"] = bound
    elif key == "*" and state.get("since") is not None:
        state["since"] = None if bound is None else min(bound, state["since"])


def padded_ids(root: Path | str) -> dict[str, str]:
    """The padded IDs of the lake's unfinished jobs (``sync.padded_ids``: ``{ID in the
    lake: ID as the API listed it}``), for the client to request them as the API keys
    them."""
    found: dict[str, str] = sync_entry(read_manifest(root)).get("padded_ids", {})
    return found


def remember_padded_ids(
    root: Path | str, known: dict[str, str], unfinished: Collection[str]
) -> None:
    """Keep in the manifest the padded IDs of the jobs still unfinished (the others are
    never requested again), when there is a manifest and they changed."""
    manifest = read_manifest(root)
    if "sync" not in manifest:
        return
    state = sync_entry(manifest)
    kept = {k: v for k, v in known.items() if k in unfinished}
    if kept == state.get("padded_ids", {}):
        return
    if kept:
        state["padded_ids"] = kept
    else:
        state.pop("padded_ids", None)
    write_manifest(root, manifest)


def walk_ends(
    state: dict[str, Any],
    key: str,
    since_ms: int | None,
    cut: int | None,
    *,
    unfiltered: bool,
    overlap_ms: int,
) -> tuple[int | None, int | None, int | None]:
    """Where a walk of ``key`` stops: ``(known, bound, lower)``: the kind's known end
    (``None``: a first walk), a first walk's bound, and the lower end the listing is
    walked down to. A kind synced before is walked ``overlap_ms`` below its known
    end, so that a job the API listed only after the last walk passed its time is read
    (no further than 2000, the earliest time read: a larger overlap walks the whole
    listing); a walk of all kinds goes down to ``cut`` too, to read unfinished jobs
    again."""
    walk: dict[str, Any] | None = state["walks"].get(key)
    known = known_end(state, key, unfiltered=unfiltered, since_ms=since_ms)
    if known is None:
        bound = first_bound(state, walk, since_ms)
        lower = bound
    else:
        bound, lower = None, lower_end(max(known - overlap_ms, MS_MIN), walk)
    resumed_or_known = known is not None or walk is not None
    if lower is not None and cut is not None and key == "*" and resumed_or_known:
        lower = min(lower, cut)
    return known, bound, lower


def lake_jobs(root: Path | str) -> pd.DataFrame:
    """job_id, status, created_at of every job in the lake (three columns only)."""
    table = read_columns(root, "jobs", ["job_id", "status", "created_at"])
    if table is None:
        return pd.DataFrame({"job_id": [], "status": [], "created_at": []})
    frame: pd.DataFrame = table.to_pandas()
    return frame


def plan_refresh(root: Path | str) -> tuple[int | None, list[str]]:
    """Decide how to re-read the lake's unfinished jobs, in the fewest requests.

    Unfinished jobs are mostly the newest ones, so listing newest-first down to a cut
    (100 jobs a request) usually beats fetching each by ID. The cut minimises
    ``pages listed + unfinished jobs older than the cut (fetched by ID)``.

    Returns
    -------
    cut : int or None
        Extend the listing walk down to this creation time (epoch ms), or None.
    unfinished : list of str
        Every unfinished job, newest first: those the walk does not reach (older than
        the cut, or skipped because a resumed walk keeps its own bound) are then
        fetched by ID.
    """
    lake = lake_jobs(root)
    if lake.empty:
        return None, []
    unfinished = lake[~lake["status"].astype(str).isin(TERMINAL_STATUSES)]
    if unfinished.empty:
        return None, []
    created_all = np.sort(epoch_ms_array(lake["created_at"]))
    created_all = created_all[~np.isnan(created_all)]
    times = epoch_ms_array(unfinished["created_at"])
    order = np.argsort(-np.nan_to_num(times, nan=-np.inf), kind="stable")
    ids = unfinished["job_id"].astype(str).to_numpy()[order]
    times = times[order]
    best_cost, best_cut = len(ids), None
    for i, t in enumerate(times):
        if np.isnan(t):
            break  # no creation time: it can only be fetched by ID
        in_window = len(created_all) - int(np.searchsorted(created_all, t, side="left"))
        cost = -(-in_window // 100) + (len(ids) - i - 1)
        if cost < best_cost:
            best_cost, best_cut = cost, int(t)
    return best_cut, [str(j) for j in ids]
