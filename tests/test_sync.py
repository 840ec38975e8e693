"""Incremental sync: frontier walk, refresh of unfinished jobs only, checkpoints, kills."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import JOURNAL, read_manifest
from ittybit_frames.simulator import DEFAULT_START, SimulatorAPI, generate_history, serve
from tests.conftest import cli_sync, fast_client
from tests.frames_equal import assert_frame_equal
from tests.test_lake_safety import duck, healthy


def assert_same_lake(a: Path, b: Path | itf.JobFrames) -> None:
    """``a`` reads as ``b`` (a lake, or its frames read once)."""
    left, right = itf.read_parquet(a), b if isinstance(b, itf.JobFrames) else itf.read_parquet(b)
    assert_frame_equal(left.jobs, right.jobs)
    assert_frame_equal(left.tasks, right.tasks)


def export(api: SimulatorAPI, path: Path) -> None:
    itf.to_frames(api.jobs).to_parquet(path, mode="overwrite")


@pytest.mark.slow
def test_second_sync_refreshes_only_unfinished_jobs(tmp_path: Path) -> None:
    history = generate_history(20_000, seed=1)
    with serve(history) as api, fast_client(api) as client:
        first = itf.sync(tmp_path / "lake", client=client)
        assert first.new_jobs == 20_000 and first.lake_jobs == 20_000
        terminal = {
            j["id"] for j in api.jobs if j["status"] in ("succeeded", "failed", "cancelled")
        }
        unfinished = {j["id"] for j in api.jobs} - terminal
        mark = len(api.requests)
        api.advance(2)
        second = itf.sync(tmp_path / "lake", client=client)
        requests = api.requests[mark:]
        export(api, tmp_path / "fresh")
    fetched = {r.path.removeprefix("/jobs/") for r in requests if r.path.startswith("/jobs/")}
    assert not fetched & terminal  # no terminal job was ever asked for again
    assert fetched <= unfinished
    # Unfinished jobs are the newest: re-listing them beats one request per job.
    assert len(requests) < 0.05 * first.requests
    assert second.updated_jobs == len(unfinished) and second.new_jobs == 0
    assert_same_lake(tmp_path / "lake", tmp_path / "fresh")


def test_refresh_plan_lists_recent_and_fetches_old_stragglers(tmp_path: Path) -> None:
    from ittybit_frames.sync_state import plan_refresh as _plan_refresh

    history = generate_history(2000, seed=8, days=0.1)  # dense: some still in flight
    straggler = next(j for j in history[:100] if j["status"] == "succeeded")
    straggler.update(status="processing", finished_at=None)
    itf.to_frames(history).to_parquet(tmp_path)
    cut, unfinished = _plan_refresh(tmp_path)
    recent = [
        j for j in history if j["status"] in ("queued", "processing") and j["id"] != straggler["id"]
    ]
    # The walk reaches down to a recent one (the cheapest cut: pages listed + jobs by
    # ID); the old straggler is cheaper by ID than the pages between, so it stays below.
    assert cut in {j["created_at"] for j in recent}
    assert straggler["created_at"] < cut
    by_id = {j["id"] for j in recent if j["created_at"] < cut} | {straggler["id"]}
    assert set(unfinished) == {j["id"] for j in recent} | {straggler["id"]}
    with serve(history) as api, fast_client(api) as client:
        itf.sync(tmp_path / "synced", client=client)  # first sync: the whole listing
        mark = len(api.requests)
        itf.sync(tmp_path / "synced", client=client)
        gets = [r.path for r in api.requests[mark:] if r.path.startswith("/jobs/")]
    assert sorted(gets) == sorted(f"/jobs/{i}" for i in by_id)


def test_new_jobs_are_listed_down_to_the_frontier(tmp_path: Path) -> None:
    old = generate_history(300, seed=2, days=10, start=DEFAULT_START)
    with serve(old) as api, fast_client(api) as client:
        itf.sync(tmp_path / "lake", client=client)
        later = generate_history(150, seed=3, start=pd.Timestamp("2026-10-11", tz="UTC"), days=2)
        api.add_jobs(later)
        mark = len(api.requests)
        report = itf.sync(tmp_path / "lake", client=client)
        pages = [r for r in api.requests[mark:] if r.path == "/jobs"]
        export(api, tmp_path / "fresh")
    assert report.new_jobs == 150
    assert len(pages) == 2  # 150 new jobs + the frontier page, not the whole history
    assert_same_lake(tmp_path / "lake", tmp_path / "fresh")


def test_interrupted_sync_resumes_without_refetching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = generate_history(1000, seed=4)
    real_pages = itf.Client._pages_ahead  # the walk sync reads (ahead of its writes)

    def ctrl_c_after_six_pages(self: itf.Client, **options: Any) -> Any:
        for n, page in enumerate(real_pages(self, **options)):
            if n == 6:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C here
            yield page

    with serve(history) as api:
        with monkeypatch.context() as patch:
            patch.setattr(itf.Client, "_pages_ahead", ctrl_c_after_six_pages)
            with fast_client(api) as client, pytest.raises(KeyboardInterrupt):
                itf.sync(tmp_path / "lake", client=client, batch_jobs=200)
        walk = read_manifest(tmp_path / "lake")["sync"]["walks"]["*"]
        written = itf.read_parquet(tmp_path / "lake").jobs
        assert len(written) == 600 and walk["cursor"] in set(written["job_id"])
        mark = len(api.requests)
        with fast_client(api) as client:
            report = itf.sync(tmp_path / "lake", client=client, batch_jobs=200)
        queries = [r.query for r in api.requests[mark:] if r.path == "/jobs"]
        export(api, tmp_path / "fresh")
    assert report.resumed and report.new_jobs == 400
    assert f"after={walk['cursor']}" in queries[0]  # continued after the checkpoint
    assert len(queries) == 4  # 400 jobs left: 4 pages, none of the first 6 again
    assert_same_lake(tmp_path / "lake", tmp_path / "fresh")


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    """Six trials: start the CLI sync, SIGKILL it at a random moment, check the lake
    reads, resume, and compare with an uninterrupted sync. (Kills at each step of a lake
    write are in test_lake_safety; this one kills a whole sync wherever it happens to be.)"""
    history = generate_history(1500, seed=6)
    rng = random.Random(2026)
    with serve(history, latency=0.02, record=False) as api:
        # How long one uninterrupted CLI sync takes here: the kills land inside it.
        began = time.monotonic()
        reference = cli_sync(tmp_path / "reference", api, "-q", "--concurrency", "4")
        _, err = reference.communicate(timeout=120)
        assert reference.returncode == 0, err.decode()
        whole = time.monotonic() - began
        want = itf.read_parquet(tmp_path / "reference")  # read once: every trial compares
        killed = trial = 0
        while killed < 6 and trial < 18:  # six kills wanted; a sync that beat its kill
            trial += 1  # shortens the window, and is checked all the same
            lake = tmp_path / f"lake{trial}"
            began = time.monotonic()
            proc = cli_sync(lake, api, "-q", "--concurrency", "4")
            try:
                proc.wait(timeout=rng.uniform(0.35, 0.9) * whole)
                whole = min(whole, time.monotonic() - began)  # the machine got faster
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed += 1
            finally:
                if proc.stderr:
                    proc.stderr.close()
            if (lake / "_ittybit_frames.json").exists():
                frames = itf.read_parquet(lake)  # readable after the kill
                assert frames.jobs["job_id"].is_unique
                assert set(frames.tasks["job_id"]) <= set(frames.jobs["job_id"])
                if not (lake / JOURNAL).exists():  # else: renames pending (lake docstring)
                    assert duck(lake)[:2] == (len(frames.jobs), len(frames.jobs))
            with fast_client(api) as client:
                itf.sync(lake, client=client, batch_jobs=100)
            assert_same_lake(lake, want)
            assert duck(lake)[:2] == (len(history), len(history))
            healthy(lake)
    assert killed == 6, trial  # the trials really interrupted syncs in flight


def test_cli_sync_exit_codes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    history: list[dict[str, Any]],
) -> None:
    from ittybit_frames.cli import main

    monkeypatch.delenv("ITTYBIT_API_KEY", raising=False)
    assert main(["sync", str(tmp_path / "lake")]) == 2
    assert "ITTYBIT_API_KEY" in capsys.readouterr().err
    with serve(history) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        assert main(["sync", str(tmp_path / "lake"), "--base-url", api.url, "-q", "--json"]) == 0
    assert '"new_jobs":400' in capsys.readouterr().out


def test_export_into_a_synced_lake_merges_and_sync_refills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why: an export where every ID failed replaced the lake with nothing, and the
    overwrite kept the checkpoint, so the next sync added 0 jobs and said ok."""
    history = generate_history(300, seed=8)
    lake = tmp_path / "lake"
    with serve(history, record=False) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        assert main(["sync", str(lake), "-q"]) == 0
        before = itf.read_parquet(lake).jobs
        assert main(["export", "--out", str(lake), "--ids", "job_missing", "-q"]) == 1
        assert "nothing was written" in capsys.readouterr().err
        assert_frame_equal(itf.read_parquet(lake).jobs, before)
        # An export into an existing lake merges: the lake keeps its 300 jobs.
        assert main(["export", "--out", str(lake), "--ids", history[0]["id"], "-q"]) == 0
        assert len(itf.read_parquet(lake).jobs) == 300
        assert read_manifest(lake)["sync"]["frontiers"]
        # --mode overwrite replaces the lake and forgets the sync state; sync refills it.
        argv = ["export", "--out", str(lake), "--ids", history[0]["id"], "--mode", "overwrite"]
        assert main([*argv, "-q"]) == 0
        assert len(itf.read_parquet(lake).jobs) == 1 and "sync" not in read_manifest(lake)
        assert main(["sync", str(lake), "-q", "--lock-timeout", "5"]) == 0
        assert len(itf.read_parquet(lake).jobs) == 300
    healthy(lake)
