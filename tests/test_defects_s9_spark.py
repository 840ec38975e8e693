"""Session 9's Spark defect (4): ``failure_rate`` and ``in_flight`` take ``tz=`` as the
pandas and SQL engines do (issue 11: the engines share signatures), with pandas' bucket
rules: hours on the zone's wall-clock grid cut in absolute time (the hour the clocks
repeat is two buckets), days at local midnight (23 or 25 hours long). Parity with
:mod:`ittybit_frames.metrics` on a lake, and on jobs placed across clock changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics
from tests.test_engines import _rows, lake_path  # noqa: F401  (module fixture)

pytestmark = pytest.mark.slow

HOUR = 3_600_000


def _spark_module() -> Any:
    from ittybit_frames import spark as itf_spark

    return itf_spark


def jobs_across(first: str, n: int, step_ms: int) -> pd.DataFrame:
    """``n`` jobs a step apart from ``first``: each queued 20 min, processing 50 min;
    statuses and failed tasks in turn (every outcome of the cascade), two kinds."""
    start = int(pd.Timestamp(first).timestamp() * 1000)
    created = [start + i * step_ms for i in range(n)]

    def ms(values: list[int]) -> pd.Series:
        return pd.Series(pd.to_datetime(values, unit="ms", utc=True)).dt.as_unit("ms")

    statuses = ["succeeded", "failed", "cancelled", "cancelled", "succeeded"]
    return pd.DataFrame(
        {
            "kind": ["video" if i % 3 else "image" for i in range(n)],
            "status": [statuses[i % 5] for i in range(n)],
            "failed_task_count": [1 if i % 5 in (1, 2) else 0 for i in range(n)],
            "created_at": ms(created),
            "started_at": ms([c + 20 * 60_000 for c in created]),
            "finished_at": ms([c + 70 * 60_000 for c in created]),
        }
    )


def as_spark(session: Any, frame: pd.DataFrame) -> Any:
    """The same jobs in Spark: timestamps built from epoch ms (no local-time round trip)."""
    from pyspark.sql import functions as F

    stamps = ["created_at", "started_at", "finished_at"]
    rows = [
        (
            r.kind,
            r.status,
            int(r.failed_task_count),
            *(int(getattr(r, c).value // 10**6) for c in stamps),
        )
        for r in frame.itertuples(index=False)
    ]
    raw = session.createDataFrame(rows, ["kind", "status", "failed_task_count", *stamps])
    return raw.select(
        "kind",
        "status",
        "failed_task_count",
        *[F.timestamp_millis(F.col(c)).alias(c) for c in stamps],
    )


CLOCK_CHANGES = [
    ("1h", "America/New_York", "2026-10-31T22:00:00Z"),  # 01:00-02:00 twice on Nov 1
    ("2h", "Europe/Berlin", "2026-03-28T18:00:00Z"),  # 02:00-03:00 skipped on Mar 29
    ("1D", "Europe/Berlin", "2026-10-23T00:00:00Z"),  # Oct 25 is 25 hours long
    ("30min", "Asia/Kolkata", "2026-10-31T22:00:00Z"),  # +05:30: edges at :00/:30 local
]


def same_rates(got: Any, want: pd.DataFrame) -> None:
    """Spark's failure_rate as pandas': the same columns and rows, rates to 1e-12."""
    assert got.columns == list(want.columns)
    rows, expected = _rows(got.collect()), _rows(want)
    assert len(expected) > 6
    assert [r[:-1] for r in rows] == [r[:-1] for r in expected]
    assert [r[-1] for r in rows] == pytest.approx([r[-1] for r in expected], abs=1e-12)


@pytest.mark.parametrize(("freq", "tz", "first"), CLOCK_CHANGES)
def test_spark_failure_rate_and_in_flight_tz_across_a_clock_change_match_pandas(
    spark: Any,
    freq: str,
    tz: str,
    first: str,
) -> None:
    """Why: Spark's failure_rate and in_flight had no tz: their buckets and edges were
    UTC multiples of freq whatever the zone."""
    itf_spark = _spark_module()
    step = 24 * HOUR // 5 if freq == "1D" else 20 * 60_000
    frame = jobs_across(first, 60, step)
    jobs = as_spark(spark, frame)
    rates = metrics.failure_rate(frame, by="kind", freq=freq, tz=tz)
    same_rates(itf_spark.failure_rate(jobs, by="kind", freq=freq, tz=tz), rates)
    want = metrics.in_flight(frame, freq=freq, tz=tz)
    got = itf_spark.in_flight(jobs, freq=freq, tz=tz)
    assert got.columns == list(want.columns)
    assert len(want) > 6
    assert _rows(got.collect()) == _rows(want)
    peak = itf_spark.in_flight_peak(jobs, tz=tz)
    assert peak == want.attrs["peak"] and str(peak["at"].tz) == tz


@pytest.mark.parametrize(("freq", "tz"), [("6h", "Asia/Kolkata"), ("1D", "America/New_York")])
def test_spark_failure_rate_and_in_flight_tz_on_a_lake_match_pandas(
    spark: Any,
    lake_path: Path,  # noqa: F811
    freq: str,
    tz: str,
) -> None:
    itf_spark = _spark_module()
    jobs_pd = itf.read_parquet(lake_path).jobs
    jobs, _ = itf_spark.read_lake(spark, str(lake_path))
    want = _rows(metrics.failure_rate(jobs_pd, by="kind", freq=freq, tz=tz))
    got = _rows(itf_spark.failure_rate(jobs, by="kind", freq=freq, tz=tz).collect())
    assert [r[:-1] for r in got] == [r[:-1] for r in want] and len(want) > 10
    flight = metrics.in_flight(jobs_pd, freq=freq, tz=tz)
    assert _rows(itf_spark.in_flight(jobs, freq=freq, tz=tz).collect()) == _rows(flight)
    # UTC is still UTC: the default is the same as before.
    assert _rows(itf_spark.in_flight(jobs, freq=freq).collect()) == _rows(
        metrics.in_flight(jobs_pd, freq=freq)
    )
