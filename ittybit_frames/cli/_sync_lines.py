"""What the ``sync`` and ``demo`` commands say about a sync, one line each: the rows its
writes set aside, the data problems in what it wrote, and what ``--since`` does on a lake
already synced (or that records no lower bound)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ittybit_frames.cli._output import Console, plural
from ittybit_frames.lake import read_manifest, sync_entry
from ittybit_frames.sync import SyncReport, recorded_bound
from ittybit_frames.sync_state import known_end
from ittybit_frames.vocabulary import listing_filters, parse_when


def say_write_problems(console: Console, problems: list[str]) -> None:
    """One line (at every level) when a sync's writes set rows aside or changed them: how
    many, and the first (each is logged as a warning as it happens)."""
    if problems:
        console.problem(f"{plural(len(problems), 'write problem')} (first: {problems[0]})")


def say_data_problems(console: Console, report: SyncReport) -> None:
    """One line (at every level) when the synced jobs had data problems (each kept as
    the line says): how many, and the first."""
    if not report.data_problem_count:
        return
    first = report.data_problems.iloc[0]
    where = " ".join(v for v in (first["job_id"], first["task_id"]) if isinstance(v, str))
    console.problem(
        f"{plural(report.data_problem_count, 'data problem')} in the synced jobs "
        f"(first: {where or 'a record'} {first['column']}: {first['problem']})"
    )


def say_since(console: Console, lake: Path | str, kind: str | None, since: str | None) -> None:
    """Say what ``--since`` does on a lake already synced: nothing for a kind it has
    synced (the sync goes on from its frontier); for a kind not synced yet, it is that
    kind's bound instead of the lake's (recorded by its first sync). Without ``--since``,
    a lake that records no bound (synced by an older version) reads a new kind whole."""
    state = sync_entry(read_manifest(lake))
    frontiers = state.get("frontiers", {})
    reached = frontiers.get(kind or "*")
    # A kind the listing does not filter that a walk marked (sync.walked): without
    # --since its next walk stops at the mark, as another kind's stops at its frontier.
    unfiltered = kind is not None and "kind" in listing_filters(kind, None)[2]
    known = known_end({**state, "frontiers": frontiers}, kind or "*", unfiltered=unfiltered)
    what = f"{kind} jobs" if kind else "all kinds"
    if since is None:
        resumed = (kind or "*") in state.get("walks", {})  # it keeps to its own bound
        if frontiers and known is None and "since" not in state and not resumed:
            console.problem(
                f"{lake} records no lower bound (synced by an older ittybit-frames): {what} "
                "are read from the whole history; pass --since to bound them"
            )
        return
    if reached is not None:
        console.problem(
            f"--since is used by a lake's first sync only: {lake} is synced ({what}) up to "
            f"{_utc(reached)} and goes on from there (sync into a new lake to reach back "
            "another way)"
        )
        return
    if not frontiers or "since" not in state:
        return
    bound, given = recorded_bound(state), parse_when(since)
    if bound == given:
        return
    lake_from = f"from {_utc(bound)}" if bound is not None else "with its whole history"
    later = (
        "the lake's bound moves back to it"
        if kind is None and bound is not None and given is not None and given < bound
        else "a kind synced later without --since keeps to that"
    )
    console.problem(
        f"--since {since}: {what} are read from there; {lake} was first synced {lake_from}, "
        f"and {later}"
    )


def _utc(ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ms / 1000, dt.UTC):%Y-%m-%d %H:%M} UTC"
