"""Adversarial pass over session 12's CLI.

1. What ``sync`` says on a lake recording no bound, for a kind the listing does not
   filter (``other``) that a walk has marked (``sync.walked``): "other jobs are read from
   the whole history", where the sync stops at the mark (one listing request).
2. Typo hints for words in capitals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import MANIFEST
from tests.test_defects_s11_cli import api, env, one_line

__all__ = ["api", "env"]  # the simulator and its environment, as session 11's CLI tests


def _listing_requests(api: Any, start: int) -> int:
    return sum(1 for r in api.requests[start:] if r.path.rstrip("/") == "/jobs")


@pytest.fixture
def marked(env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A lake synced from 20 days back, then with --kind other (none of its jobs)."""
    root = tmp_path / "lake"
    assert main(["sync", str(root), "-q", "--since", "20d"]) == 0
    assert main(["sync", str(root), "-q", "--kind", "other"]) == 0
    assert "other" in json.loads((root / MANIFEST).read_text())["sync"]["walked"]
    capsys.readouterr()
    return root


def test_a_marked_kind_on_a_lake_without_a_bound_is_not_said_to_be_read_whole(
    marked: Path, env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((marked / MANIFEST).read_text())
    del manifest["sync"]["since"]  # as an older version left it
    (marked / MANIFEST).write_text(json.dumps(manifest))
    start = len(env.requests)
    assert main(["sync", str(marked), "-q", "--kind", "other"]) == 0
    assert _listing_requests(env, start) == 1
    assert capsys.readouterr().err.strip() == ""


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["SYNC", "lake"], "did you mean sync?"),
        (["EXPORT", "--all", "--out", "x"], "did you mean export?"),
        (["export", "--all", "--out", "x", "--FORMAT", "csv"], "did you mean --format?"),
        (["sync", "lake", "--KIND", "other"], "did you mean --kind?"),
        (["sync", "lake", "--BATCH-JOBS", "5"], "did you mean --batch-jobs?"),
    ],
)
def test_a_typo_in_capitals_gets_the_hint_its_lower_case_gets(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], hint: str
) -> None:
    """Choice options take words in any case (session 12); a command or an option name
    written in capitals got no "did you mean" (difflib compares case), where 'Sync' and
    '--Kind' got one."""
    start = len(env.requests)
    assert main(argv) == 2
    line = one_line(capsys.readouterr().err)
    assert hint in line, line
    assert len(env.requests) == start


@pytest.mark.parametrize("where", ["jobs.ndjson", "jobs/x.ndjson", "more/x.ndjson"])
def test_an_ndjson_export_into_a_lake_is_refused_before_any_request(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """Session 11 refused a report, CSV files or a lake inside a lake (check then called
    the lake unhealthy: "not the lake's (ignored)"); an NDJSON file there was written."""
    lake = tmp_path / "lake"
    assert main(["sync", str(lake), "-q"]) == 0
    capsys.readouterr()
    start = len(env.requests)
    argv = ["export", "--all", "--format", "ndjson", "--out", str(lake / where)]
    assert main(argv) == 2
    line = one_line(capsys.readouterr().err)
    assert "inside the Parquet lake" in line and "--out" in line, line
    assert len(env.requests) == start
    report = itf.check_lake(lake)
    assert report.healthy, report.problems


def test_a_png_inside_a_lake_is_refused(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["sync", str(lake), "-q"]) == 0
    job = str(itf.read_parquet(lake).jobs["job_id"].iloc[0])
    capsys.readouterr()
    assert main(["show", job, "--lake", str(lake), "--png", str(lake / "t.png")]) == 2
    line = one_line(capsys.readouterr().err)
    assert "inside the Parquet lake" in line and "--png" in line, line
    report = itf.check_lake(lake)
    assert report.healthy, report.problems
