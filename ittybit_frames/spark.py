"""The standard metrics as PySpark DataFrame functions, for lakes beyond one machine.

Same signatures, column names and semantics as :mod:`ittybit_frames.metrics` (the
rules of both come from :mod:`ittybit_frames.rules`; the tests compare both on one
lake). PySpark is not a dependency: install it where you run Spark.

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

import math
import operator
import warnings
from collections.abc import Sequence
from functools import reduce
from typing import Any

import pandas as pd

from ittybit_frames.errors import LakeError
from ittybit_frames.lake import TABLE_GLOB, data_files
from ittybit_frames.rules import (
    DURATIONS,
    FAILED_TASKS,
    FAILURES,
    FINISHED,
    FINISHED_STATUSES,
    MIN_COUNT,
    OUTCOMES,
    PERCENTILES,
    RATE,
    STATUS,
    Outcome,
    check_tz,
    group_keys,
    percentile_name,
)
from ittybit_frames.vocabulary import parse_when

__all__ = [
    "duration_summary",
    "failure_rate",
    "in_flight",
    "in_flight_peak",
    "read_lake",
    "throughput",
]


def _f() -> Any:
    from pyspark.sql import functions  # noqa: PLC0415

    return functions


def _seconds(freq: str) -> int:
    """A fixed bucket size in seconds. Weeks, months and bare units are refused: buckets
    here are cut every so many seconds from the epoch, and ``1W`` would give weeks from
    Thursday where :mod:`ittybit_frames.metrics` gives ISO weeks from Monday."""
    hint = (
        f"freq={freq!r}: Spark buckets take a fixed span with a number, such as '15min', "
        "'1h', '1D' or '7D' (weeks and months: use ittybit_frames.metrics)"
    )
    if not isinstance(freq, str) or "w" in freq.lower():
        raise ValueError(hint)
    try:
        with warnings.catch_warnings():  # pandas' deprecated spellings ('1MS') are refused
            warnings.simplefilter("ignore")
            seconds = int(pd.Timedelta(freq).total_seconds())
    except ValueError:
        raise ValueError(hint) from None
    if seconds <= 0:
        raise ValueError(hint)
    return seconds


def _floor(column: Any, step: int) -> Any:
    """Floor a timestamp to a multiple of ``step`` seconds since the epoch (as pandas)."""
    F = _f()
    epoch = F.unix_seconds(column)
    return F.timestamp_seconds(F.floor(epoch / step) * step)


def _wall(column: Any, tz: str) -> Any:
    """An instant as the wall-clock time in ``tz`` (what pandas floors a zoned time on)."""
    return column if tz == "UTC" else _f().from_utc_timestamp(column, tz)


def _instant(column: Any, tz: str) -> Any:
    """A wall-clock time in ``tz`` back to the instant it names (inverse of ``_wall``)."""
    return column if tz == "UTC" else _f().to_utc_timestamp(column, tz)


def read_lake(session: Any, path: str) -> tuple[Any, Any]:
    """The lake's jobs and tasks as Spark DataFrames (partition column dropped).

    Only the lake's own files are read, as :func:`~ittybit_frames.read_parquet` reads
    them: on a local disk Spark is handed the exact list of partition files (a copied
    day folder such as ``created_date=2026-10-01 copy`` or a stray file is not read); an
    object-store lake is read through :data:`ittybit_frames.lake.TABLE_GLOB`, which a
    copied day folder still matches (Hadoop globs cannot refuse it).

    Raises
    ------
    LakeError
        The lake holds no Parquet files of a table (nothing written there yet).
    """
    frames = []
    for name in ("jobs", "tasks"):
        if not _on_this_disk(path):
            table = f"{path.rstrip('/')}/{name}"
            reader = session.read.option("basePath", table)
            frames.append(reader.parquet(f"{table}/{TABLE_GLOB}").drop("created_date"))
            continue
        # Files named one by one (no basePath): Spark finds no partition column in them,
        # and a write being applied may name files in two folders (see data_files).
        files = data_files(path, name)
        if not files:
            raise LakeError(
                f"no Parquet files of {name} in {path}: write or sync the lake first",
                path=str(path),
            )
        frames.append(session.read.parquet(*files).drop("created_date"))
    return frames[0], frames[1]


def _on_this_disk(path: str) -> bool:
    """A path or ``file://`` URL (listed here), not a URL Spark's Hadoop reads itself."""
    return "://" not in path or path.startswith("file://")


def throughput(
    jobs: Any,
    *,
    freq: str = "1h",
    by: str | None = None,
    on: str = "finished_at",
    tz: str = "UTC",
) -> Any:
    """Jobs per bucket (``bucket``, [``by``], ``jobs``), every bucket from the first to
    the last, zeros included: like :func:`ittybit_frames.metrics.throughput`.

    ``tz`` places the bucket edges (days start at midnight there); ``bucket`` holds the
    instant each bucket starts."""
    check_tz(tz)  # before Spark is asked anything: the pandas engine's error
    F = _f()
    step = _seconds(freq)
    # Shorter than a day in a zone with clock changes: buckets are instants cut on the
    # local clock (as pandas: the hour the clocks repeat is two buckets); days and longer
    # are local midnights, cut and listed on the wall clock.
    zoned = tz != "UTC" and step < _DAY_SECONDS
    data = jobs.where(F.col(on).isNotNull()).withColumn(
        "bucket",
        _local_floor(F.col(on), step, tz) if zoned else _floor(_wall(F.col(on), tz), step),
    )
    keys = ["bucket", *([by] if by else [])]
    counts = data.groupBy(*keys).agg(F.count(F.lit(1)).alias("jobs"))
    bounds = data.agg(F.min("bucket").alias("lo"), F.max("bucket").alias("hi"))
    buckets = _bucket_starts(bounds, step, tz) if zoned else _every(bounds, step)
    grid = buckets.crossJoin(data.select(by).distinct()) if by else buckets
    out = grid.join(counts, on=keys, how="left").withColumn(
        "jobs", F.coalesce(F.col("jobs"), F.lit(0)).cast("long")
    )
    if not zoned:
        out = out.withColumn("bucket", _instant(F.col("bucket"), tz))
    return out.select(*keys, "jobs").orderBy(*keys)


_DAY_SECONDS = 86_400
#: Every UTC offset in use, and every change of one, falls on a quarter hour.
_QUARTER_SECONDS = 900


def _local_floor(column: Any, step: int, tz: str) -> Any:
    """The instant starting ``column``'s bucket of ``step`` seconds on ``tz``'s clock
    (``metrics``' rule: the local time floored, less the offset at that instant)."""
    F = _f()
    wall = F.unix_seconds(_wall(column, tz))
    return F.timestamp_seconds(F.unix_seconds(column) - F.pmod(wall, F.lit(step)))


def _every(bounds: Any, step: int, *, upto: Any = None) -> Any:
    """One row per time ``step`` seconds apart from ``lo`` to ``hi`` (or ``upto``)."""
    F = _f()
    interval = F.expr(f"make_dt_interval(0, 0, 0, {step})")
    end = F.col("hi") if upto is None else upto
    return bounds.select(F.explode(F.sequence(F.col("lo"), end, interval)).alias("bucket"))


def _bucket_starts(bounds: Any, step: int, tz: str) -> Any:
    """Every bucket start from ``lo`` to ``hi`` on ``tz``'s clock: a clock change makes
    one bucket shorter or longer, so the starts are found by bucketing instants a step
    apart that no bucket can fall between (as ``metrics``' grid)."""
    F = _f()
    probe = math.gcd(step, _QUARTER_SECONDS)
    beyond = F.col("hi") + F.expr(f"make_dt_interval(0, 0, 0, {step})")
    probes = _every(bounds, probe, upto=beyond).crossJoin(bounds)
    starts = probes.select(_local_floor(F.col("bucket"), step, tz).alias("bucket"), "lo", "hi")
    inside = (F.col("bucket") >= F.col("lo")) & (F.col("bucket") <= F.col("hi"))
    return starts.where(inside).select("bucket").distinct()


def _bucket(column: Any, step: int, tz: str) -> Any:
    """The instant starting ``column``'s bucket of ``step`` seconds in ``tz``, by
    ``metrics``' rules: shorter than a day, cut in absolute time on the zone's wall-clock
    grid; a day or longer, from local midnight."""
    if tz != "UTC" and step < _DAY_SECONDS:
        return _local_floor(column, step, tz)
    return _instant(_floor(_wall(column, tz), step), tz)


def failure_rate(
    jobs: Any,
    *,
    by: str | Sequence[str] | None = "kind",
    freq: str | None = None,
    tz: str = "UTC",
) -> Any:
    """Finished jobs per group (and per ``freq`` bucket of ``finished_at``, if given) with
    succeeded, failed, cancelled by a failed task, cancelled by the user, and
    ``failure_rate`` = (failed + cancelled_by_failure) / finished: like
    :func:`ittybit_frames.metrics.failure_rate`.

    ``tz`` places the bucket edges (days start at midnight there); ``bucket`` holds the
    instant each bucket starts."""
    check_tz(tz)  # before Spark is asked anything: the pandas engine's error
    F = _f()
    step = _seconds(freq) if freq is not None else 0
    status = F.col(STATUS).cast("string")
    task_failed = F.coalesce(F.col(FAILED_TASKS), F.lit(0)) > 0

    def has(outcome: Outcome) -> Any:
        condition = status == outcome.status
        if outcome.task_failed is not None:
            condition = condition & (task_failed if outcome.task_failed else ~task_failed)
        return F.sum(F.when(condition, 1).otherwise(0)).cast("long").alias(outcome.name)

    data = jobs.where(status.isin(*FINISHED_STATUSES))
    keys = group_keys(by)
    if freq is not None:
        # As pandas' groupby: a finished job without a finish time is in no bucket.
        data = data.where(F.col("finished_at").isNotNull()).withColumn(
            "bucket", _bucket(F.col("finished_at"), step, tz)
        )
        keys.append("bucket")
    out = data.groupBy(*keys).agg(F.count(F.lit(1)).alias(FINISHED), *[has(o) for o in OUTCOMES])
    failures = reduce(operator.add, (F.col(n) for n in FAILURES))
    out = out.withColumn(RATE, failures / F.col(FINISHED))
    return out.orderBy(*keys) if keys else out


def duration_summary(
    frame: Any,
    *,
    by: str | Sequence[str] | None = "kind",
    columns: Sequence[str] = DURATIONS,
    percentiles: Sequence[float] = PERCENTILES,
    min_count: int = MIN_COUNT,
) -> Any:
    """Count, mean and exact percentiles (linear interpolation, like pandas and DuckDB's
    ``quantile_cont``) per group and duration column, long format with ``low_count``."""
    F = _f()
    names = [percentile_name(q) for q in percentiles]
    keys = group_keys(by)
    parts = []
    for column in columns:
        part = (
            frame.groupBy(*keys)
            .agg(
                F.count(column).alias("count"),
                F.avg(column).alias("mean"),
                *[
                    F.percentile(F.col(column), q).alias(n)
                    for q, n in zip(percentiles, names, strict=True)
                ],
            )
            .withColumn("column", F.lit(column))
        )
        parts.append(part)
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    out = out.withColumn("low_count", F.col("count") < min_count)
    return out.select(*keys, "column", "count", "mean", *names, "low_count").orderBy(
        *keys, "column"
    )


def _events(jobs: Any, as_of: Any) -> tuple[Any, Any]:
    """Sweep-line events: +1/-1 for queued and for processing, in epoch milliseconds,
    and the horizon ``h`` (``as_of``, or the newest timestamp in the data)."""
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
    newest = F.greatest(*[F.max(v) for v in ms.values()])
    # An aggregate, so one row even without jobs.
    horizon = data.select(F.coalesce(F.lit(parse_when(as_of)).cast("long"), newest).alias("h"))
    return queued.unionByName(processing), horizon


def in_flight(jobs: Any, *, freq: str = "1min", as_of: Any = None, tz: str = "UTC") -> Any:
    """Jobs queued and processing at every ``freq`` edge (``time``, ``queued``,
    ``processing``, ``in_flight``), exact: like :func:`ittybit_frames.metrics.in_flight`
    (unfinished jobs count until ``as_of``, default the newest timestamp in the data;
    the edges in the time zone ``tz``, as for :func:`throughput`)."""
    check_tz(tz)  # before Spark is asked anything: the pandas engine's error
    from pyspark.sql import Window  # noqa: PLC0415

    F = _f()
    step = _seconds(freq)
    events, horizon = _events(jobs, as_of)
    # An event counts at every edge at or after it. Every edge falls on a multiple of
    # ``probe`` (a UTC offset, and a change of one, is a whole number of quarter hours):
    # events summed at the first such multiple at or after them, then put before an edge
    # at the same time (rank 0, edges 1), hold in a running sum at each edge every event
    # up to it.
    probe_ms = (step if tz == "UTC" else math.gcd(step, _QUARTER_SECONDS)) * 1000
    at = (F.ceil(F.col("t") / probe_ms) * probe_ms).cast("long")
    per_probe = events.groupBy(F.timestamp_millis(at).alias("time")).agg(
        F.lit(0).alias("rank"), F.sum("dq").alias("dq"), F.sum("dp").alias("dp")
    )
    # An as_of before every arrival: nothing to sample (as in metrics.in_flight).
    arrived = events.where(F.col("dq") == 1).agg(F.min("t").alias("first"))
    sampled = arrived.crossJoin(horizon).where(F.col("first") <= F.col("h"))
    edges = (
        _edges(events, horizon, step, tz)
        .crossJoin(sampled.select(F.lit(1).alias("sampled")))
        .select(
            "time",
            F.lit(1).alias("rank"),
            F.lit(0).cast("long").alias("dq"),
            F.lit(0).cast("long").alias("dp"),
        )
    )
    running = Window.orderBy("time", "rank").rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    out = (
        per_probe.unionByName(edges)
        .withColumn("queued", F.sum("dq").over(running).cast("long"))
        .withColumn("processing", F.sum("dp").over(running).cast("long"))
        .where(F.col("rank") == 1)
    )
    return out.select(
        "time", "queued", "processing", (F.col("queued") + F.col("processing")).alias("in_flight")
    ).orderBy("time")


def _edges(events: Any, horizon: Any, step: int, tz: str) -> Any:
    """The bucket starts (``time``) from the first event's to the first at or after the
    horizon, as ``metrics``' sample times."""
    F = _f()
    if tz == "UTC":  # multiples of the step from the epoch: no clock to follow
        ms = step * 1000
        lo = events.agg((F.floor(F.min("t") / ms) * ms).cast("long").alias("lo"))
        hi = horizon.select((F.ceil(F.col("h") / ms) * ms).cast("long").alias("hi"))
        # (An event after the horizon only: no edge is kept, see in_flight; lo is
        # capped so that the sequence is one Spark can make.)
        low = F.least(F.col("lo"), F.col("hi"))
        edges = lo.crossJoin(hi).select(F.explode(F.sequence(low, "hi", F.lit(ms))).alias("ms"))
        return edges.select(F.timestamp_millis(F.col("ms")).alias("time"))
    bounds = events.agg(F.min("t").alias("lo")).crossJoin(horizon)
    bounds = bounds.select(F.least(F.col("lo"), F.col("h")).alias("lo"), "h")
    lo, h = F.timestamp_millis(F.col("lo")), F.timestamp_millis(F.col("h"))
    span = F.expr(f"make_dt_interval(0, 0, 0, {step})")
    if tz != "UTC" and step < _DAY_SECONDS:
        # The bucket after the horizon's starts within a step and a clock change of it.
        hour = F.expr("make_dt_interval(0, 1, 0, 0)")
        wide = bounds.select(_local_floor(lo, step, tz).alias("lo"), (h + span + hour).alias("hi"))
        starts = _bucket_starts(wide, step, tz).withColumnRenamed("bucket", "time")
    else:
        walls = bounds.select(
            F.explode(
                F.sequence(_floor(_wall(lo, tz), step), _floor(_wall(h, tz), step) + span, span)
            ).alias("wall")
        )
        starts = walls.select(_instant(F.col("wall"), tz).alias("time"))
    cut = starts.crossJoin(bounds.select(h.alias("h"))).where(F.col("time") >= F.col("h"))
    last = cut.agg(F.min("time").alias("last"))
    return starts.crossJoin(last).where(F.col("time") <= F.col("last")).select("time")


def in_flight_peak(jobs: Any, *, as_of: Any = None, tz: str = "UTC") -> dict[str, Any]:
    """The exact peak over every event up to ``as_of`` (default: the newest timestamp):
    ``{"in_flight", "at", "queued", "processing"}``, as ``metrics.in_flight(...).attrs``
    (``at`` in the time zone ``tz``)."""
    check_tz(tz)  # before Spark is asked anything: the pandas engine's error
    from pyspark.sql import Window  # noqa: PLC0415

    F = _f()
    events, horizon = _events(jobs, as_of)
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
        "at": pd.Timestamp(int(best["t"]), unit="ms", tz="UTC").tz_convert(tz),
        "queued": int(best["queued"]),
        "processing": int(best["processing"]),
    }
