"""The suite's quick frame comparison (tests/frames_equal.py) accepts only what pandas'
``assert_frame_equal`` accepts: each difference below makes pandas fail, and makes the
quick check answer no (so pandas decides), while an equal copy is accepted at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history
from tests.frames_equal import assert_frame_equal, identical

FRAMES = itf.to_frames(generate_history(40, seed=5))


def _set(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        frame.loc[row, column] = value

    return change


def _reorder_categories(frame: pd.DataFrame) -> None:
    frame["status"] = frame["status"].cat.reorder_categories(
        list(reversed(frame["status"].cat.categories))
    )


def _as(column: str, dtype: Any) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        frame[column] = frame[column].astype(dtype)

    return change


def _rename(frame: pd.DataFrame) -> None:
    frame.columns = ["id", *frame.columns[1:]]


def _index(frame: pd.DataFrame) -> None:
    frame.index = pd.Index(np.arange(len(frame)) + 1)


def _index_name(frame: pd.DataFrame) -> None:
    frame.index.name = "row"


def _columns_name(frame: pd.DataFrame) -> None:
    frame.columns.name = "field"


def _flags(frame: pd.DataFrame) -> None:
    frame.flags.allows_duplicate_labels = False


CHANGES: dict[str, Callable[[pd.DataFrame], None]] = {
    "text": _set("job_id", 3, "job_other"),
    "text to NA": _set("job_id", 3, None),
    "category": _set(
        "status", 0, "failed" if FRAMES.jobs.loc[0, "status"] != "failed" else "queued"
    ),
    "category order": _reorder_categories,
    "time": _set("created_at", 1, pd.Timestamp("2020-01-01", tz="UTC")),
    "time to NaT": _set("created_at", 1, pd.NaT),
    "float": _set("queue_seconds", 2, 1234.5),
    "float to NaN": _set("queue_seconds", 2, np.nan),
    "Int64 to NA": _set("task_count", 4, pd.NA),
    "Int64": _set("task_count", 4, 99),
    "dtype float32": _as("queue_seconds", "float32"),
    "dtype Float64": _as("queue_seconds", "Float64"),
    "dtype float64 for Int64": _as("task_count", "float64"),
    "dtype object": _as("job_id", object),
    "dtype categorical to text": _as("status", "str"),
    "time unit": _as("created_at", "datetime64[ns, UTC]"),
    "time zone": _as("created_at", "datetime64[ms, Europe/Paris]"),
    "column name": _rename,
    "index": _index,
    "index name": _index_name,
    "columns name": _columns_name,
    "flags": _flags,
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_every_difference_pandas_sees_is_left_to_pandas(name: str) -> None:
    left, right = FRAMES.jobs.copy(), FRAMES.jobs.copy()
    CHANGES[name](right)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(left, right)
    assert not identical(left, right)
    assert not identical(right, left)
    with pytest.raises(AssertionError):
        assert_frame_equal(left, right)


@pytest.mark.parametrize("table", ["jobs", "tasks", "problems"])
def test_equal_copies_are_accepted_at_once(table: str) -> None:
    frame = getattr(FRAMES, table)
    assert identical(frame, frame.copy(deep=True))
    assert_frame_equal(frame, frame.copy(deep=True))


def test_rows_in_another_order_and_other_classes_are_left_to_pandas() -> None:
    jobs = FRAMES.jobs
    assert not identical(jobs, jobs.iloc[::-1])
    assert not identical(jobs, jobs.iloc[:-1])
    assert not identical(jobs, jobs[list(reversed(jobs.columns))])
    assert not identical(jobs["job_id"], jobs["job_id"])  # Series: pandas' own checks
