"""Session 9's adversarial pass over Spark's ``tz=`` (failure_rate, in_flight,
in_flight_peak): zones the defect's tests did not try. A day whose local midnight does
not exist (Santiago, Beirut: the clocks go from 00:00 to 01:00), a zone 45 minutes off
the hour (Kathmandu, Chatham) and a clock change of half an hour (Lord Howe)."""

from __future__ import annotations

from typing import Any

import pytest

from ittybit_frames import metrics
from tests.test_defects_s9_spark import HOUR, _spark_module, as_spark, jobs_across, same_rates
from tests.test_engines import _rows, spark  # noqa: F401  (module fixture)

pytestmark = pytest.mark.slow

ODD_ZONES = [
    ("1D", "America/Santiago", "2026-09-03T00:00:00Z"),  # Sep 6 starts at 01:00
    ("1D", "Asia/Beirut", "2026-03-26T00:00:00Z"),  # Mar 29 starts at 01:00
    ("6h", "America/Santiago", "2026-09-05T12:00:00Z"),  # 00:00 skipped: a 6h edge
    ("1h", "Asia/Kathmandu", "2026-05-01T20:00:00Z"),  # +05:45: edges at :15 UTC
    ("1h", "Pacific/Chatham", "2026-04-04T10:00:00Z"),  # +13:45 -> +12:45 on Apr 5
    ("30min", "Australia/Lord_Howe", "2026-04-04T12:00:00Z"),  # +11 -> +10:30 on Apr 5
]


@pytest.mark.parametrize(("freq", "tz", "first"), ODD_ZONES)
def test_spark_tz_in_odd_zones_matches_pandas(
    spark: Any,  # noqa: F811
    freq: str,
    tz: str,
    first: str,
) -> None:
    itf_spark = _spark_module()
    step = {"1D": 24 * HOUR // 5, "6h": HOUR}.get(freq, 20 * 60_000)
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
