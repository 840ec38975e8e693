"""The standard metrics as PySpark DataFrame functions, for lakes beyond one machine.

Same column names and semantics as :mod:`ittybit_frames.metrics` (the tests compare
both on one lake). PySpark is not a dependency: install it where you run Spark.

Run on a cluster against a lake on S3 or HDFS::

    spark-submit --master yarn --conf spark.sql.session.timeZone=UTC my_job.py

    # my_job.py
    from pyspark.sql import SparkSession
    from ittybit_frames import spark as itf_spark
    session = SparkSession.builder.getOrCreate()
    jobs, tasks = itf_spark.read_lake(session, "s3a://bucket/ittybit-lake")
    itf_spark.failure_rate(jobs).show()

Set ``spark.sql.session.timeZone=UTC``: timestamps are stored as UTC instants and
buckets are then UTC hours and days, as in pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = [
    "duration_summary",
    "failure_rate",
    "in_flight",
    "in_flight_peak",
    "read_lake",
    "throughput",
]

_DURATIONS = ("queue_seconds", "processing_seconds", "total_seconds")


def _f() -> Any:
    from pyspark.sql import functions  # noqa: PLC0415

    return functions


def _seconds(freq: str) -> int:
    seconds = int(pd.Timedelta(freq).total_seconds())
    if seconds <= 0:
        raise ValueError(f"freq must be a positive span, got {freq!r}")
    return seconds


def _floor(column: Any, step: int) -> Any:
    """Floor a timestamp to a multiple of ``step`` seconds since the epoch (as pandas)."""
    F = _f()
    epoch = F.unix_seconds(column)
    return F.timestamp_seconds(F.floor(epoch / step) * step)


def read_lake(session: Any, path: str) -> tuple[Any, Any]:
    """The lake's jobs and tasks as Spark DataFrames (partition column dropped)."""
    jobs = session.read.parquet(f"{path.rstrip('/')}/jobs").drop("created_date")
    tasks = session.read.parquet(f"{path.rstrip('/')}/tasks").drop("created_date")
    return jobs, tasks


def throughput(
    jobs: Any, *, freq: str = "1h", by: str | None = None, on: str = "finished_at"
) -> Any:
    """Jobs per bucket (``bucket``, [``by``], ``jobs``), every bucket from the first to
    the last, zeros included: like :func:`ittybit_frames.metrics.throughput`."""
    F = _f()
    step = _seconds(freq)
    data = jobs.where(F.col(on).isNotNull()).withColumn("bucket", _floor(F.col(on), step))
    keys = ["bucket", *([by] if by else [])]
    counts = data.groupBy(*keys).agg(F.count(F.lit(1)).alias("jobs"))
    bounds = data.agg(F.min("bucket").alias("lo"), F.max("bucket").alias("hi"))
    buckets = bounds.select(
        F.explode(
            F.sequence(F.col("lo"), F.col("hi"), F.expr(f"make_dt_interval(0, 0, 0, {step})"))
        ).alias("bucket")
    )
    grid = buckets.crossJoin(data.select(by).distinct()) if by else buckets
    out = grid.join(counts, on=keys, how="left").withColumn(
        "jobs", F.coalesce(F.col("jobs"), F.lit(0)).cast("long")
    )
    return out.select(*keys, "jobs").orderBy(*keys)


def failure_rate(jobs: Any, *, by: str | None = "kind") -> Any:
    """Finished jobs per group with failed, cancelled by a failed task, cancelled by the
    user, and ``failure_rate`` = (failed + cancelled_by_failure) / finished."""
    F = _f()
    status = F.col("status").cast("string")
    cascade = (status == "cancelled") & (F.coalesce(F.col("failed_task_count"), F.lit(0)) > 0)
    data = jobs.where(status.isin("succeeded", "failed", "cancelled"))

    def count(condition: Any) -> Any:
        return F.sum(F.when(condition, 1).otherwise(0)).cast("long")

    grouped = data.groupBy(by) if by else data.groupBy()
    out = grouped.agg(
        F.count(F.lit(1)).alias("finished"),
        count(status == "succeeded").alias("succeeded"),
        count(status == "failed").alias("failed"),
        count(cascade).alias("cancelled_by_failure"),
        count((status == "cancelled") & ~cascade).alias("cancelled_by_user"),
    )
    out = out.withColumn(
        "failure_rate", (F.col("failed") + F.col("cancelled_by_failure")) / F.col("finished")
    )
    return out.orderBy(by) if by else out


def duration_summary(
    frame: Any,
    *,
    by: str | None = "kind",
    columns: Sequence[str] = _DURATIONS,
    percentiles: Sequence[float] = (0.5, 0.9, 0.95, 0.99),
    min_count: int = 20,
) -> Any:
    """Count, mean and exact percentiles (linear interpolation, like pandas and DuckDB's
    ``quantile_cont``) per group and duration column, long format with ``low_count``."""
    F = _f()
    names = [f"p{round(q * 100, 3):g}" for q in percentiles]
    parts = []
    for column in columns:
        grouped = frame.groupBy(by) if by else frame.groupBy()
        part = grouped.agg(
            F.count(column).alias("count"),
            F.avg(column).alias("mean"),
            *[
                F.percentile(F.col(column), q).alias(n)
                for q, n in zip(percentiles, names, strict=True)
            ],
        ).withColumn("column", F.lit(column))
        parts.append(part)
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    out = out.withColumn("low_count", F.col("count") < min_count)
    keys = [by] if by else []
    return out.select(*keys, "column", "count", "mean", *names, "low_count").orderBy(
        *keys, "column"
    )


def _events(jobs: Any) -> tuple[Any, Any]:
    """Sweep-line events: +1/-1 for queued and for processing, in epoch milliseconds."""
    F = _f()
    ms = {c: F.unix_millis(F.col(c)) for c in ("created_at", "started_at", "finished_at")}
    data = jobs.where(F.col("created_at").isNotNull())
    queue_end = F.coalesce(ms["started_at"], ms["finished_at"])
    queued = data.select(
        ms["created_at"].alias("t"), F.lit(1).alias("dq"), F.lit(0).alias("dp")
    ).unionByName(
        data.where(queue_end.isNotNull()).select(
            queue_end.alias("t"), F.lit(-1).alias("dq"), F.lit(0).alias("dp")
        )
    )
    running = data.where(F.col("started_at").isNotNull())
    processing = running.select(
        ms["started_at"].alias("t"), F.lit(0).alias("dq"), F.lit(1).alias("dp")
    ).unionByName(
        running.where(F.col("finished_at").isNotNull()).select(
            ms["finished_at"].alias("t"), F.lit(0).alias("dq"), F.lit(-1).alias("dp")
        )
    )
    horizon = data.select(F.greatest(*[F.max(v) for v in ms.values()]).alias("h"))
    return queued.unionByName(processing), horizon


def in_flight(jobs: Any, *, freq: str = "1min") -> Any:
    """Jobs queued and processing at every ``freq`` edge (``time``, ``queued``,
    ``processing``, ``in_flight``), exact: like :func:`ittybit_frames.metrics.in_flight`
    (unfinished jobs count until the newest timestamp in the data)."""
    from pyspark.sql import Window  # noqa: PLC0415

    F = _f()
    step_ms = _seconds(freq) * 1000
    events, horizon = _events(jobs)
    # An event at time t counts at every edge >= t: attach it to the first such edge.
    edge_of = (F.ceil(F.col("t") / step_ms) * step_ms).cast("long")
    per_edge = events.groupBy(edge_of.alias("edge")).agg(
        F.sum("dq").alias("dq"), F.sum("dp").alias("dp")
    )
    lo = events.agg((F.floor(F.min("t") / step_ms) * step_ms).cast("long").alias("lo"))
    hi = horizon.select((F.ceil(F.col("h") / step_ms) * step_ms).cast("long").alias("hi"))
    edges = lo.crossJoin(hi).select(F.explode(F.sequence("lo", "hi", F.lit(step_ms))).alias("edge"))
    running = Window.orderBy("edge").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    out = (
        edges.join(per_edge, "edge", "left")
        .fillna(0, ["dq", "dp"])
        .withColumn("queued", F.sum("dq").over(running).cast("long"))
        .withColumn("processing", F.sum("dp").over(running).cast("long"))
        .withColumn("time", F.timestamp_millis(F.col("edge")))
    )
    return out.select(
        "time", "queued", "processing", (F.col("queued") + F.col("processing")).alias("in_flight")
    ).orderBy("time")


def in_flight_peak(jobs: Any) -> dict[str, Any]:
    """The exact peak over every event: ``{"in_flight", "at", "queued", "processing"}``."""
    from pyspark.sql import Window  # noqa: PLC0415

    F = _f()
    events, horizon = _events(jobs)
    per_time = events.groupBy("t").agg(F.sum("dq").alias("dq"), F.sum("dp").alias("dp"))
    running = Window.orderBy("t").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    counts = (
        per_time.withColumn("queued", F.sum("dq").over(running))
        .withColumn("processing", F.sum("dp").over(running))
        .withColumn("in_flight", F.col("queued") + F.col("processing"))
    )
    h = horizon.first()["h"]
    best = counts.where(F.col("t") <= h).orderBy(F.col("in_flight").desc(), F.col("t")).first()
    if best is None:
        return {"in_flight": 0, "at": pd.NaT, "queued": 0, "processing": 0}
    return {
        "in_flight": int(best["in_flight"]),
        "at": pd.Timestamp(int(best["t"]), unit="ms", tz="UTC"),
        "queued": int(best["queued"]),
        "processing": int(best["processing"]),
    }
