"""Adversarial pass over session 10's lake keying (lake/_keys.py).

1. Two raw IDs that are one ID once stripped (`` a`` and ``a ``, or IDs that are only
   whitespace or a BOM): keyed the client's way they were two rows of one job, which an
   append wrote both of into a lake ``check`` calls unhealthy (a merge kept one without
   saying two had become one).
2. An ID that is only whitespace or a BOM was written as the empty ID ``''``: a key the
   client refuses to request, under which two such jobs became one row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from tests.test_lake_safety import records


def frames_with(ids: list[Any]) -> itf.JobFrames:
    jobs = records("k", len(ids), days=3)
    for job, job_id in zip(jobs, ids, strict=True):
        job["id"] = job_id
    return itf.to_frames(jobs)


@pytest.mark.parametrize("mode", ["merge", "overwrite", "append"])
def test_two_ids_that_strip_to_one_make_one_row_in_a_healthy_lake(
    tmp_path: Path, mode: str
) -> None:
    frames = frames_with([" a", "a ", "b"])
    assert len(frames.jobs) == 3  # two jobs as received: the lake keys them as one
    report = itf.write_parquet(frames, tmp_path, mode=mode)  # type: ignore[arg-type]
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == ["a", "b"]
    assert sorted(back.tasks["job_id"]) == ["a", "b"]
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems
    assert any("one job once stripped" in p for p in report.problems), report.problems
    # the newest of the two (updated last) is the row kept, as a merge keeps it
    two = frames.jobs[frames.jobs["job_id"].isin([" a", "a "])]
    newest = two.sort_values("updated_at")["created_at"].iloc[-1]
    assert two["updated_at"].nunique() == 2
    assert back.jobs.set_index("job_id").loc["a", "created_at"] == newest


@pytest.mark.parametrize("mode", ["merge", "overwrite", "append"])
def test_an_id_of_only_whitespace_is_no_id(tmp_path: Path, mode: str) -> None:
    frames = frames_with(["   ", "job_b", "\ufeff"])
    report = itf.write_parquet(frames, tmp_path, mode=mode)  # type: ignore[arg-type]
    back = itf.read_parquet(tmp_path)
    assert list(back.jobs["job_id"]) == ["job_b"]
    assert list(back.tasks["job_id"]) == ["job_b"]
    assert any(
        p.startswith("2 jobs and 2 tasks with no job_id not written") for p in report.problems
    ), report.problems
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems
