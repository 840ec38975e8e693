"""Session 11's metrics defect (noticed by session 10).

4. ``metrics.by_customer`` of an empty jobs frame raised ``KeyError: 'jobs'``.
"""

from __future__ import annotations

import datetime as dt

import ittybit_frames as itf
from ittybit_frames import metrics
from ittybit_frames.simulator import generate_history


def test_by_customer_of_no_jobs_is_empty_with_the_columns_and_dtypes_of_some() -> None:
    history = generate_history(60, seed=3, end=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    some = metrics.by_customer(itf.to_frames(history).jobs)
    assert len(some) > 0
    empty = itf.to_frames([]).jobs
    assert empty.empty
    none = metrics.by_customer(empty)
    assert none.empty
    assert list(none.columns) == list(some.columns)
    assert none.dtypes.to_dict() == some.dtypes.to_dict()
