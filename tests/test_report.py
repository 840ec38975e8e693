"""The HTML + PNG report, from frames and from a lake."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main

PNGS = {
    "throughput",
    "backlog",
    "incidents",
    "latency",
    "durations",
    "failure_rate",
    "top_errors",
    "in_flight",
    "stage_breakdown",
}


def test_report_from_a_lake_is_self_contained(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    itf.to_frames(history).to_parquet(tmp_path / "lake")
    page = itf.report(tmp_path / "lake", tmp_path / "out")
    assert page == tmp_path / "out" / "report.html"
    files = {p.stem for p in (tmp_path / "out").glob("*.png")}
    assert files == PNGS
    text = page.read_text()
    images = re.findall(r"src='data:image/png;base64,([^']+)'", text)
    assert len(images) == len(PNGS)
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "Generated" in text and "Jobs created" in text and "Data problems" in text
    assert "<url>" not in text  # masked errors are escaped HTML
    assert "&lt;url&gt;" in text or "&lt;id&gt;" in text
    assert "http://" not in text.split("<body>")[1].split("<img")[0]  # no external assets
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_report_window_and_problems(tmp_path: Path, history: list[dict[str, Any]]) -> None:
    records = [
        *history,
        {
            "id": "job_bad",
            "kind": "video",
            "status": "weird",
            "created_at": history[-1]["created_at"],
            "tasks": [],
        },
    ]
    frames = itf.to_frames(records)
    page = itf.report(frames, tmp_path, since=history[-1]["created_at"])
    text = page.read_text()
    assert "unknown status" in text
    assert "job_bad" in text


def test_cli_report(
    tmp_path: Path, history: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "sync" in capsys.readouterr().err
    itf.to_frames(history).to_parquet(tmp_path / "lake")
    assert main(["report", str(tmp_path / "lake"), "--out", str(tmp_path / "r"), "-q"]) == 0
    assert (tmp_path / "r" / "report.html").exists()


def test_customer_key_is_configurable(tmp_path: Path, history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history)
    page = itf.report(frames, tmp_path / "a").read_text()
    assert "By <code>metadata.customer_id</code>" in page and "cus_" in page
    other = itf.report(frames, tmp_path / "b", customer_key="source").read_text()
    assert "By <code>metadata.source</code>" in other and "upload" in other
    none = itf.report(frames, tmp_path / "c", customer_key="tenant").read_text()
    assert "No job has <code>metadata.tenant</code>" in none
