"""The metric rules: stated once, consistent with the vocabulary and the schema."""

from __future__ import annotations

import doctest
import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ittybit_frames import metrics, rules, sql
from ittybit_frames.schema import JOBS, TASKS
from ittybit_frames.vocabulary import TERMINAL_STATUSES

PACKAGE = Path(rules.__file__).parent


def test_doctests() -> None:
    result = doctest.testmod(rules)
    assert result.attempted > 0
    assert result.failed == 0


def test_imports_without_pandas_numpy_pyarrow_or_pyspark() -> None:
    # The package's __init__ loads pandas; stand in an empty package to load rules alone.
    code = f"""
import sys, types
for name in ("pandas", "numpy", "pyarrow", "pyspark", "duckdb"):
    sys.modules[name] = None
package = types.ModuleType("ittybit_frames")
package.__path__ = [{str(PACKAGE)!r}]
sys.modules["ittybit_frames"] = package
import ittybit_frames.rules as rules
print(rules.FINISHED_STATUSES)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "('succeeded', 'failed', 'cancelled')"


def test_finished_statuses_are_the_terminal_ones() -> None:
    assert set(rules.FINISHED_STATUSES) == TERMINAL_STATUSES
    assert {o.status for o in rules.OUTCOMES} == TERMINAL_STATUSES


def test_every_finished_job_has_exactly_one_outcome() -> None:
    for status, task_failed in itertools.product(rules.FINISHED_STATUSES, (False, True)):
        matching = [
            o.name
            for o in rules.OUTCOMES
            if o.status == status and o.task_failed in (None, task_failed)
        ]
        assert len(matching) == 1, (status, task_failed, matching)


def test_the_cascade() -> None:
    by_name = {o.name: o for o in rules.OUTCOMES}
    assert rules.FAILURES == ("failed", "cancelled_by_failure")
    assert by_name["cancelled_by_failure"].task_failed is True
    assert by_name["cancelled_by_user"].task_failed is False
    assert not by_name["cancelled_by_user"].failure


def test_failure_rate_columns_are_what_pandas_returns() -> None:
    jobs = pd.DataFrame(
        {
            "status": ["succeeded", "failed", "cancelled", "cancelled", "queued"],
            "failed_task_count": pd.array([0, 1, 2, None, None], dtype="Int64"),
            "finished_at": pd.to_datetime(["2025-01-01"] * 5, utc=True),
        }
    )
    out = metrics.failure_rate(jobs, by=None)
    assert tuple(out.columns) == rules.FAILURE_RATE_COLUMNS
    assert out.iloc[0].to_dict() == {
        "finished": 4,
        "succeeded": 1,
        "failed": 1,
        "cancelled_by_failure": 1,
        "cancelled_by_user": 1,
        "failure_rate": 0.5,
    }


def test_durations_are_schema_columns_in_seconds() -> None:
    for table in (JOBS, TASKS):
        for name in rules.DURATIONS:
            assert table[name].unit == "seconds"
    assert set(rules.LATENCIES) <= set(rules.DURATIONS)
    assert rules.TOTAL_SECONDS in rules.DURATIONS


def test_percentile_names() -> None:
    assert [rules.percentile_name(q) for q in (0.5, 0.95, 0.99, 0.999)] == [
        "p50",
        "p95",
        "p99",
        "p99.9",
    ]


def test_sql_is_built_from_the_rules() -> None:
    in_list = ", ".join(f"'{s}'" for s in rules.FINISHED_STATUSES)
    assert f"WHERE status IN ({in_list})" in sql.FAILURE_RATE
    for outcome in rules.OUTCOMES:
        assert (f"AS {outcome.name}" in sql.FAILURE_RATE) == outcome.failure
    for column in rules.DURATIONS:
        stem = column.removesuffix("_seconds")
        for q in rules.SUMMARY_PERCENTILES:
            assert f"AS {stem}_{rules.percentile_name(q)}" in sql.DURATION_PERCENTILES
