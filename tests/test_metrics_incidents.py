"""metrics.incidents on hand-built histories: an outage and a bad release, and calm."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics

T0 = int(pd.Timestamp("2026-11-02 00:00", tz="UTC").timestamp() * 1000)
H = 3_600_000


def job(
    i: int, created: int, wait_s: float, work_s: float, kind: str, error: str | None
) -> dict[str, Any]:
    started = created + int(wait_s * 1000)
    finished = started + int(work_s * 1000)
    return {
        "id": f"job_{i}",
        "kind": kind,
        "status": "failed" if error else "succeeded",
        "created_at": created,
        "started_at": started,
        "finished_at": finished,
        "updated_at": finished,
        "error": {"kind": "encode_failed", "message": error} if error else None,
        "tasks": [],
    }


def history(
    *, outage: tuple[int, int] | None = None, bad_release: tuple[int, int] | None = None
) -> pd.DataFrame:
    """48 hours, 30 jobs an hour of each kind; waits of ~2 s, 1 % failures."""
    rng = np.random.default_rng(3)
    records = []
    i = 0
    for hour in range(48):
        for kind in ("video", "image"):
            for _ in range(30):
                created = T0 + hour * H + int(rng.integers(0, H - 120_000))
                wait = float(rng.uniform(1, 3))
                if outage and outage[0] <= hour < outage[1]:
                    wait += (outage[1] * H - (created - T0)) / 1000  # waits for the workers
                fails = rng.random() < 0.01
                if bad_release and kind == "video" and bad_release[0] <= hour < bad_release[1]:
                    fails = rng.random() < 0.3
                error = f"encoder crashed on frame {int(rng.integers(1, 999))}" if fails else None
                records.append(job(i, created, wait, 5.0, kind, error))
                i += 1
    return itf.to_frames(records).jobs


def test_a_calm_history_has_no_incident() -> None:
    out = metrics.incidents(history())
    assert out.empty and list(out.columns) == list(metrics.INCIDENT_COLUMNS)


def test_an_outage_is_one_queue_incident() -> None:
    out = metrics.incidents(history(outage=(20, 23)))
    queue = out[out["signal"] == "queue_wait"]
    assert len(queue) == 1
    row = queue.iloc[0]
    assert row["group"] == "all"
    assert row["start"] == pd.Timestamp("2026-11-02 20:00", tz="UTC")
    assert row["end"] == pd.Timestamp("2026-11-02 23:00", tz="UTC")
    assert row["ratio"] >= 10 and row["jobs"] == 3 * 60


def test_a_bad_release_is_a_failure_incident_of_its_kind_with_its_error() -> None:
    out = metrics.incidents(history(bad_release=(30, 36)))
    fails = out[out["signal"] == "failure_rate"]
    assert list(fails["group"]) == ["video"]  # images were fine
    row = fails.iloc[0]
    assert row["start"] >= pd.Timestamp("2026-11-03 06:00", tz="UTC")
    assert row["end"] <= pd.Timestamp("2026-11-03 12:00", tz="UTC") + pd.Timedelta(hours=1)
    assert row["ratio"] >= 3 and row["failures"] >= 20
    assert row["main_error"] == "encoder crashed on frame <n>"
    assert row["main_error_kind"] == "encode_failed"


def test_both_at_once_and_the_thresholds_matter() -> None:
    jobs = history(outage=(5, 7), bad_release=(30, 34))
    out = metrics.incidents(jobs)
    assert set(out["signal"]) == {"queue_wait", "failure_rate"}
    assert metrics.incidents(jobs, queue_factor=1e9, failure_factor=1e9).empty
    by_kind = metrics.incidents(jobs, queue_by="kind")
    assert set(by_kind.loc[by_kind["signal"] == "queue_wait", "group"]) == {"video", "image"}


def test_small_buckets_are_not_judged() -> None:
    jobs = history(bad_release=(30, 34))
    assert metrics.incidents(jobs, min_jobs=10_000).empty


def test_missing_columns_say_what_to_pass() -> None:
    with pytest.raises(ValueError, match="incidents needs the columns"):
        metrics.incidents(pd.DataFrame({"created_at": []}))
