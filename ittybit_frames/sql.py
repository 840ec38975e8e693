"""The standard questions as SQL that runs unchanged on DuckDB and Spark SQL.

Each query reads a view named ``jobs`` (the lake's jobs table). Create it first:

DuckDB::

    CREATE VIEW jobs AS SELECT * FROM read_parquet(
        'LAKE/jobs/created_date=[0-9_]*/part-0.parquet', hive_partitioning = true);

Spark SQL::

    CREATE TEMPORARY VIEW jobs USING parquet OPTIONS (
        path 'LAKE/jobs/created_date=[0-9_]*/part-0.parquet', basePath 'LAKE/jobs');

The glob (:data:`ittybit_frames.lake.TABLE_GLOB`) skips the hidden twins, stray files
and folders whose names do not start like a partition (``basePath`` keeps Spark's
``created_date`` partition column). It cannot skip a copied folder named from a day
(``created_date=2026-11-02 copy``): ``check`` names such folders as not the lake's, and
:func:`ittybit_frames.read_parquet` never reads them, nor does
:func:`ittybit_frames.spark.read_lake` on a local disk.

Set the session time zone to UTC on both (``SET TimeZone = 'UTC'`` in DuckDB,
``spark.sql.session.timeZone=UTC`` in Spark) so hour buckets are UTC hours.

The queries use only what both dialects share: ``date_trunc('HOUR', ts)``, ``CASE``,
``count``/``sum``/``avg``, and ``percentile_cont(q) WITHIN GROUP (ORDER BY x)``, which
DuckDB and Spark 3.3+ both support and which interpolates linearly, like
:func:`ittybit_frames.metrics.duration_summary`.

The rules are not typed here again: the finished statuses, the failure cascade, the
duration columns and the percentile names come from :mod:`ittybit_frames.rules`, and the
text of :data:`FAILURE_RATE` and :data:`DURATION_PERCENTILES` is built from them.
"""

from __future__ import annotations

from ittybit_frames.lake import TABLE_GLOB
from ittybit_frames.rules import (
    DURATIONS,
    FAILED_TASKS,
    FINISHED,
    FINISHED_STATUSES,
    OUTCOMES,
    RATE,
    STATUS,
    SUMMARY_PERCENTILES,
    TOTAL_SECONDS,
    Outcome,
    percentile_name,
)

__all__ = ["DURATION_PERCENTILES", "FAILURE_RATE", "QUERIES", "THROUGHPUT", "view_sql"]

# The rules of ittybit_frames.rules, spelled in the SQL both dialects share.
_KIND = "CAST(kind AS STRING)"
_TASK_FAILED = f"coalesce({FAILED_TASKS}, 0) > 0"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _condition(outcome: Outcome) -> str:
    """The predicate that a jobs row has ``outcome``."""
    parts = [f"{STATUS} = {_quote(outcome.status)}"]
    if outcome.task_failed is not None:
        parts.append(_TASK_FAILED if outcome.task_failed else f"NOT ({_TASK_FAILED})")
    return " AND ".join(parts)


def _per_kind(*selects: str, where: str | None = None) -> str:
    """``SELECT kind, <selects> FROM jobs [WHERE ...]``, one row per kind."""
    items = ",\n       ".join([f"{_KIND} AS kind", *selects])
    filtered = f"\nWHERE {where}" if where else ""
    return f"SELECT {items}\nFROM jobs{filtered}\nGROUP BY {_KIND}\nORDER BY kind"


def _failure_rate() -> str:
    failures = [o for o in OUTCOMES if o.failure]
    any_failure = " OR ".join(f"({_condition(o)})" for o in failures)
    finished = ", ".join(_quote(s) for s in FINISHED_STATUSES)
    return _per_kind(
        f"count(*) AS {FINISHED}",
        *[f"sum(CASE WHEN {_condition(o)} THEN 1 ELSE 0 END) AS {o.name}" for o in failures],
        f"avg(CASE WHEN {any_failure}\n                THEN CAST(1 AS DOUBLE) "
        f"ELSE CAST(0 AS DOUBLE) END) AS {RATE}",
        where=f"{STATUS} IN ({finished})",
    )


def _duration_percentiles() -> str:
    return _per_kind(
        f"count({TOTAL_SECONDS}) AS {FINISHED}",
        *[
            f"percentile_cont({q:g}) WITHIN GROUP (ORDER BY {column}) "
            f"AS {column.removesuffix('_seconds')}_{percentile_name(q)}"
            for column in DURATIONS
            for q in SUMMARY_PERCENTILES
        ],
    )


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

#: Failure rate per kind: ``finished``, then each failure outcome of the cascade
#: (``failed``, ``cancelled_by_failure``), then ``failure_rate`` (their share of finished).
FAILURE_RATE = _failure_rate()

#: p50 and p95 of queue, processing and total seconds per kind.
DURATION_PERCENTILES = _duration_percentiles()

#: All of them, by name.
QUERIES = {
    "throughput": THROUGHPUT,
    "failure_rate": FAILURE_RATE,
    "duration_percentiles": DURATION_PERCENTILES,
}


def view_sql(lake: str, engine: str) -> str:
    """The statement that defines the ``jobs`` view over a lake, for ``duckdb`` or ``spark``.

    Only the lake's own files are read (:data:`ittybit_frames.lake.TABLE_GLOB`).

    Examples
    --------
    >>> view_sql("lake", "spark").split(" OPTIONS ")[1]
    "(path 'lake/jobs/created_date=[0-9_]*/part-0.parquet', basePath 'lake/jobs')"
    """
    table = lake.rstrip("/").replace("'", "''") + "/jobs"
    if engine == "duckdb":
        return (
            "CREATE OR REPLACE VIEW jobs AS SELECT * FROM read_parquet("
            f"'{table}/{TABLE_GLOB}', hive_partitioning = true)"
        )
    if engine == "spark":
        return (
            "CREATE OR REPLACE TEMPORARY VIEW jobs USING parquet OPTIONS "
            f"(path '{table}/{TABLE_GLOB}', basePath '{table}')"
        )
    raise ValueError("engine must be 'duckdb' or 'spark'")


def script(lake: str, engine: str) -> str:
    """Everything a reader pastes into DuckDB or Spark SQL: time zone, view, the queries.

    The README's SQL is this text (a test keeps them equal), so a dashboard built from
    it gives the numbers of :mod:`ittybit_frames.metrics` and of the report.
    """
    zone = (
        "SET TimeZone = 'UTC';" if engine == "duckdb" else "SET spark.sql.session.timeZone = UTC;"
    )
    parts = [zone, view_sql(lake, engine) + ";"]
    for name, query in QUERIES.items():
        parts.append(f"-- {name.replace('_', ' ')}\n{query};")
    return "\n".join(parts)
