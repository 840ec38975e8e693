"""Session 9's sync defects: what a write set aside reaches the sync's report and the CLI
(1), and a lake's lower bound (``since``) bounds every later walk (2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
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
