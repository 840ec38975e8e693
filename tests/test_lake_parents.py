"""A task lives with its job: in its job's day partition, with its job's creation time,
kind and status (``job_created_at``, ``job_kind``, ``job_status``), whatever hand-built
frames say. The job's values win, the write says so in ``WriteReport.problems``, and
``check`` names a lake whose tasks disagree with their jobs (``--repair`` puts them back)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from tests.frames_equal import assert_frame_equal
from tests.test_lake_safety import DAY, records

DAYS = pd.Timedelta(days=1)


def job_rows(frames: itf.JobFrames, job: str) -> pd.Series:
    return frames.tasks["job_id"] == job


def hand_built(version: int = 0) -> itf.JobFrames:
    """Four jobs on four days, a task each; job 0's task says its job was created three
    days later (job 3's day, another time), job 1's task says nothing."""
    frames = itf.to_frames(records("h", 4, days=4, version=version))
    tasks = frames.tasks.copy()
    zero, one = job_rows(frames, "job_h00000"), job_rows(frames, "job_h00001")
    tasks.loc[zero, "job_created_at"] = tasks.loc[zero, "job_created_at"] + 3 * DAYS
    tasks.loc[one, "job_created_at"] = pd.NaT
    return itf.JobFrames(frames.jobs, tasks, frames.problems)


def placed(lake: Path, table: str) -> dict[str, set[str]]:
    """Partition label -> the job IDs of its file, as the files hold them."""
    out = {}
    for file in sorted(lake.glob(f"{table}/created_date=*/part-0.parquet")):
        ids = pq.read_table(file, columns=["job_id"])["job_id"].to_pylist()
        out[file.parent.name.split("=", 1)[1]] = set(ids)
    return out


def together(lake: Path) -> None:
    """Every task in its job's partition, with its job's creation time; a window of one
    job's instant reads that job and its task; check finds nothing."""
    jobs_at, tasks_at = placed(lake, "jobs"), placed(lake, "tasks")
    for label, ids in tasks_at.items():
        assert ids <= jobs_at.get(label, set()), (label, ids, jobs_at)
    back = itf.read_parquet(lake)
    born = back.jobs.set_index("job_id")["created_at"]
    mine = born.reindex(back.tasks["job_id"]).to_numpy()
    assert (back.tasks["job_created_at"].to_numpy() == mine).all()
    assert back.tasks.duplicated(["job_id", "task_index"]).sum() == 0
    for job, created in born.items():
        window = itf.read_parquet(lake, since=created, until=created + pd.Timedelta(1, "ms"))
        assert list(window.jobs["job_id"]) == [job]
        assert list(window.tasks["job_id"]) == [job], (job, list(window.tasks["job_id"]))
    report = itf.check_lake(lake)
    assert report.healthy, report.problems


@pytest.mark.parametrize("mode", ["overwrite", "merge", "append"])
def test_tasks_are_written_with_their_jobs_created_at_in_its_partition(
    tmp_path: Path, mode: str
) -> None:
    frames = hand_built()
    before = frames.tasks.copy()
    report = itf.write_parquet(frames, tmp_path, mode=mode)  # type: ignore[arg-type]
    together(tmp_path)
    assert len(report.problems) == 1, report.problems
    line = report.problems[0]
    assert "2 tasks" in line and "job_created_at" in line and "job_h00000" in line, line
    assert_frame_equal(frames.tasks, before)  # the caller's frames untouched
    again = itf.write_parquet(itf.read_parquet(tmp_path), tmp_path)
    assert again.problems == [] and again.updated == 0


def test_a_merge_that_moves_a_job_leaves_no_task_behind(tmp_path: Path) -> None:
    itf.write_parquet(itf.to_frames(records("h", 4, days=4)), tmp_path)
    # A newer version of job 0 created five days later, its task still naming the old time.
    newer = itf.to_frames(records("h", 4, days=4, version=1))
    jobs = newer.jobs.copy()
    zero = jobs["job_id"] == "job_h00000"
    jobs.loc[zero, "created_at"] = jobs.loc[zero, "created_at"] + 5 * DAYS
    report = itf.write_parquet(itf.JobFrames(jobs, newer.tasks, newer.problems), tmp_path)
    assert report.updated == 4 and len(report.problems) == 1, report
    together(tmp_path)
    back = itf.read_parquet(tmp_path)
    assert len(back.tasks) == 4 and back.tasks["job_id"].is_unique


def test_a_lake_written_apart_is_merged_back_together(tmp_path: Path) -> None:
    """The hand-built frames first, the API's own frames (every task with its job) after:
    no stale task row is left in a partition the job is not in."""
    itf.write_parquet(hand_built(), tmp_path, mode="overwrite")
    itf.write_parquet(itf.to_frames(records("h", 4, days=4, version=1)), tmp_path)
    together(tmp_path)
    assert len(itf.read_parquet(tmp_path).tasks) == 4


def test_job_kind_and_status_of_tasks_are_their_jobs(tmp_path: Path) -> None:
    frames = itf.to_frames(records("h", 4, days=4))
    tasks = frames.tasks.copy()
    tasks["job_status"] = pd.Categorical(
        ["failed"] * len(tasks), categories=tasks["job_status"].cat.categories
    )
    report = itf.write_parquet(itf.JobFrames(frames.jobs, tasks, frames.problems), tmp_path)
    assert len(report.problems) == 1 and "job_status" in report.problems[0], report.problems
    done = itf.read_parquet(tmp_path, status="succeeded")
    assert set(done.tasks["job_id"]) == set(done.jobs["job_id"]) and len(done.jobs) == 4
    assert itf.read_parquet(tmp_path, status="failed").tasks.empty


def rewrite_tasks(file: Path, job: str, created: pd.Timestamp) -> None:
    """Give job ``job``'s tasks in ``file`` another ``job_created_at``, in place (a lake
    an earlier version wrote from hand-built frames)."""
    table = pq.read_table(file)
    frame = table.to_pandas()
    frame.loc[frame["job_id"] == job, "job_created_at"] = created
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), file)


def test_check_names_tasks_apart_from_their_job_and_repair_joins_them(tmp_path: Path) -> None:
    itf.write_parquet(itf.to_frames(records("h", 4, days=4)), tmp_path)
    first = sorted(tmp_path.glob("tasks/created_date=*/part-0.parquet"))[0]
    ms = pd.Timestamp(records("h", 1)[0]["created_at"] + 3 * DAY, unit="ms", tz="UTC")
    rewrite_tasks(first, "job_h00000", ms)
    report = itf.check_lake(tmp_path)
    assert not report.healthy
    named = [p for p in report.problems if "job_created_at" in p]
    assert len(named) == 1 and named[0].startswith("1 task"), report.problems
    fixed = itf.check_lake(tmp_path, repair=True)
    assert fixed.healthy, fixed.problems
    together(tmp_path)


def test_check_names_a_task_in_another_partition_than_its_job(tmp_path: Path) -> None:
    itf.write_parquet(itf.to_frames(records("h", 4, days=4)), tmp_path)
    files = sorted(tmp_path.glob("tasks/created_date=*/part-0.parquet"))
    moved = pq.read_table(files[0])
    into = pq.read_table(files[1])
    pq.write_table(pa.concat_tables([into, moved]), files[1])  # in place: the twin's link too
    for gone in (files[0], tmp_path / ".tasks.swap" / files[0].relative_to(tmp_path / "tasks")):
        gone.unlink(missing_ok=True)
    files[0].parent.rmdir()
    report = itf.check_lake(tmp_path)
    named = [p for p in report.problems if "partition" in p and "task" in p]
    assert len(named) == 1 and named[0].startswith("1 task"), report.problems
    assert itf.check_lake(tmp_path, repair=True).healthy
    together(tmp_path)
