"""Session 9's adversarial pass over Spark's ``tz=`` (failure_rate, in_flight,
in_flight_peak): zones the defect's tests did not try. A day whose local midnight does
not exist (Santiago, Beirut: the clocks go from 00:00 to 01:00), a zone 45 minutes off
the hour (Kathmandu, Chatham) and a clock change of half an hour (Lord Howe)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_defects_s9_spark import (
    test_spark_failure_rate_and_in_flight_tz_across_a_clock_change_match_pandas as parity,
)

pytestmark = pytest.mark.slow

ODD_ZONES = [
    ("1D", "America/Santiago", "2026-09-03T00:00:00Z"),  # Sep 6 starts at 01:00
    ("1D", "Asia/Beirut", "2026-03-26T00:00:00Z"),  # Mar 29 starts at 01:00
    ("3h", "America/Santiago", "2026-09-05T12:00:00Z"),  # 00:00 skipped: a 3h edge
    ("1h", "Asia/Kathmandu", "2026-05-01T20:00:00Z"),  # +05:45: edges at :15 UTC
    ("1h", "Pacific/Chatham", "2026-04-04T10:00:00Z"),  # +13:45 -> +12:45 on Apr 5
    ("30min", "Australia/Lord_Howe", "2026-04-04T12:00:00Z"),  # +11 -> +10:30 on Apr 5
]


@pytest.mark.parametrize(("freq", "tz", "first"), ODD_ZONES)
def test_spark_tz_in_odd_zones_matches_pandas(
    spark: Any,
    freq: str,
    tz: str,
    first: str,
) -> None:
    """The clock-change parity check of the defect's tests, in these zones."""
    parity(spark, freq, tz, first)
