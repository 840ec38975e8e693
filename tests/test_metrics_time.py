"""Time buckets: every usual spelling of a grain, weeks and months, edges in a time zone."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics, plots
from ittybit_frames.metrics._time import bucket, edges, next_start


def at(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True)).dt.as_unit("ms")


def jobs_finishing(*stamps: str) -> pd.DataFrame:
    """Jobs that each succeeded at one of the given UTC instants."""
    records: list[dict[str, Any]] = []
    for i, stamp in enumerate(stamps):
        ms = int(pd.Timestamp(stamp, tz="UTC").timestamp() * 1000)
        records.append(
            {
                "id": f"job_{i}",
                "kind": "video",
                "status": "failed" if i % 2 else "succeeded",
                "created_at": ms - 60_000,
                "started_at": ms - 30_000,
                "finished_at": ms,
                "updated_at": ms,
                "tasks": [],
            }
        )
    return itf.to_frames(records).jobs


@pytest.mark.parametrize(
    ("spelling", "label"),
    [
        ("1H", "hour"), ("H", "hour"), ("1h", "hour"), ("hourly", "hour"), ("2h", "2 hours"),
        ("15T", "15 minutes"), ("15min", "15 minutes"), ("30S", "30 seconds"),
        ("D", "day"), ("1D", "day"), ("daily", "day"), ("7D", "7 days"),
        ("W", "week"), ("1W", "week"), ("weekly", "week"), ("W-SUN", "week"),
        ("M", "month"), ("1M", "month"), ("MS", "month"), ("ME", "month"), ("monthly", "month"),
        ("Q", "quarter"), ("Y", "year"), ("A", "year"), ("yearly", "year"),
    ],
)  # fmt: skip
def test_every_usual_spelling_is_a_grain(spelling: str, label: str) -> None:
    assert metrics.grain(spelling).label == label


@pytest.mark.parametrize(
    ("spelling", "says"),
    [
        ("m", "ambiguous"), ("15m", "ambiguous"), ("0h", "at least 1"), ("2W", "one at a time"),
        ("fortnight", "not a bucket size"), ("", "not a bucket size"), ("1h-MON", "not a"),
        ("M-MON", "only weeks"),
    ],
)  # fmt: skip
def test_a_wrong_grain_says_what_to_write(spelling: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as info:
        metrics.grain(spelling)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"freq={spelling!r}")
    suggested = [w for w in re.findall(r"'([0-9A-Za-z-]+)'", message) if w != spelling]
    assert suggested and all(metrics.grain(w) for w in suggested)  # every suggestion works


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    times = at("2026-11-29 23:00", "2026-11-30 01:00", "2026-12-06 23:59")  # Sun, Mon, Sun
    weeks = bucket(times, "W")
    assert [str(t.date()) for t in weeks] == ["2026-11-23", "2026-11-30", "2026-11-30"]
    months = bucket(times, "M")
    assert [str(t.date()) for t in months] == ["2026-11-01", "2026-11-01", "2026-12-01"]


def test_a_local_midnight_is_a_bucket_edge() -> None:
    # 23:30 UTC on 2026-07-01 is 01:30 on 2026-07-02 in Berlin (UTC+2 in summer).
    out = bucket(
        at("2026-07-01 21:59", "2026-07-01 22:00", "2026-07-01 23:30"), "1D", "Europe/Berlin"
    )
    assert [str(t) for t in out] == [
        "2026-07-01 00:00:00+02:00",
        "2026-07-02 00:00:00+02:00",
        "2026-07-02 00:00:00+02:00",
    ]


def test_days_across_a_clock_change_are_23_and_25_hours() -> None:
    spring = edges(
        bucket(at("2026-03-28 12:00", "2026-03-30 12:00"), "D", "Europe/Berlin"),
        "D",
        "Europe/Berlin",
    )
    assert [t.hour for t in spring] == [0, 0, 0]
    assert [(b - a) / pd.Timedelta(hours=1) for a, b in itertools.pairwise(spring)] == [
        24.0,
        23.0,
    ]
    autumn = bucket(
        at("2026-10-25 00:30", "2026-10-25 01:30", "2026-10-25 22:59"), "D", "Europe/Berlin"
    )
    assert autumn.nunique() == 1  # 02:30 CEST, 02:30 CET and 23:59 CET: one 25-hour day


def test_hours_follow_the_local_clock_in_half_hour_zones() -> None:
    out = bucket(at("2026-05-01 00:29", "2026-05-01 00:31"), "1h", "Asia/Kolkata")  # UTC+5:30
    assert [str(t) for t in out] == ["2026-05-01 05:00:00+05:30", "2026-05-01 06:00:00+05:30"]


def test_next_start_of_every_calendar_grain() -> None:
    for freq, start, want in [
        ("W", "2026-12-28", "2027-01-04"),
        ("M", "2026-02-01", "2026-03-01"),
        ("M", "2026-01-01", "2026-02-01"),
        ("Q", "2026-10-01", "2027-01-01"),
        ("Y", "2028-01-01", "2029-01-01"),  # a leap year
        ("D", "2026-03-29", "2026-03-30"),
    ]:
        first = pd.Timestamp(start, tz="Europe/Berlin")
        assert next_start(first, freq, "Europe/Berlin") == pd.Timestamp(want, tz="Europe/Berlin")


def test_weekly_and_monthly_metrics() -> None:
    jobs = jobs_finishing(
        "2026-11-02 10:00", "2026-11-04 10:00", "2026-11-20 10:00", "2026-12-01 09:00"
    )
    weekly = metrics.throughput(jobs, freq="W")
    assert [str(t.date()) for t in weekly["bucket"]] == [
        "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30",
    ]  # fmt: skip
    assert list(weekly["jobs"]) == [2, 0, 1, 0, 1]  # quiet weeks shown as zero
    monthly = metrics.failure_rate(jobs, by=None, freq="monthly")
    assert list(monthly["finished"]) == [3, 1] and list(monthly["failed"]) == [1, 1]
    latency = metrics.latency_over_time(jobs, freq="1M", column="total_seconds")
    assert list(latency["count"]) == [3, 1]
    assert metrics.in_flight(jobs, freq="W")["time"].iloc[0] == pd.Timestamp(
        "2026-11-02", tz="UTC"
    )  # a Monday


def test_tz_moves_a_job_to_its_local_day() -> None:
    # 23:30 UTC is already the next day in Berlin and still the same day in New York.
    jobs = jobs_finishing("2026-07-01 12:00", "2026-07-01 23:30")
    utc = metrics.throughput(jobs, freq="1D")
    berlin = metrics.throughput(jobs, freq="1D", tz="Europe/Berlin")
    new_york = metrics.failure_rate(jobs, by=None, freq="1D", tz="America/New_York")
    assert list(utc["jobs"]) == [2]
    assert list(berlin["jobs"]) == [1, 1] and str(berlin["bucket"].dt.tz) == "Europe/Berlin"
    assert list(new_york["finished"]) == [2]
    assert str(new_york["bucket"].iloc[0]) == "2026-07-01 00:00:00-04:00"
    flight = metrics.in_flight(jobs, freq="1h", tz="Asia/Kolkata")
    assert (
        all(t.minute == 0 for t in flight["time"]) and str(flight["time"].dt.tz) == "Asia/Kolkata"
    )


def test_a_wrong_zone_is_one_clear_error() -> None:
    jobs = jobs_finishing("2026-07-01 12:00")
    with pytest.raises(ValueError, match="IANA"):
        metrics.throughput(jobs, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="not a bucket size"):
        metrics.latency_over_time(jobs, freq="fortnightly")


def test_plots_label_the_zone_and_the_grain() -> None:
    jobs = jobs_finishing("2026-11-02 10:00", "2026-11-04 10:00", "2026-11-20 10:00")
    ax = plots.plot_throughput(jobs, freq="W", by=None, tz="Europe/Berlin")
    assert ax.get_xlabel() == "time (Europe/Berlin)" and "per week" in ax.get_title()
    widths = {round(p.get_width(), 2) for p in ax.patches}
    assert widths == {6.3}  # 90 % of a week, in days
    ax = plots.plot_latency(jobs, freq="D", tz="America/New_York")
    assert ax.get_xlabel() == "time (America/New_York)" and "per day" in ax.get_title()
    ax = plots.plot_in_flight(jobs, freq="1h", tz="Asia/Tokyo")
    assert ax.get_xlabel() == "time (Asia/Tokyo)"
    assert any("Asia/Tokyo" in t.get_text() for t in ax.get_legend().get_texts())


def test_in_flight_as_of_before_the_first_job_is_empty_not_an_error() -> None:
    jobs = jobs_finishing("2026-07-01 12:00", "2026-07-01 13:00")
    out = metrics.in_flight(jobs, freq="1h", as_of="2026-06-01")
    assert out["in_flight"].sum() == 0 and out.attrs["peak"]["in_flight"] == 0
