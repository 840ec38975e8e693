"""Session 13's sync defects (noticed in session 12).

A job whose ``created_at`` lies in the future (a clock bug on the API's side, a value
typed by hand in an older export) moved the sync's frontier, or a kind's walked mark, to
that time: every later sync walked the listing down to it and stopped, so no job created
since was ever synced again, without a word. A frontier or mark now moves no further
than the time the walk began (by this machine's clock): the future job is listed again
by each sync (one page), and nothing newer is missed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import time
from pathlib import Path

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
FUTURE_MS = int(dt.datetime(2090, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _job(template: dict, job_id: str, created_at: int, kind: str | None = None) -> dict:
    job = copy.deepcopy(template)
    job.update(id=job_id, created_at=created_at, updated_at=created_at)
    if kind is not None:
        job["kind"] = kind
    return job


@pytest.mark.parametrize("kind", [None, "other"], ids=["all-kinds", "kind-other"])
def test_a_job_from_the_future_does_not_stop_later_syncs(
    tmp_path: Path, kind: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    history = [j for j in generate_history(400, seed=13, end=END) if j["kind"] != "other"]
    word = None if kind is None else "hologram"  # a word no version uses: kind other
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client, kind=kind)
        api.add_jobs([_job(history[0], "job_future", FUTURE_MS, word)])
        began = int(time.time() * 1000)
        with caplog.at_level(logging.WARNING, logger="ittybit_frames"):
            second = itf.sync(tmp_path, client=client, kind=kind)
        assert second.new_jobs == 1, second
        assert any("after this machine's clock" in r.message for r in caplog.records)
        # A job created since (the history ends days ago: its clock is this machine's).
        api.add_jobs([_job(history[1], "job_after", int(time.time() * 1000), word)])
        third = itf.sync(tmp_path, client=client, kind=kind)
    assert third.failures.empty, third.failures.to_dict("records")
    assert third.new_jobs == 1, third
    ids = set(itf.read_parquet(tmp_path).jobs["job_id"])
    assert {"job_future", "job_after"} <= ids
    state = json.loads((tmp_path / itf.lake.MANIFEST).read_text())["sync"]
    key = kind or "*"
    marks = [state["frontiers"].get(key), state.get("walked", {}).get(key)]
    assert all(m is None or m <= int(time.time() * 1000) for m in marks), state
    assert any(m is not None and m >= began for m in marks), state
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems


@pytest.mark.parametrize("kind", [None, "other"], ids=["all-kinds", "kind-other"])
def test_a_job_the_api_lists_late_is_read_by_the_next_sync(
    tmp_path: Path, kind: str | None
) -> None:
    """A job created a minute before the newest one a sync saw, but not yet listed when
    that sync walked (committed late, an eventually consistent listing): the next sync
    stopped at the frontier, above it, and it was never read. The walk now goes a
    little further back than the frontier (``overlap_seconds``, 5 minutes by default)."""
    history = [j for j in generate_history(400, seed=13, end=END) if j["kind"] != "other"]
    word = None if kind is None else "hologram"
    if kind is not None:
        history[-1] = {**history[-1], "kind": word}
    newest = max(j["created_at"] for j in history)
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client, kind=kind)
        api.add_jobs([_job(history[2], "job_late", newest - 60_000, word)])
        second = itf.sync(tmp_path, client=client, kind=kind)
        assert second.failures.empty, second.failures.to_dict("records")
        assert second.new_jobs == 1, second
        # Beyond the overlap, a job listed late is the API's to explain: it stays unread.
        api.add_jobs([_job(history[3], "job_too_late", newest - 3_600_000, word)])
        third = itf.sync(tmp_path, client=client, kind=kind, overlap_seconds=60)
    assert third.new_jobs == 0, third
    ids = set(itf.read_parquet(tmp_path).jobs["job_id"])
    assert "job_late" in ids and "job_too_late" not in ids
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems
