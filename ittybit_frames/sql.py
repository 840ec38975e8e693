"""The standard questions as SQL that runs unchanged on DuckDB and Spark SQL.

Each query reads a view named ``jobs`` (the lake's jobs table). Create it first:

DuckDB::

    CREATE VIEW jobs AS
    SELECT * FROM read_parquet('LAKE/jobs/*/*.parquet', hive_partitioning = true);

Spark SQL::

    CREATE TEMPORARY VIEW jobs USING parquet OPTIONS (path 'LAKE/jobs');

Set the session time zone to UTC on both (``SET TimeZone = 'UTC'`` in DuckDB,
``spark.sql.session.timeZone=UTC`` in Spark) so hour buckets are UTC hours.

The queries use only what both dialects share: ``date_trunc('HOUR', ts)``, ``CASE``,
``count``/``sum``/``avg``, and ``percentile_cont(q) WITHIN GROUP (ORDER BY x)``, which
DuckDB and Spark 3.3+ both support and which interpolates linearly, like
:func:`ittybit_frames.metrics.duration_summary`.
"""

from __future__ import annotations

__all__ = ["DURATION_PERCENTILES", "FAILURE_RATE", "QUERIES", "THROUGHPUT", "view_sql"]

#: Jobs finished per UTC hour and status (buckets without jobs are absent).
THROUGHPUT = """
SELECT date_trunc('HOUR', finished_at) AS bucket,
       CAST(status AS STRING) AS status,
       count(*) AS jobs
FROM jobs
WHERE finished_at IS NOT NULL
GROUP BY date_trunc('HOUR', finished_at), CAST(status AS STRING)
ORDER BY bucket, status
""".strip()

#: Failure rate per kind: failed, plus cancelled by a failed task, over finished jobs.
FAILURE_RATE = """
SELECT CAST(kind AS STRING) AS kind,
       count(*) AS finished,
       sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
       sum(CASE WHEN status = 'cancelled' AND failed_task_count > 0 THEN 1 ELSE 0 END)
           AS cancelled_by_failure,
       avg(CASE WHEN status = 'failed' OR (status = 'cancelled' AND failed_task_count > 0)
                THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END) AS failure_rate
FROM jobs
WHERE status IN ('succeeded', 'failed', 'cancelled')
GROUP BY CAST(kind AS STRING)
ORDER BY kind
""".strip()

#: p50 and p95 of queue, processing and total seconds per kind.
DURATION_PERCENTILES = """
SELECT CAST(kind AS STRING) AS kind,
       count(total_seconds) AS finished,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY queue_seconds) AS queue_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY queue_seconds) AS queue_p95,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY processing_seconds) AS processing_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_seconds) AS processing_p95,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY total_seconds) AS total_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY total_seconds) AS total_p95
FROM jobs
GROUP BY CAST(kind AS STRING)
ORDER BY kind
""".strip()

#: All of them, by name.
QUERIES = {
    "throughput": THROUGHPUT,
    "failure_rate": FAILURE_RATE,
    "duration_percentiles": DURATION_PERCENTILES,
}


def view_sql(lake: str, engine: str) -> str:
    """The statement that defines the ``jobs`` view over a lake, for ``duckdb`` or ``spark``.

    Examples
    --------
    >>> print(view_sql("lake", "spark"))
    CREATE OR REPLACE TEMPORARY VIEW jobs USING parquet OPTIONS (path 'lake/jobs')
    """
    quoted = lake.replace("'", "''")
    if engine == "duckdb":
        return (
            "CREATE OR REPLACE VIEW jobs AS SELECT * FROM read_parquet("
            f"'{quoted}/jobs/*/*.parquet', hive_partitioning = true)"
        )
    if engine == "spark":
        return f"CREATE OR REPLACE TEMPORARY VIEW jobs USING parquet OPTIONS (path '{quoted}/jobs')"
    raise ValueError("engine must be 'duckdb' or 'spark'")
