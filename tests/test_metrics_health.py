"""Backlog, failure causes (platform vs user), per-customer view, typical stage shares."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics
from ittybit_frames.rules import error_side

T0 = int(pd.Timestamp("2026-11-02", tz="UTC").timestamp() * 1000)
DAY = 86_400_000


def job(
    i: int, day: int, done_day: int | None, *, customer: str | None = "cus_a", error: Any = None
) -> dict[str, Any]:
    created = T0 + day * DAY + 3_600_000
    finished = T0 + done_day * DAY + 7_200_000 if done_day is not None else None
    return {
        "id": f"job_{i}",
        "kind": "video",
        "status": ("failed" if error else "succeeded") if finished else "queued",
        "created_at": created,
        "started_at": created + 1000 if finished else None,
        "finished_at": finished,
        "updated_at": finished or created,
        "error": error,
        "metadata": {"customer_id": customer} if customer else None,
        "tasks": [],
    }


def test_backlog_counts_created_finished_and_open() -> None:
    jobs = itf.to_frames(
        [job(0, 0, 0), job(1, 0, 2), job(2, 1, 2), job(3, 1, None), job(4, 2, 2)]
    ).jobs
    out = metrics.backlog(jobs, freq="1D")
    assert [str(b.date()) for b in out["bucket"]] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert list(out["created"]) == [2, 2, 1]
    assert list(out["finished"]) == [1, 0, 3]
    assert list(out["open"]) == [1, 3, 1]  # job_3 never finished
    assert list(out["net"]) == [1, 2, -2]


def test_failure_causes_split_platform_from_user() -> None:
    crash = {"kind": "encoder_crashed", "message": "segfault"}
    corrupt = {"kind": "input_corrupt", "message": "bad file"}
    jobs = itf.to_frames(
        [job(0, 0, 0, error=crash), job(1, 0, 0, error=corrupt), job(2, 0, 0, error=corrupt),
         job(3, 0, 0, error="plain text"), job(4, 0, 0)]
    ).jobs  # fmt: skip
    out = metrics.failure_causes(jobs)
    assert list(out["error_kind"]) == ["input_corrupt", "encoder_crashed", "(plain-text error)"]
    assert list(out["side"]) == ["user", "platform", "unknown"]
    assert list(out["failures"]) == [2, 1, 1] and out["share"].sum() == pytest.approx(1.0)
    assert error_side("worker_lost") == "platform" and error_side(None) == "unknown"


def test_by_customer_flags_small_samples_and_user_errors() -> None:
    corrupt = {"kind": "input_corrupt", "message": "Could not decode https://x/1.mp4"}
    records = [job(i, 0, 0, customer="cus_big") for i in range(30)]
    records += [job(100 + i, 0, 0, customer="cus_bad", error=corrupt) for i in range(6)]
    records += [job(200, 0, 0, customer="cus_bad"), job(300, 0, 0, customer=None)]
    out = metrics.by_customer(itf.to_frames(records).jobs).set_index("customer")
    assert list(out.index) == ["cus_big", "cus_bad", "(none)"]
    assert out.loc["cus_big", "failure_rate"] == 0 and not out.loc["cus_big", "low_count"]
    assert out.loc["cus_bad", "failure_rate"] == pytest.approx(6 / 7)
    assert out.loc["cus_bad", "user_side"] == 1.0 and out.loc["cus_bad", "low_count"]
    assert out.loc["cus_bad", "main_error"] == "Could not decode <url>"


def test_typical_shares_resist_one_outlier() -> None:
    def timed(i: int, wait_s: float) -> dict[str, Any]:
        c = T0 + i * 60_000
        start = c + int(wait_s * 1000)
        task = {
            "id": f"t{i}", "kind": "video", "status": "succeeded", "created_at": c,
            "started_at": start, "finished_at": start + 10_000, "updated_at": start + 10_000,
        }  # fmt: skip
        return {
            "id": f"job_{i}", "kind": "video", "status": "succeeded", "created_at": c,
            "started_at": start, "finished_at": start + 10_000, "updated_at": start + 10_000,
            "tasks": [task],
        }  # fmt: skip

    tasks = itf.to_frames([timed(i, 1.0) for i in range(20)] + [timed(99, 36_000.0)]).tasks
    out = metrics.stage_breakdown(tasks, by=None).set_index("stage")
    assert out.loc["waiting", "share"] > 0.9  # one job waited 10 h: pooled seconds say "waiting"
    assert out.loc["encode", "typical_share"] == pytest.approx(10 / 11, rel=1e-3)
    assert out["typical_share"].sum() == pytest.approx(1.0)
