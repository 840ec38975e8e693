"""JobFrames.to_arrow and to_polars: the lake's types, every row, nothing inferred."""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import ittybit_frames as itf
from ittybit_frames.schema import JOBS, TASKS, failures_frame


def test_to_arrow_has_the_pinned_schema(history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history)
    jobs, tasks, problems, failures = frames.to_arrow()
    assert failures is None
    assert jobs.schema.names == JOBS.names and tasks.schema.names == TASKS.names
    assert jobs.num_rows == len(frames.jobs) and tasks.num_rows == len(frames.tasks)
    assert problems.num_rows == len(frames.problems)
    assert jobs.schema.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert pa.types.is_dictionary(jobs.schema.field("status").type)
    assert jobs.schema.field("kind_raw").type == pa.string()
    # Values survive: back to pandas, equal to the frames.
    assert jobs["job_id"].to_pylist() == list(frames.jobs["job_id"])
    assert list(jobs["status"].to_pylist()) == list(frames.jobs["status"].astype(str))
    pd.testing.assert_series_equal(
        jobs["total_seconds"].to_pandas(), frames.jobs["total_seconds"], check_names=False
    )
    plain = frames.to_arrow(dictionary=False).jobs
    assert plain.schema.field("status").type == pa.string()


def test_to_arrow_keeps_the_provisional_flag_and_failures(history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history, as_of="2026-11-01")
    assert "durations_provisional" in frames.jobs.columns
    jobs = frames.to_arrow().jobs
    assert jobs.schema.field("durations_provisional").type == pa.bool_()
    failures = failures_frame(
        [{"job_id": "job_x", "status_code": 404, "kind": "not_found", "message": "gone"}]
    )
    with_failures = itf.JobFrames(frames.jobs, frames.tasks, frames.problems, failures)
    table = with_failures.to_arrow().failures
    assert table is not None and table["status_code"].to_pylist() == [404]


def test_to_polars_types(history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history)
    out = frames.to_polars()
    assert out.jobs.height == len(frames.jobs) and out.tasks.height == len(frames.tasks)
    assert out.jobs.schema["created_at"] == pl.Datetime("ms", "UTC")
    assert out.jobs.schema["status"] == pl.Categorical
    assert out.jobs["job_id"].to_list() == list(frames.jobs["job_id"])
    assert out.failures is None
    failed = out.jobs.filter(pl.col("status") == "failed").height
    assert failed == int((frames.jobs["status"] == "failed").sum())


def test_to_polars_without_polars_says_how(
    history: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "polars", None)  # import polars -> ImportError
    with pytest.raises(ImportError, match="pip install polars"):
        itf.to_frames(history[:5]).to_polars()
