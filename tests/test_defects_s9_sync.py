"""Session 9's sync defects: what a write set aside reaches the sync's report and the CLI
(1), and a lake's lower bound (``since``) bounds every later walk (2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.cli._commands import say_write_problems
from ittybit_frames.cli._output import Console
from ittybit_frames.lake import WriteReport, read_manifest
from tests.conftest import fast_client
from tests.test_lake_safety import records


def without_job(frames: itf.JobFrames, job: str) -> itf.JobFrames:
    """``frames`` whose job ``job`` is gone and whose task of it is still there."""
    return itf.JobFrames(frames.jobs[frames.jobs["job_id"] != job], frames.tasks, frames.problems)


@pytest.mark.parametrize("mode", ["overwrite", "merge", "append"])
def test_a_write_names_the_tasks_it_sets_aside_because_their_job_is_missing(
    tmp_path: Path, mode: str
) -> None:
    """Why: merge and append dropped a task whose job was not among the frames' jobs
    without a word, and overwrite wrote it (a lake ``check`` then calls unhealthy)."""
    frames = without_job(itf.to_frames(records("o", 4, days=2)), "job_o00001")
    report = itf.write_parquet(frames, tmp_path, mode=mode)  # type: ignore[arg-type]
    [line] = [p for p in report.problems if "job_o00001" in p]
    assert line.startswith("1 task of 1 job") and "not written" in line, line
    back = itf.read_parquet(tmp_path)
    assert sorted(back.tasks["job_id"]) == ["job_o00000", "job_o00002", "job_o00003"]
    assert report.tasks_written == 3
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems


def test_a_write_of_tasks_whose_jobs_are_all_there_has_no_problem(tmp_path: Path) -> None:
    report = itf.write_parquet(itf.to_frames(records("o", 4, days=2)), tmp_path)
    assert report.problems == [] and report.tasks_written == 4


def test_a_sync_report_carries_the_problems_of_its_writes() -> None:
    """Why: ``SyncReport.add`` took a write's counts and dropped its problems."""
    report = itf.SyncReport()
    first = WriteReport("lake", "merge", inserted=2, problems=["1 task of 1 job ...: one"])
    second = WriteReport("lake", "merge", inserted=1, problems=["2 tasks of 1 job ...: two"])
    report.add(first)
    report.add(WriteReport("lake", "merge", inserted=3))
    report.add(second)
    assert report.new_jobs == 6
    assert report.problems == first.problems + second.problems
    assert "2 write problems" in repr(report)
    assert "write problem" not in repr(itf.SyncReport())


def test_the_cli_says_how_many_write_problems_a_sync_had(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = ["1 task of 1 job (first: a) not among the frames' jobs: not written"] * 3
    say_write_problems(Console(quiet=True), lines)
    err = capsys.readouterr().err
    [line] = err.splitlines()
    assert line.startswith("3 write problems") and "first: 1 task of 1 job" in line, line
    say_write_problems(Console(), [])
    assert capsys.readouterr().err == ""


def test_a_sync_writes_its_problem_count_into_the_manifest(api: Any, tmp_path: Path) -> None:
    """``info`` reads the last sync's counts from the manifest: problems among them."""
    with fast_client(api) as client:
        report = itf.sync(tmp_path / "lake", client=client)
    assert report.problems == []
    last = read_manifest(tmp_path / "lake")["last_sync"]
    assert last["write_problems"] == 0


# --------------------------------------------------------------------------------------
# 2. A lake's lower bound (since) bounds its later walks
# --------------------------------------------------------------------------------------
SINCE = "2026-11-20"
BOUND = pd.Timestamp(SINCE, tz="UTC")


def kinds_from(lake: Path) -> dict[str, pd.Timestamp]:
    """Kind -> the creation time of its oldest job in the lake."""
    jobs = itf.read_parquet(lake).jobs
    return {str(k): t for k, t in jobs.groupby("kind", observed=True)["created_at"].min().items()}


def test_a_kind_synced_later_keeps_to_the_since_of_the_lakes_first_sync(
    api: Any, tmp_path: Path
) -> None:
    """Why: ``sync(since=D)`` then ``sync(kind=K)`` read K's whole history, so the lake
    held video jobs from a month back and everything else from D."""
    lake = tmp_path / "lake"
    with fast_client(api) as client:
        first = itf.sync(lake, client=client, since=SINCE)
        again = itf.sync(lake, client=client, kind="video")
    assert first.new_jobs > 0
    assert again.new_jobs == 0, again  # every video job since D was in the lake already
    oldest = kinds_from(lake)
    assert min(oldest.values()) >= BOUND, oldest
    assert any(j["kind"] == "video" and j["created_at"] < BOUND.value // 10**6 for j in api.jobs)


def test_every_kind_synced_after_one_kind_keeps_to_its_since(api: Any, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with fast_client(api) as client:
        itf.sync(lake, client=client, kind="audio", since=SINCE)
        itf.sync(lake, client=client)
    oldest = kinds_from(lake)
    assert len(oldest) == 5 and min(oldest.values()) >= BOUND, oldest
    assert read_manifest(lake)["sync"]["since"] == BOUND.value // 10**6


@pytest.fixture
def env(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
    monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
    return api


def test_an_explicit_since_for_a_new_kind_is_used_and_said_in_one_line(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = str(tmp_path / "lake")
    assert main(["sync", lake, "--since", SINCE, "-q"]) == 0
    assert "--since" not in capsys.readouterr().err
    earlier = "2026-11-10"
    assert main(["sync", lake, "--kind", "audio", "--since", earlier, "-q"]) == 0
    err = capsys.readouterr().err
    [note] = [line for line in err.splitlines() if "--since" in line]
    assert "audio" in note and "2026-11-20" in note and "Traceback" not in err, note
    oldest = kinds_from(tmp_path / "lake")
    assert pd.Timestamp(earlier, tz="UTC") <= oldest["audio"] < BOUND, oldest
    # The lake's own bound is still its first sync's: a kind synced later keeps to it.
    assert main(["sync", lake, "--kind", "image", "-q"]) == 0
    assert "--since" not in capsys.readouterr().err
    assert kinds_from(tmp_path / "lake")["image"] >= BOUND
