"""The simulated platform behaves like a queue, and its incidents are there to be found.

Everything is computed with the library's own metrics on the default history shape
(30 days), observed at a fixed instant so the test is the same every day.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics
from ittybit_frames.simulator import generate_history, scheduled_incidents

END = dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC)  # a weekday afternoon: busy


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    return itf.to_frames(generate_history(20_000, seed=0, end=END)).jobs


def window(incident: itf.simulator.Incident) -> tuple[pd.Timestamp, pd.Timestamp]:
    return (
        pd.Timestamp(incident.start, unit="ms", tz="UTC"),
        pd.Timestamp(incident.end, unit="ms", tz="UTC"),
    )


def by_name(name: str) -> itf.simulator.Incident:
    return next(i for i in scheduled_incidents(seed=0, end=END) if i.what == name)


def test_same_seed_and_end_same_bytes_and_default_end_is_now() -> None:
    import orjson

    a = orjson.dumps(generate_history(300, seed=3, end=END))
    assert a == orjson.dumps(generate_history(300, seed=3, end=END))
    assert a != orjson.dumps(generate_history(300, seed=4, end=END))
    before = time.time() * 1000
    newest = max(j["created_at"] for j in generate_history(300, seed=3))
    assert before - 86_400_000 <= newest <= time.time() * 1000  # ends now, not weeks ago
    with pytest.raises(ValueError, match="start or end"):
        generate_history(10, start=END, end=END)


def test_in_flight_now_is_what_the_load_explains(jobs: pd.DataFrame) -> None:
    """Little's law, loosely: in flight <= arrival rate x p95 total time + a backlog."""
    as_of = pd.Timestamp(END)
    flight = metrics.in_flight(jobs, freq="10min", as_of=as_of)
    now = int(flight["in_flight"].iloc[-1])
    recent = jobs[jobs["created_at"] >= as_of - pd.Timedelta(hours=6)]
    rate = len(recent) / (6 * 3600)  # jobs per second, over the last six hours
    p95 = float(jobs["total_seconds"].quantile(0.95))
    assert now <= rate * p95 * 3 + 20, (now, rate, p95)
    unfinished = int(jobs["finished_at"].isna().sum())
    assert unfinished == now  # nothing is forced unfinished: what is left is what runs


def test_the_outage_builds_a_backlog_that_drains(jobs: pd.DataFrame) -> None:
    start, end = window(by_name("outage"))
    created = jobs["created_at"]
    during = jobs[(created >= start) & (created < end)]["queue_seconds"].quantile(0.95)
    usual = metrics.latency_over_time(jobs, freq="1h", column="queue_seconds", on="created_at")
    usual_p95 = float(usual["p95"].median())
    assert during >= 10 * max(usual_p95, 1.0), (during, usual_p95)
    after = jobs[
        (created >= end + pd.Timedelta(hours=6)) & (created < end + pd.Timedelta(hours=30))
    ]
    assert after["queue_seconds"].quantile(0.95) < during / 10  # drained
    lost = jobs["error_kind"].astype("string").eq("worker_lost")
    # Worker-lost failures may be none at a quiet hour, and are never outside the outage.
    assert jobs.loc[lost.fillna(False), "finished_at"].between(start, end).all()


def test_the_bad_release_lifts_its_kinds_failures(jobs: pd.DataFrame) -> None:
    release = by_name("bad_release")
    start, end = window(release)
    kind = jobs[jobs["kind"] == release.target]
    inside = kind[
        (kind["finished_at"] >= start) & (kind["finished_at"] < end + pd.Timedelta(hours=1))
    ]
    rate_in = metrics.failure_rate(inside, by=None)["failure_rate"].iloc[0]
    rate_all = metrics.failure_rate(kind, by=None)["failure_rate"].iloc[0]
    assert rate_in >= 3 * rate_all, (rate_in, rate_all)


def test_incidents_finds_both(jobs: pd.DataFrame) -> None:
    found = metrics.incidents(jobs)
    o_start, o_end = window(by_name("outage"))
    r_start, r_end = window(by_name("bad_release"))
    queue = found[found["signal"] == "queue_wait"]
    assert ((queue["start"] < o_end) & (queue["end"] > o_start)).any(), found
    fails = found[(found["signal"] == "failure_rate") & (found["group"] == "video")]
    hit = fails[(fails["start"] < r_end) & (fails["end"] > r_start)]
    assert len(hit) == 1 and hit["main_error_kind"].iloc[0] == "encoder_crashed"


def test_one_customer_sends_broken_files(jobs: pd.DataFrame) -> None:
    broken = by_name("broken_files")
    customer = jobs["metadata"].astype(str).str.contains(f'"{broken.target}"')
    corrupt = jobs["error_kind"].astype("string").eq("input_corrupt").fillna(False)
    assert corrupt.sum() > 0 and (customer[corrupt]).all()  # only that customer's


def test_arrivals_follow_days_and_weeks(jobs: pd.DataFrame) -> None:
    created = jobs["created_at"]
    hours = created.dt.hour.value_counts().sort_index()
    assert hours.loc[[13, 14, 15, 16, 17]].mean() > 1.5 * hours.loc[[0, 1, 2, 3, 22, 23]].mean()
    weekend = created.dt.day_of_week >= 5
    per_day = created.dt.date.value_counts()
    weekend_days = per_day[[pd.Timestamp(d).day_of_week >= 5 for d in per_day.index]]
    weekdays = per_day[[pd.Timestamp(d).day_of_week < 5 for d in per_day.index]]
    assert weekend_days.median() < 0.8 * weekdays.median() and weekend.any()
    customers = jobs["metadata"].astype(str).str.extract(r'"customer_id":\s*"(cus_\d+)"')[0]
    assert customers.nunique() >= 20
    mix = pd.crosstab(customers, jobs["kind"].astype(str), normalize="index")
    assert float(np.ptp(mix["image"])) > 0.3  # customers differ in what they send
