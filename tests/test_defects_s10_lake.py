"""Session 10's lake defects (noticed by session 9).

3. A write set a job with no ``job_id`` aside without a word (merge), or wrote it
   (overwrite, append) into a lake ``check`` then called unhealthy; its tasks were named
   as "not among the frames' jobs".
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ittybit_frames as itf
from tests.test_lake_safety import records


def without_ids(*which: int) -> itf.JobFrames:
    jobs = records("n", 5, days=3)
    for i in which:
        jobs[i]["id"] = None
    return itf.to_frames(jobs)


@pytest.mark.parametrize("mode", ["merge", "overwrite", "append"])
def test_a_write_names_the_jobs_without_an_id_it_sets_aside(tmp_path: Path, mode: str) -> None:
    frames = without_ids(1, 3)
    assert frames.jobs["job_id"].isna().sum() == 2
    report = itf.write_parquet(frames, tmp_path, mode=mode)  # type: ignore[arg-type]
    [line] = report.problems
    assert line.startswith("2 jobs and 2 tasks with no job_id not written"), line
    assert "kind video" in line and "<NA>" not in line, line
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == ["job_n00000", "job_n00002", "job_n00004"]
    assert sorted(back.tasks["job_id"]) == ["job_n00000", "job_n00002", "job_n00004"]
    assert report.jobs_written == 3 and report.tasks_written == 3
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems


def test_a_merge_into_a_lake_sets_aside_a_job_without_an_id_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    itf.write_parquet(without_ids(), tmp_path)
    report = itf.write_parquet(without_ids(2), tmp_path)
    assert [p.split(" (")[0] for p in report.problems] == [
        "1 job and 1 task with no job_id not written"
    ]
    assert report.unchanged == 4 and report.inserted == 0
    assert len(itf.read_parquet(tmp_path).jobs) == 5  # the lake's job_n00002 is still there
