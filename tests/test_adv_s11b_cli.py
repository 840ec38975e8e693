"""Session 11b's adversarial pass over the CLI's refusal to write files into a lake.

1. ``report LAKE --out LAKE/report`` (or ``export --format csv --out LAKE/csv``): a
   folder inside the lake's folder is not the lake's folder, so the refusal passed it by
   and ``check`` then called the lake unhealthy (``not the lake's (ignored): report``),
   which is what refusing the lake's own folder was for. The same through a symlink.
2. ``report LAKE --out s3://bucket/reports`` wrote the report to a local folder named
   ``s3:`` in the working directory, saying nothing: reports and CSV files are written
   to a local folder only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from tests.test_defects_s11_cli import api, env, one_line

__all__ = ["api", "env"]  # the simulator and its environment, as session 11's CLI tests


@pytest.fixture
def lake(env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "lake"
    assert main(["export", "--all", "--out", str(root)]) == 0
    capsys.readouterr()
    return root


def files_of(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*"))


@pytest.mark.parametrize("where", ["lake/report", "lake/jobs", "lake/a/b", "link/report"])
@pytest.mark.parametrize("command", ["report", "csv"])
def test_files_into_a_folder_inside_a_lake_are_refused_in_one_line(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, command: str
) -> None:
    os.symlink(lake, tmp_path / "link")
    files = files_of(lake)
    if command == "report":
        code = main(["report", str(lake), "--out", where])
    else:
        code = main(["export", "--all", "--format", "csv", "--out", where])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "lake" in line and "--out" in line, line
    assert files_of(lake) == files
    assert itf.check_lake(lake).healthy


@pytest.mark.parametrize("command", ["report", "csv"])
def test_files_to_an_s3_url_are_refused_in_one_line(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    before = sorted(tmp_path.iterdir())
    if command == "report":
        code = main(["report", str(lake), "--out", "s3://bucket/reports"])
    else:
        code = main(["export", "--all", "--format", "csv", "--out", "s3://bucket/csv"])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "s3://bucket/" in line and "local folder" in line, line
    assert sorted(tmp_path.iterdir()) == before  # no folder named s3:


@pytest.mark.parametrize("command", ["export", "sync"])
def test_a_lake_inside_a_lake_is_refused_in_one_line(
    lake: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """``export --out LAKE/more`` (or ``sync LAKE/more``) made a second lake inside the
    first, which ``check`` then called unhealthy (``not the lake's (ignored): more``)."""
    files = files_of(lake)
    if command == "export":
        code = main(["export", "--all", "--out", "lake/more"])
    else:
        code = main(["sync", "lake/more", "--quiet"])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "inside the Parquet lake" in line, line
    assert files_of(lake) == files
    assert itf.check_lake(lake).healthy
