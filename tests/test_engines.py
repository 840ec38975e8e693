"""The lake read by the engines users have: pyarrow, DuckDB, Polars, PySpark (local)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf

PERCENTILE = 0.95


@pytest.fixture(scope="module")
def lake_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ittybit_frames.simulator import generate_history

    path = tmp_path_factory.mktemp("lake")
    itf.to_frames(generate_history(3000, seed=5)).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def expected(lake_path: Path) -> dict[str, Any]:
    frames = itf.read_parquet(lake_path)
    jobs = frames.jobs
    # Linear interpolation between closest ranks: what pandas, DuckDB's quantile_cont and
    # Spark's percentile() all compute.
    p95 = (
        jobs.dropna(subset=["processing_seconds"])
        .groupby("kind", observed=True)["processing_seconds"]
        .quantile(PERCENTILE)
    )
    return {
        "jobs": len(jobs),
        "tasks": len(frames.tasks),
        "first": jobs["created_at"].min(),
        "last": jobs["created_at"].max(),
        "p95": {str(k): float(v) for k, v in p95.items()},
        "ids_ms": dict(zip(jobs["job_id"], jobs["created_at"].astype("int64"), strict=True)),
    }


def glob(lake_path: Path, table: str) -> str:
    return str(lake_path / table / "*" / "*.parquet")


def test_pyarrow_dataset(lake_path: Path, expected: dict[str, Any]) -> None:
    import pyarrow.dataset as ds

    jobs = ds.dataset(lake_path / "jobs", format="parquet", partitioning="hive").to_table()
    assert jobs.num_rows == expected["jobs"]
    assert str(jobs.schema.field("created_at").type) == "timestamp[ms, tz=UTC]"
    tasks = ds.dataset(lake_path / "tasks", format="parquet", partitioning="hive").to_table()
    assert tasks.num_rows == expected["tasks"]


def test_duckdb(lake_path: Path, expected: dict[str, Any]) -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    src = f"read_parquet('{glob(lake_path, 'jobs')}', hive_partitioning = true)"
    n, first, last = con.execute(
        f"SELECT count(*), epoch_ms(min(created_at)), epoch_ms(max(created_at)) FROM {src}"
    ).fetchone()
    assert n == expected["jobs"]
    assert (first, last) == (expected["first"].value // 10**6, expected["last"].value // 10**6)
    rows = con.execute(
        f"SELECT kind, quantile_cont(processing_seconds, {PERCENTILE}) FROM {src} "
        "WHERE processing_seconds IS NOT NULL GROUP BY kind"
    ).fetchall()
    assert {k: pytest.approx(v, abs=1e-9) for k, v in rows} == expected["p95"]
    ms = dict(con.execute(f"SELECT job_id, epoch_ms(created_at) FROM {src}").fetchall())
    assert ms == expected["ids_ms"]
    tasks = con.execute(
        f"SELECT count(*) FROM read_parquet('{glob(lake_path, 'tasks')}')"
    ).fetchone()
    assert tasks == (expected["tasks"],)


def test_polars(lake_path: Path, expected: dict[str, Any]) -> None:
    pl = pytest.importorskip("polars")
    jobs = pl.read_parquet(glob(lake_path, "jobs"), hive_partitioning=True)
    assert jobs.height == expected["jobs"]
    assert str(jobs.schema["created_at"]) == "Datetime(time_unit='ms', time_zone='UTC')"
    ms = dict(
        zip(jobs["job_id"].to_list(), jobs["created_at"].dt.epoch("ms").to_list(), strict=True)
    )
    assert ms == expected["ids_ms"]
    p95 = (
        jobs.drop_nulls("processing_seconds")
        .group_by("kind")
        .agg(pl.col("processing_seconds").quantile(PERCENTILE, interpolation="linear"))
    )
    got = {str(k): v for k, v in p95.iter_rows()}
    assert got == {k: pytest.approx(v, abs=1e-9) for k, v in expected["p95"].items()}


@pytest.mark.slow
def test_pyspark_local(spark: Any, lake_path: Path, expected: dict[str, Any]) -> None:
    from pyspark.sql import functions as F

    jobs = spark.read.parquet(str(lake_path / "jobs"))  # discovers created_date partitions
    assert jobs.count() == expected["jobs"]
    row = jobs.agg(F.min(F.unix_millis("created_at")), F.max(F.unix_millis("created_at"))).first()
    assert (row[0], row[1]) == (expected["first"].value // 10**6, expected["last"].value // 10**6)
    p95 = (
        jobs.where(F.col("processing_seconds").isNotNull())
        .groupBy("kind")
        .agg(F.percentile("processing_seconds", PERCENTILE).alias("p95"))
        .collect()
    )
    assert {r["kind"]: r["p95"] for r in p95} == {
        k: pytest.approx(v, abs=1e-9) for k, v in expected["p95"].items()
    }
    ms = {r[0]: r[1] for r in jobs.select("job_id", F.unix_millis("created_at")).collect()}
    assert ms == expected["ids_ms"]
    assert spark.read.parquet(str(lake_path / "tasks")).count() == expected["tasks"]


def _sql_expectations(lake_path: Path) -> dict[str, Any]:
    from ittybit_frames import metrics

    jobs = itf.read_parquet(lake_path).jobs
    hours = metrics.throughput(jobs, freq="1h", by="status")
    rates = metrics.failure_rate(jobs).set_index("kind")
    durations = metrics.duration_summary(jobs, percentiles=(0.5, 0.95))
    return {
        "throughput": {
            (int(b.value // 10**6), s): n
            for b, s, n in hours[hours["jobs"] > 0][["bucket", "status", "jobs"]].itertuples(
                index=False
            )
        },
        "failure_rate": rates["failure_rate"].to_dict(),
        "finished": rates["finished"].to_dict(),
        "p95": {(r.kind, r.column): r.p95 for r in durations.itertuples()},
        "p50": {(r.kind, r.column): r.p50 for r in durations.itertuples()},
    }


def _check_sql_rows(rows: dict[str, list[Any]], want: dict[str, Any]) -> None:
    assert {(int(b), s): n for b, s, n in rows["throughput"]} == want["throughput"]
    assert {r[0]: r[1] for r in rows["failure_rate"]} == want["finished"]
    assert {r[0]: pytest.approx(float(r[4]), abs=1e-12) for r in rows["failure_rate"]} == (
        want["failure_rate"]
    )
    for kind, _, q50, q95, p50, p95, t50, t95 in rows["duration_percentiles"]:
        for column, (lo, hi) in (
            ("queue_seconds", (q50, q95)),
            ("processing_seconds", (p50, p95)),
            ("total_seconds", (t50, t95)),
        ):
            assert lo == pytest.approx(want["p50"][(kind, column)], abs=1e-9)
            assert hi == pytest.approx(want["p95"][(kind, column)], abs=1e-9)


def test_standard_sql_on_duckdb(lake_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    from ittybit_frames import sql

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(sql.view_sql(str(lake_path), "duckdb"))
    rows = {}
    for name, query in sql.QUERIES.items():
        result = con.execute(query).fetchall()
        if name == "throughput":
            result = [(b.timestamp() * 1000, s, n) for b, s, n in result]
        rows[name] = result
    _check_sql_rows(rows, _sql_expectations(lake_path))


@pytest.mark.slow
def test_standard_sql_on_spark(spark: Any, lake_path: Path) -> None:
    import calendar

    from ittybit_frames import sql

    spark.sql(sql.view_sql(str(lake_path), "spark"))
    rows = {}
    for name, query in sql.QUERIES.items():
        result = [tuple(r) for r in spark.sql(query).collect()]
        if name == "throughput":  # naive datetimes in the UTC session time zone
            result = [(calendar.timegm(b.timetuple()) * 1000, s, n) for b, s, n in result]
        rows[name] = result
    _check_sql_rows(rows, _sql_expectations(lake_path))


@pytest.fixture(scope="module")
def littered_lake(lake_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the lake plus what users and dead writers leave in one: never read."""
    import shutil

    path = tmp_path_factory.mktemp("littered") / "lake"
    shutil.copytree(lake_path, path)
    for table in ("jobs", "tasks"):
        first = sorted((path / table).glob("created_date=*/part-0.parquet"))[0]
        copies = [
            f"{table}/created_date=junk/part-0.parquet",  # a copied folder
            f"{table}/{first.parent.name}/part-0 (copy).parquet",  # a stray file
            f"{table}/stray.parquet",
            f".{table}.1-0123456789abcdef0123456789abcdef.tmp/{first.parent.name}/x.parquet",
        ]
        for rel in copies:
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(first, path / rel)
    return path


def test_the_duckdb_view_reads_only_the_lakes_files(
    littered_lake: Path, expected: dict[str, Any]
) -> None:
    """Why: the view read ``jobs/*/*.parquet``, so a copied folder doubled its jobs."""
    duckdb = pytest.importorskip("duckdb")
    from ittybit_frames import sql

    con = duckdb.connect()
    con.execute(sql.view_sql(str(littered_lake), "duckdb"))
    assert con.execute("SELECT count(*), count(DISTINCT job_id) FROM jobs").fetchall() == [
        (expected["jobs"], expected["jobs"])
    ]
    assert itf.check_lake(littered_lake).problems  # the litter is there, and reported


@pytest.mark.slow
def test_the_spark_view_and_read_lake_read_only_the_lakes_files(
    spark: Any, littered_lake: Path, expected: dict[str, Any]
) -> None:
    """Why: Spark read the whole ``jobs/`` folder, stray files included."""
    from ittybit_frames import spark as itf_spark
    from ittybit_frames import sql

    spark.sql(sql.view_sql(str(littered_lake), "spark"))
    assert spark.sql("SELECT count(*), count(DISTINCT job_id) FROM jobs").collect()[0][:] == (
        expected["jobs"],
        expected["jobs"],
    )
    assert "created_date" in spark.table("jobs").columns  # basePath keeps the partition
    jobs, tasks = itf_spark.read_lake(spark, str(littered_lake))
    assert (jobs.count(), tasks.count()) == (expected["jobs"], expected["tasks"])


@pytest.mark.slow
def test_spark_read_lake_skips_a_copied_day_folder(
    spark: Any, lake_path: Path, expected: dict[str, Any], tmp_path: Path
) -> None:
    """A folder copied in a file manager (``created_date=2026-10-01 copy``) matches the
    plain glob (DuckDB and Hadoop globs have no way to refuse it): ``read_lake`` reads the
    lake's own files only, as ``read_parquet`` does."""
    import shutil

    from ittybit_frames import spark as itf_spark

    lake = tmp_path / "lake"
    shutil.copytree(lake_path, lake)
    for table in ("jobs", "tasks"):
        first = sorted((lake / table).glob("created_date=*"))[0]
        shutil.copytree(first, first.with_name(f"{first.name} copy"))
    jobs, tasks = itf_spark.read_lake(spark, str(lake))
    assert (jobs.count(), tasks.count()) == (expected["jobs"], expected["tasks"])
    assert jobs.select("job_id").distinct().count() == expected["jobs"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(itf.LakeError, match="no Parquet files"):
        itf_spark.read_lake(spark, str(empty))


@pytest.mark.slow
def test_spark_metrics_match_pandas(spark: Any, lake_path: Path) -> None:
    import calendar

    from ittybit_frames import metrics
    from ittybit_frames import spark as itf_spark

    jobs_pd = itf.read_parquet(lake_path).jobs
    jobs, _ = itf_spark.read_lake(spark, str(lake_path))

    def ms(value: Any) -> int:
        return calendar.timegm(value.timetuple()) * 1000 + value.microsecond // 1000

    got = {
        (ms(r["bucket"]), r["status"]): r["jobs"]
        for r in itf_spark.throughput(jobs, freq="1h", by="status").collect()
    }
    want = metrics.throughput(jobs_pd, freq="1h", by="status")
    assert got == {(int(b.value // 10**6), s): n for b, s, n in want.itertuples(index=False)}

    rates = {r["kind"]: r.asDict() for r in itf_spark.failure_rate(jobs).collect()}
    for row in metrics.failure_rate(jobs_pd).itertuples(index=False):
        spark_row = rates[row.kind]
        assert (
            spark_row["finished"],
            spark_row["failed"],
            spark_row["cancelled_by_failure"],
            spark_row["cancelled_by_user"],
        ) == (row.finished, row.failed, row.cancelled_by_failure, row.cancelled_by_user)
        assert spark_row["failure_rate"] == pytest.approx(row.failure_rate, abs=1e-12)

    summary = {
        (r["kind"], r["column"]): r.asDict()
        for r in itf_spark.duration_summary(jobs, percentiles=(0.5, 0.95)).collect()
    }
    for row in metrics.duration_summary(jobs_pd, percentiles=(0.5, 0.95)).itertuples(index=False):
        spark_row = summary[(row.kind, row.column)]
        assert spark_row["count"] == row.count
        assert spark_row["p50"] == pytest.approx(row.p50, abs=1e-9)
        assert spark_row["p95"] == pytest.approx(row.p95, abs=1e-9)

    flight = [
        (ms(r["time"]), r["queued"], r["processing"])
        for r in itf_spark.in_flight(jobs, freq="10min").collect()
    ]
    want_flight = metrics.in_flight(jobs_pd, freq="10min")
    assert flight == [
        (int(t.value // 10**6), q, p) for t, q, p, _ in want_flight.itertuples(index=False)
    ]
    assert itf_spark.in_flight_peak(jobs) == want_flight.attrs["peak"]


def _spark_ms(value: Any) -> int:
    """A collected Spark timestamp (naive, in this process's local time) as epoch ms."""
    return round(value.timestamp() * 1000)


def _rows(frame: Any) -> list[tuple[Any, ...]]:
    """A pandas or collected Spark result as plain tuples, timestamps as epoch ms."""
    if isinstance(frame, list):
        rows = [tuple(r) for r in frame]
        return [tuple(_spark_ms(v) if hasattr(v, "timetuple") else v for v in r) for r in rows]
    return [
        tuple(int(v.value // 10**6) if hasattr(v, "value") else v for v in r)
        for r in frame.itertuples(index=False)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("freq", "by", "tz"),
    [
        ("1h", "kind", "Asia/Kolkata"),  # half-hour offset: edges at :30 UTC
        ("1D", None, "Europe/Berlin"),  # days at local midnight across the DST change
        ("6h", "status", "UTC"),
    ],
)
def test_spark_throughput_tz_matches_pandas(
    spark: Any, lake_path: Path, freq: str, by: str | None, tz: str
) -> None:
    from ittybit_frames import metrics
    from ittybit_frames import spark as itf_spark

    jobs_pd = itf.read_parquet(lake_path).jobs
    jobs, _ = itf_spark.read_lake(spark, str(lake_path))
    want = metrics.throughput(jobs_pd, freq=freq, by=by, tz=tz)
    got = itf_spark.throughput(jobs, freq=freq, by=by, tz=tz)
    assert got.columns == list(want.columns)
    assert len(want) > 24
    assert _rows(got.collect()) == _rows(want)


@pytest.mark.slow
@pytest.mark.parametrize(("by", "freq"), [("kind", "6h"), (None, "1D"), (["kind", "status"], None)])
def test_spark_failure_rate_freq_matches_pandas(
    spark: Any, lake_path: Path, by: str | list[str] | None, freq: str | None
) -> None:
    from ittybit_frames import metrics
    from ittybit_frames import spark as itf_spark

    jobs_pd = itf.read_parquet(lake_path).jobs
    jobs, _ = itf_spark.read_lake(spark, str(lake_path))
    want = _rows(metrics.failure_rate(jobs_pd, by=by, freq=freq))
    got_frame = itf_spark.failure_rate(jobs, by=by, freq=freq)
    assert got_frame.columns == list(metrics.failure_rate(jobs_pd, by=by, freq=freq).columns)
    got = _rows(got_frame.collect())
    assert len(want) > 1 or by is None
    assert [r[:-1] for r in got] == [r[:-1] for r in want]
    assert [r[-1] for r in got] == pytest.approx([r[-1] for r in want], abs=1e-12)


@pytest.mark.slow
def test_spark_in_flight_as_of_matches_pandas(spark: Any, lake_path: Path) -> None:
    from ittybit_frames import metrics
    from ittybit_frames import spark as itf_spark

    jobs_pd = itf.read_parquet(lake_path).jobs
    created = jobs_pd["created_at"]
    middle = created.min() + (created.max() - created.min()) / 2
    as_of = f"{middle.floor('h'):%Y-%m-%dT%H:%M:%SZ}"  # inside: later events are past it
    jobs, _ = itf_spark.read_lake(spark, str(lake_path))
    want = metrics.in_flight(jobs_pd, freq="1h", as_of=as_of)
    got = itf_spark.in_flight(jobs, freq="1h", as_of=as_of)
    assert got.columns == list(want.columns)
    assert _rows(got.collect()) == _rows(want)
    assert want["time"].max() == pd.Timestamp(as_of)
    assert itf_spark.in_flight_peak(jobs, as_of=as_of) == want.attrs["peak"]
    assert itf_spark.in_flight_peak(jobs.limit(0), as_of=as_of)["in_flight"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("freq", "tz", "first"),
    [
        ("1h", "America/New_York", "2026-11-01T03:00:00Z"),  # 01:00-02:00 twice
        ("2h", "Europe/Berlin", "2026-03-28T18:00:00Z"),  # 02:00-03:00 skipped
    ],
)
def test_spark_throughput_across_a_clock_change_matches_pandas(
    spark: Any, freq: str, tz: str, first: str
) -> None:
    """Why: Spark cut hours on the wall clock, so the hour the clocks repeat was one
    bucket of two hours' jobs (and one bucket start was missing), where pandas has two."""
    from pyspark.sql import functions as F

    from ittybit_frames import metrics
    from ittybit_frames import spark as itf_spark

    start, step, n = int(pd.Timestamp(first).timestamp() * 1000), 20 * 60_000, 55
    jobs = spark.range(n).select(
        F.timestamp_millis(F.lit(start) + F.col("id") * step).alias("finished_at")
    )
    times = pd.Series(pd.to_datetime([start + i * step for i in range(n)], unit="ms", utc=True))
    want = metrics.throughput(
        pd.DataFrame({"finished_at": times.dt.as_unit("ms")}), freq=freq, tz=tz
    )
    assert _rows(itf_spark.throughput(jobs, freq=freq, tz=tz).collect()) == _rows(want)


@pytest.mark.slow
def test_spark_in_flight_as_of_before_every_arrival_matches_pandas(
    spark: Any, lake_path: Path
) -> None:
    """An as_of before the first arrival: no samples on either engine (pandas sampled
    from that arrival back to as_of; Spark's edge sequence could not be made)."""
    from ittybit_frames import metrics
    from ittybit_frames import spark as itf_spark

    jobs_pd = itf.read_parquet(lake_path).jobs
    jobs, _ = itf_spark.read_lake(spark, str(lake_path))
    for tz in ("UTC", "Asia/Kolkata"):
        for before in ("10min", "3D"):
            as_of = jobs_pd["created_at"].min() - pd.Timedelta(before)
            want = metrics.in_flight(jobs_pd, freq="1h", as_of=as_of, tz=tz)
            got = itf_spark.in_flight(jobs, freq="1h", as_of=as_of, tz=tz)
            assert want.empty
            assert got.count() == 0
            assert itf_spark.in_flight_peak(jobs, as_of=as_of, tz=tz) == want.attrs["peak"]
