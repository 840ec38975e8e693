"""The ittybit-frames command, run through main() against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main


def test_demo_leaves_a_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--out", str(tmp_path), "--jobs", "300", "--json", "-q"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["jobs"] == 300
    frames = itf.read_parquet(tmp_path / "lake")
    assert len(frames.jobs) == 300 and frames.jobs["job_id"].is_unique
    assert len(frames.tasks) == 1200


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--jobs", "0"]) == 2
    assert main(["no-such-command"]) == 2
    assert "usage" in capsys.readouterr().err


def test_simulate_serves_until_stopped() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ittybit_frames.cli", "simulate", "--jobs", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        from ittybit_frames import Client

        with Client(info["api_key"], base_url=info["url"], progress=False) as client:
            assert len(list(client.iter_jobs())) == 50
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
