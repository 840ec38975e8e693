"""One failure-rate definition everywhere: the README's SQL, the report and the metrics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics, sql

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def readme_block(engine: str) -> str:
    found = re.search(
        rf"<!-- sql:{engine} -->\n```sql\n(.*?)\n```\n<!-- /sql:{engine} -->", README, re.S
    )
    assert found, f"the README has no generated {engine} SQL block"
    return found[1]


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_the_readme_sql_is_the_modules(engine: str) -> None:
    assert readme_block(engine) == sql.script("lake", engine)


def test_readme_report_and_metrics_give_one_failure_rate(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    lake = tmp_path / "lake"
    itf.to_frames(history).to_parquet(lake)
    text = readme_block("duckdb").replace("'lake/jobs/", f"'{lake.as_posix()}/jobs/")
    con = duckdb.connect()
    statements = [s.strip() for s in text.split(";\n") if s.strip()]
    results = {}
    for statement in statements:
        name = statement.splitlines()[0].removeprefix("-- ") if statement.startswith("--") else ""
        frame = con.execute(statement.rstrip(";")).fetchdf() if name else con.execute(statement)
        if name:
            results[name] = frame
    from_sql = results["failure rate"].set_index("kind")["failure_rate"].to_dict()
    from_metrics = (
        metrics.failure_rate(itf.read_parquet(lake).jobs)
        .set_index("kind")["failure_rate"]
        .to_dict()
    )
    assert from_sql.keys() == from_metrics.keys() and len(from_sql) >= 3
    for kind, rate in from_metrics.items():
        assert from_sql[kind] == pytest.approx(rate, abs=1e-12)
    page = itf.report(lake, tmp_path / "report").read_text(encoding="utf-8")
    for rate in from_metrics.values():
        assert f"{rate:.2%}" in page  # the report's failure table shows the same numbers
