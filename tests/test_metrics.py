"""Metrics: exact numbers on a hand-built history, and agreement with DuckDB SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics
from tests.frames_equal import assert_frame_equal

T0 = 1711900800000  # 2024-03-31T16:00:00Z, on the hour
H = 3_600_000


def ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def task(
    tid: str,
    kind: str,
    status: str,
    s: int | None,
    f: int | None,
    c: int,
    duration: float | None = None,
    error: Any = None,
) -> dict[str, Any]:
    out = {"url": f"https://o/{tid}", "duration": duration} if duration else None
    return {
        "id": tid,
        "kind": kind,
        "status": status,
        "created_at": c,
        "started_at": s,
        "finished_at": f,
        "updated_at": f or c,
        "output": out,
        "error": error,
    }


def job(
    jid: str,
    kind: str,
    status: str,
    c: int,
    s: int | None,
    f: int | None,
    tasks: list[dict[str, Any]],
    error: Any = None,
) -> dict[str, Any]:
    return {
        "id": jid,
        "kind": kind,
        "status": status,
        "created_at": c,
        "started_at": s,
        "finished_at": f,
        "updated_at": f or c,
        "tasks": tasks,
        "error": error,
    }


@pytest.fixture(scope="module")
def small() -> itf.JobFrames:
    boom = {"kind": "encode_failed", "message": "Encoder exited with code 137 on job_2"}
    return itf.to_frames(
        [
            job(
                "job_1",
                "video",
                "succeeded",
                T0,
                T0 + 2000,
                T0 + 12000,
                [
                    task("t1a", "probe", "succeeded", T0 + 2000, T0 + 3000, T0, duration=60.0),
                    task("t1b", "video", "succeeded", T0 + 3500, T0 + 11000, T0, duration=60.0),
                    task("t1c", "export", "succeeded", T0 + 11200, T0 + 12000, T0),
                ],
            ),
            job(
                "job_2",
                "video",
                "failed",
                T0 + H,
                T0 + H + 1000,
                T0 + H + 5000,
                [
                    task(
                        "t2a", "video", "failed", T0 + H + 1000, T0 + H + 5000, T0 + H, error=boom
                    ),
                ],
                error=boom,
            ),
            job(
                "job_3",
                "audio",
                "cancelled",
                T0 + 100,
                T0 + 1000,
                T0 + 200_000,
                [
                    task(
                        "t3a",
                        "audio",
                        "failed",
                        T0 + 1000,
                        T0 + 200_000,
                        T0 + 100,
                        error="Encoder exited with code 1 on job_3",
                    ),
                    task("t3b", "export", "cancelled", None, T0 + 200_000, T0 + 100),
                ],
                error="Encoder exited with code 1 on job_3",
            ),
            job("job_4", "audio", "cancelled", T0 + 5000, None, T0 + 65_000, []),
            job("job_5", "video", "queued", T0 + 2 * H, None, None, []),
        ]
    )


def test_throughput_counts_every_bucket(small: itf.JobFrames) -> None:
    out = metrics.throughput(small.jobs, freq="1h")
    assert list(out["bucket"]) == [ts(T0), ts(T0 + H)]
    assert list(out["jobs"]) == [3, 1]
    by = metrics.throughput(small.jobs, freq="1h", by="status")
    first = by[by["bucket"] == ts(T0)].set_index("status")["jobs"].to_dict()
    assert first == {"cancelled": 2, "failed": 0, "succeeded": 1}
    arrivals = metrics.throughput(small.jobs, freq="1h", on="created_at")
    assert list(arrivals["jobs"]) == [3, 1, 1]
    berlin = metrics.throughput(small.jobs, freq="1D", tz="Europe/Berlin")
    assert str(berlin["bucket"].iloc[0]) == "2024-03-31 00:00:00+01:00"  # before DST


def test_failure_rate_separates_cascades_from_users(small: itf.JobFrames) -> None:
    out = metrics.failure_rate(small.jobs, by=None).iloc[0]
    assert (out["finished"], out["succeeded"], out["failed"]) == (4, 1, 1)
    assert (out["cancelled_by_failure"], out["cancelled_by_user"]) == (1, 1)
    assert out["failure_rate"] == 0.5
    per_kind = metrics.failure_rate(small.jobs).set_index("kind")["failure_rate"].to_dict()
    assert per_kind == {"audio": 0.5, "video": 0.5}


def test_duration_summary_exact(small: itf.JobFrames) -> None:
    out = metrics.duration_summary(
        small.jobs, columns=("total_seconds",), percentiles=(0.5, 0.95)
    ).set_index("kind")
    assert out.loc["video", "count"] == 2 and out.loc["video", "mean"] == 8.5
    assert out.loc["video", "p95"] == pytest.approx(5 + 0.95 * 7)
    assert out.loc["audio", "p50"] == pytest.approx((199.9 + 60.0) / 2)
    assert out["low_count"].all()  # two values each: flagged, not hidden


def test_top_errors_normalise(small: itf.JobFrames) -> None:
    out = metrics.top_errors(small.jobs)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["error"] == "Encoder exited with code <n> on <id>"
    assert (row["count"], row["share"], row["kinds"]) == (2, 1.0, "audio, video")
    assert row["first_seen"] == ts(T0 + 200_000) and row["last_seen"] == ts(T0 + H + 5000)
    assert row["example_job_ids"] == "job_2, job_3"
    assert metrics.normalise_error("Export to s3://b/k failed: 3 of 4") == (
        "Export to <url> failed: <n> of <n>"
    )


def test_in_flight_sweep_is_exact(small: itf.JobFrames) -> None:
    out = metrics.in_flight(small.jobs, freq="1min", as_of=T0 + 3 * H)
    at = out.set_index("time")
    assert tuple(at.loc[ts(T0), ["queued", "processing"]]) == (1, 0)
    assert tuple(at.loc[ts(T0 + 60_000), ["queued", "processing"]]) == (1, 1)
    assert tuple(at.loc[ts(T0 + 3 * H), ["queued", "processing"]]) == (1, 0)  # job_5 waits
    peak = out.attrs["peak"]
    assert (peak["in_flight"], peak["at"], peak["queued"], peak["processing"]) == (
        3,
        ts(T0 + 5000),
        1,
        2,
    )


def test_sla_stuck_stages_realtime(small: itf.JobFrames) -> None:
    out = metrics.sla(small.jobs, within="1min").iloc[0]
    assert (out["finished"], out["within"], out["share"]) == (4, 3, 0.75)  # 60 s is within
    stuck = metrics.stuck(small.jobs, as_of=T0 + 3 * H, factor=3.0)
    assert list(stuck["job_id"]) == ["job_5"]
    assert stuck.loc[0, "age_seconds"] == 3600.0
    assert stuck.loc[0, "limit_seconds"] == pytest.approx(3 * (5 + 0.95 * 7))
    stages = metrics.stage_breakdown(small.tasks, by=None).set_index("stage")
    assert stages["seconds"].to_dict() == pytest.approx(
        {"probe": 1.0, "import": 0.0, "encode": 7.5, "export": 0.8, "waiting": 2.7}
    )
    assert stages["share"].sum() == pytest.approx(1.0)
    rtf = metrics.realtime_factor(small.tasks).set_index("kind")
    assert rtf.loc["video", "count"] == 1 and rtf.loc["video", "p50"] == 0.125


def test_inputs_are_not_modified(small: itf.JobFrames) -> None:
    before = small.jobs.copy()
    for fn in (
        metrics.throughput,
        metrics.failure_rate,
        metrics.duration_summary,
        metrics.in_flight,
        metrics.sla,
        metrics.stuck,
        metrics.top_errors,
    ):
        fn(small.jobs)
    assert_frame_equal(small.jobs, before)


def test_empty_frames_give_empty_tables() -> None:
    empty = itf.to_frames([])
    assert metrics.throughput(empty.jobs).empty
    assert metrics.in_flight(empty.jobs).attrs["peak"]["in_flight"] == 0
    assert metrics.top_errors(empty.jobs).empty
    assert metrics.failure_rate(empty.jobs).empty
    queued = itf.to_frames(
        [{"id": "j", "kind": "video", "status": "queued", "created_at": T0, "tasks": []}]
    )
    assert metrics.failure_rate(queued.jobs).empty  # nothing finished, nothing counted
    assert metrics.sla(queued.jobs)["finished"].tolist() == [0]


def test_metrics_agree_with_duckdb(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    from ittybit_frames.simulator import generate_history

    frames = itf.to_frames(generate_history(4000, seed=9))
    frames.to_parquet(tmp_path)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    src = f"read_parquet('{tmp_path}/jobs/*/*.parquet', hive_partitioning = true)"
    sql_hours = con.execute(
        f"SELECT epoch_ms(date_trunc('hour', finished_at)) AS h, count(*) FROM {src} "
        "WHERE finished_at IS NOT NULL GROUP BY h"
    ).fetchall()
    ours = metrics.throughput(frames.jobs, freq="1h")
    ours = {
        int(b.value // 10**6): n for b, n in zip(ours["bucket"], ours["jobs"], strict=True) if n
    }
    assert dict(sql_hours) == ours
    rates = con.execute(
        f"SELECT kind, avg(CASE WHEN status = 'failed' OR (status = 'cancelled' AND "
        "failed_task_count > 0) THEN 1.0 ELSE 0.0 END) FROM "
        f"{src} WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY kind"
    ).fetchall()
    ours_rates = metrics.failure_rate(frames.jobs).set_index("kind")["failure_rate"]
    assert {k: pytest.approx(v, abs=1e-12) for k, v in rates} == ours_rates.to_dict()
    pcts = con.execute(
        f"SELECT kind, count(processing_seconds), quantile_cont(processing_seconds, 0.5), "
        f"quantile_cont(processing_seconds, 0.95) FROM {src} "
        "WHERE processing_seconds IS NOT NULL GROUP BY kind"
    ).fetchall()
    summary = metrics.duration_summary(
        frames.jobs, columns=("processing_seconds",), percentiles=(0.5, 0.95)
    ).set_index("kind")
    for kind, count, p50, p95 in pcts:
        assert summary.loc[kind, "count"] == count
        assert summary.loc[kind, "p50"] == pytest.approx(p50, abs=1e-9)
        assert summary.loc[kind, "p95"] == pytest.approx(p95, abs=1e-9)


def test_latency_over_time_exact(small: itf.JobFrames) -> None:
    out = metrics.latency_over_time(small.jobs, freq="1h", percentiles=(0.5,))
    queue = out[out["column"] == "queue_seconds"].set_index("bucket")
    # Hour 0 finished job_1 (queue 2 s) and job_3 (0.9 s); job_4 never started.
    assert queue.loc[ts(T0), "count"] == 2 and queue.loc[ts(T0), "p50"] == pytest.approx(1.45)
    assert queue.loc[ts(T0 + H), "p50"] == 1.0  # job_2
    processing = out[out["column"] == "processing_seconds"].set_index("bucket")
    assert processing.loc[ts(T0), "p50"] == pytest.approx((10.0 + 199.0) / 2)
