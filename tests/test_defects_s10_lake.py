"""Session 10's lake defects (noticed by session 9).

3. A write set a job with no ``job_id`` aside without a word (merge), or wrote it
   (overwrite, append) into a lake ``check`` then called unhealthy; its tasks were named
   as "not among the frames' jobs".
4. A job ID with surrounding whitespace: frames of the raw payload keep it, the client
   lists and requests it without, so a lake written from both held the job twice.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client
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


# --------------------------------------------------------------------------------------
# 4. One job ID, one row: an ID with surrounding whitespace
# --------------------------------------------------------------------------------------
def spaced(job: dict[str, Any], job_id: str = " job_n00001 ") -> dict[str, Any]:
    job = copy.deepcopy(job)
    job["id"] = job_id
    return job


def test_a_write_keys_a_job_by_its_id_without_surrounding_whitespace(tmp_path: Path) -> None:
    """The client requests and lists an ID without its surrounding whitespace (and the
    BOM); frames made from the raw payload kept it, so a lake written from both held the
    job twice, and a merge never replaced one with the other."""
    jobs = records("n", 3, days=2)
    itf.write_parquet(itf.to_frames(jobs), tmp_path)
    newer = spaced(jobs[1], "\ufeff job_n00001\t")
    newer["updated_at"] += 1000
    newer["status"] = "failed"
    frames = itf.to_frames([newer])
    assert frames.jobs["job_id"].tolist() == ["\ufeff job_n00001\t"]  # the frames keep it
    report = itf.write_parquet(frames, tmp_path)
    assert report.updated == 1 and report.inserted == 0, report
    [line] = report.problems
    assert line.startswith("1 job ID with surrounding whitespace written without it"), line
    assert "'\\ufeff job_n00001\\t'" in line, line
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == ["job_n00000", "job_n00001", "job_n00002"]
    assert back.jobs.set_index("job_id").loc["job_n00001", "status"] == "failed"
    assert sorted(back.tasks["job_id"]) == ["job_n00000", "job_n00001", "job_n00002"]
    assert itf.check_lake(tmp_path).healthy


def test_frames_of_a_spaced_id_and_a_sync_of_it_make_one_row(tmp_path: Path) -> None:
    """Reproduced with the simulator, which serves the ID as given (" job_sp ")."""
    job = spaced(records("s", 1)[0], " job_sp ")
    lake = tmp_path / "lake"
    itf.write_parquet(itf.to_frames([job]), lake)  # e.g. from a saved NDJSON export
    with serve([job], api_key=SECRET) as api, fast_client(api) as client:
        report = itf.sync(lake, client=client)
    assert report.new_jobs == 0 and report.unchanged_jobs == 1, report
    assert itf.read_parquet(lake).jobs["job_id"].tolist() == ["job_sp"]


def test_an_unfinished_job_with_a_spaced_id_is_refreshed_by_id(tmp_path: Path) -> None:
    history = generate_history(300, seed=7, end=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    done = sorted(
        (j for j in history if j["status"] in ("succeeded", "failed", "cancelled")),
        key=lambda j: -j["created_at"],
    )
    job = spaced(done[-1], " job_sp ")  # the oldest: re-read by ID, not by listing
    job["status"] = "processing"
    lake = tmp_path / "lake"
    with serve([*done[:-1], job], api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(lake, client=client)
        finished = {**job, "status": "succeeded", "updated_at": job["updated_at"] + 1000}
        api.add_jobs([finished])
        report = itf.sync(lake, client=client)
    assert report.failures.empty, report.failures.to_dict("records")
    jobs = itf.read_parquet(lake).jobs.set_index("job_id")
    assert jobs.loc["job_sp", "status"] == "succeeded"
