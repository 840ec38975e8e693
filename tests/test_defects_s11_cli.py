"""Session 11's CLI defects (noticed by session 10).

6. ``export --format csv --out LAKE`` wrote jobs.csv and tasks.csv into the lake's
   folder, which ``check`` then flagged. CSV cannot tell NA from "": NA is written as an
   empty field (and so is an empty text, which reads back as NA).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import generate_history, serve

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    with serve(generate_history(60, seed=9, end=END)) as sim:
        sim.stop_advancing()
        yield sim


@pytest.fixture
def env(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
    monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
    return api


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_csv_export_into_a_lake_is_refused_before_any_request(
    tmp_path: Path, env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["export", "--all", "--out", str(lake)]) == 0  # a parquet lake
    capsys.readouterr()
    files = sorted(p.relative_to(lake) for p in lake.rglob("*"))
    before = len(env.requests)
    code = main(["export", "--all", "--format", "csv", "--out", str(lake)])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "lake" in line and "--out" in line, line
    assert len(env.requests) == before
    assert sorted(p.relative_to(lake) for p in lake.rglob("*")) == files
    assert itf.check_lake(lake).healthy


def test_a_csv_round_trip_reads_na_back_as_na(
    tmp_path: Path, env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "csv"
    assert main(["export", "--all", "--format", "csv", "--out", str(out)]) == 0
    frames = itf.read_jobs(api_key=env.api_key, base_url=env.url, progress=False)
    jobs = pd.read_csv(out / "jobs.csv", dtype=str, keep_default_na=False, na_values=[""])
    mine = frames.jobs.set_index("job_id").loc[jobs["job_id"]]
    for column in ("error_message", "output_url", "error_kind", "metadata"):
        assert column in jobs.columns
        expected = mine[column].astype("string").replace("", pd.NA).isna().to_numpy()
        assert (jobs[column].isna().to_numpy() == expected).all(), column
    assert mine["error_message"].isna().any() and mine["error_message"].notna().any()
    # "NA", "null" or "None" as text stays text: only the empty field is NA.
    assert not jobs.isin(["<NA>", "nan", "NaN", "None"]).any().any()


# --------------------------------------------------------------------------------------
# 7. As a hurried user: the report written into the lake it reports on
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["lake", "lake/jobs/.."])
def test_a_report_into_a_lake_folder_is_refused_in_one_line(
    tmp_path: Path, env: Any, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """Why: ``report LAKE --out LAKE`` wrote report.html and its PNGs into the lake,
    which ``check`` then called unhealthy (10 files not the lake's)."""
    lake = tmp_path / "lake"
    assert main(["export", "--all", "--out", str(lake)]) == 0
    capsys.readouterr()
    files = sorted(p.relative_to(lake) for p in lake.rglob("*"))
    code = main(["report", str(lake), "--out", str(tmp_path / where)])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "is a Parquet lake" in line and "--out" in line, line
    assert sorted(p.relative_to(lake) for p in lake.rglob("*")) == files
    assert itf.check_lake(lake).healthy
