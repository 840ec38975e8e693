"""The metrics on data a bad day brings: clock changes, one job, hostile values.

Each test here failed before the fix it names (see the commit that added it).
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from ittybit_frames import metrics
from ittybit_frames.metrics._time import bucket, next_start


def _every(first: str, last: str, step: str) -> pd.DataFrame:
    """Jobs created, started and finished at once, one every ``step`` (UTC)."""
    times = pd.date_range(first, last, freq=step, tz="UTC").as_unit("ms")
    return pd.DataFrame({"created_at": times, "started_at": times, "finished_at": times})


# Berlin's clocks go back at 01:00 UTC on 2026-10-25, forward at 01:00 UTC on 2026-03-29;
# Lord Howe's move by half an hour.
CLOCK_CHANGES = [
    ("2h", "Europe/Berlin", "2026-10-24 18:00", "2026-10-25 12:00"),
    ("2h", "Europe/Berlin", "2026-03-28 18:00", "2026-03-29 12:00"),
    ("3h", "America/New_York", "2026-10-31 18:00", "2026-11-01 18:00"),
    ("6h", "Europe/Berlin", "2026-10-24 00:00", "2026-10-26 00:00"),
    ("1h", "Australia/Lord_Howe", "2026-10-03 10:00", "2026-10-04 02:00"),
    ("90min", "Europe/Berlin", "2026-10-24 18:00", "2026-10-25 12:00"),
]


@pytest.mark.parametrize(("freq", "tz", "first", "last"), CLOCK_CHANGES)
def test_buckets_longer_than_the_clock_change_have_no_phantoms(
    freq: str, tz: str, first: str, last: str
) -> None:
    """Why: after the clocks changed, the grid of a 2h (3h, 6h...) grain went on in
    absolute time while the buckets followed the local clock, so every other bucket was
    a phantom showing 0 jobs in hours where a job finished every 20 minutes."""
    jobs = _every(first, last, "20min")
    out = metrics.throughput(jobs, freq=freq, tz=tz)
    assert int(out["jobs"].sum()) == len(jobs)
    assert (out["jobs"] > 0).all(), out[out["jobs"] == 0]
    assert list(out["bucket"]) == sorted(set(bucket(jobs["finished_at"], freq, tz)))
    grid = metrics.backlog(jobs, freq=freq, tz=tz)
    assert list(grid["bucket"]) == list(out["bucket"])
    assert (grid["created"] > 0).all()


@pytest.mark.parametrize(("freq", "tz", "first", "last"), CLOCK_CHANGES)
def test_next_start_is_the_next_bucket_across_a_clock_change(
    freq: str, tz: str, first: str, last: str
) -> None:
    """Why: a fixed grain's next start was always start + freq, a time that is not a
    bucket start once the local clock moved (in_flight samples at it)."""
    starts = sorted(set(bucket(_every(first, last, "5min")["finished_at"], freq, tz)))
    for here, after in itertools.pairwise(starts):
        assert next_start(here, freq, tz) == after


@pytest.mark.parametrize("freq", ["1W", "2W", "W", "M", "1MS", "D", "hourly"])
def test_spark_refuses_a_grain_it_would_cut_otherwise_than_pandas(freq: str) -> None:
    """Why: Spark's functions cut buckets of a fixed number of seconds from the epoch,
    so freq="1W" gave weeks from Thursday where pandas' weeks start on Monday: silently
    other numbers. Calendar grains and bare units are now refused with what to write
    (no Spark session is needed to see it: the check comes first)."""
    pytest.importorskip("pyspark")
    from ittybit_frames import spark as itf_spark

    with pytest.raises(ValueError, match="7D"):
        itf_spark.throughput(None, freq=freq)
    with pytest.raises(ValueError, match="7D"):
        itf_spark.failure_rate(None, freq=freq)
