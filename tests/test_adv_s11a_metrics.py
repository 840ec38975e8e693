"""Adversarial pass (session 11): stage_breakdown with missing job IDs, task kinds and
group keys. A task without a job ID cannot be tied to a job's time and is left out; a
task without a kind is in no stage (its time is waiting, as an unknown kind's); a job
without a group key is left out when grouping (as pandas' groupby leaves NA keys out)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from ittybit_frames import metrics
from tests.frames_equal import assert_frame_equal
from tests.test_speed_s11_metrics import reference_stage_breakdown

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _tasks(job_ids: list[Any], kinds: list[Any], job_kinds: list[Any], dtype: Any) -> pd.DataFrame:
    n = len(job_ids)
    return pd.DataFrame(
        {
            "job_id": pd.array(job_ids, dtype=dtype),
            "kind": pd.array(kinds, dtype="string"),
            "processing_seconds": [1.0, 2.0, 4.0, 8.0][:n],
            "finished_at": [T0 + pd.Timedelta(seconds=10 * (i + 1)) for i in range(n)],
            "job_created_at": [T0] * n,
            "job_status": ["succeeded"] * n,
            "job_kind": pd.array(job_kinds, dtype=object),
        }
    )


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "string", object])
@pytest.mark.parametrize("by", ["job_kind", None])
def test_a_task_without_a_job_id_is_left_out(dtype: Any, by: str | None) -> None:
    ids = ["job_a", None, "job_b", "job_b"]
    tasks = _tasks(ids, ["probe", "video", "probe", "video"], ["video"] * 4, dtype)
    got = metrics.stage_breakdown(tasks, by=by)
    known = tasks[tasks["job_id"].notna()].reset_index(drop=True)
    assert_frame_equal(got, reference_stage_breakdown(known, by), check_exact=True)
    assert set(got["jobs"]) == {2}


def test_a_task_without_a_kind_is_in_no_stage() -> None:
    tasks = _tasks(["job_a", "job_a"], ["probe", None], ["video", "video"], "string[pyarrow]")
    out = metrics.stage_breakdown(tasks, by=None).set_index("stage")
    assert out.loc["probe", "seconds"] == 1.0
    assert out.loc["encode", "seconds"] == 0.0
    assert out.loc["waiting", "seconds"] == 20.0 - 1.0


@pytest.mark.parametrize("categorical", [False, True])
def test_a_job_without_a_group_key_is_left_out_of_the_groups(categorical: bool) -> None:
    tasks = _tasks(["job_a", "job_b"], ["probe", "video"], ["video", None], "string[pyarrow]")
    if categorical:
        tasks["job_kind"] = tasks["job_kind"].astype(pd.CategoricalDtype(["video", "audio"]))
    got = metrics.stage_breakdown(tasks)
    assert got["job_kind"].tolist() == ["video"] * 5
    assert got["jobs"].tolist() == [1] * 5
    assert_frame_equal(got, reference_stage_breakdown(tasks.iloc[:1], "job_kind"), check_exact=True)
