"""The ittybit-frames command, run through main() against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import serve


def test_demo_leaves_a_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--out", str(tmp_path), "--jobs", "300", "--json", "-q"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["jobs"] == 300
    frames = itf.read_parquet(tmp_path / "lake")
    assert len(frames.jobs) == 300 and frames.jobs["job_id"].is_unique
    assert len(frames.tasks) == 1200
    page = Path(summary["report"])
    assert page == tmp_path / "report" / "report.html" and page.stat().st_size > 10_000
    assert len(list(page.parent.glob("*.png"))) == 9  # backlog and incidents joined them


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


@pytest.fixture
def served(history: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with serve(history) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        yield api


def test_export_by_ids_reports_failures(
    tmp_path: Path, served: Any, history: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [j["id"] for j in history[:5]]
    code = main(
        ["export", "--out", str(tmp_path / "lake"), "--ids", *ids, "job_missing", "-q", "--json"]
    )
    assert code == 1
    captured = capsys.readouterr()
    assert "failed: job_missing" in captured.err
    assert json.loads(captured.out)["failures"] == 1
    assert sorted(itf.read_parquet(tmp_path / "lake").jobs["job_id"]) == sorted(ids)


def test_export_formats_and_filters(
    tmp_path: Path, served: Any, history: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("# wanted\n" + "\n".join(j["id"] for j in history[:30]) + "\n\n")
    assert (
        main(
            [
                "export",
                "--out",
                str(tmp_path / "csv"),
                "--ids-file",
                str(ids_file),
                "--format",
                "csv",
                "--status",
                "succeeded",
                "-q",
            ]
        )
        == 0
    )
    jobs_csv = pd.read_csv(tmp_path / "csv" / "jobs.csv")
    assert set(jobs_csv["status"]) == {"succeeded"}
    assert len(jobs_csv) == sum(j["status"] == "succeeded" for j in history[:30])
    assert (
        main(
            [
                "export",
                "--out",
                str(tmp_path / "audio.ndjson"),
                "--all",
                "--kind",
                "audio",
                "--format",
                "ndjson",
                "-q",
            ]
        )
        == 0
    )
    lines = (tmp_path / "audio.ndjson").read_text().splitlines()
    assert len(lines) == sum(j["kind"] == "audio" for j in history)
    capsys.readouterr()
    assert (
        main(["export", "--out", "-", "--ids", history[0]["id"], "--format", "ndjson", "-q"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["id"] == history[0]["id"]


def test_bad_arguments_exit_2(
    tmp_path: Path, served: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--ids", "job_1"]) == 2  # no --out
    assert main(["export", "--out", "x", "--ids", "a", "--all"]) == 2
    assert main(["export", "--out", "x", "--all", "--format", "xls"]) == 2
    assert main(["export", "--out", "-", "--all"]) == 2  # stdout only for ndjson
    assert main(["export", "--out", "x", "--ids-file", str(tmp_path / "none.txt")]) == 2
    assert main(["sync", str(tmp_path), "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "7d" in err


def test_missing_key_and_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ITTYBIT_API_KEY", raising=False)
    assert main(["export", "--out", str(tmp_path / "x"), "--all"]) == 2
    err = capsys.readouterr().err
    assert "ITTYBIT_API_KEY" in err and len(err.strip().splitlines()) == 1
    # A command-line user cannot "pass api_key= to the client": the line says what to do
    # in a shell, and that the demo needs no key.
    assert "api_key=" not in err and "ittybit-frames demo" in err
    monkeypatch.setenv("ITTYBIT_API_KEY", "  ")
    assert main(["sync", str(tmp_path / "lake")]) == 2
    assert "ITTYBIT_API_KEY is empty" in capsys.readouterr().err
    monkeypatch.setenv("ITTYBIT_API_KEY", "k")
    code = main(
        [
            "sync",
            str(tmp_path / "lake"),
            "--base-url",
            "http://127.0.0.1:9",
            "--max-attempts",
            "1",
            "-q",
        ]
    )
    assert code == 1
    assert "ITTYBIT_BASE_URL" in capsys.readouterr().err


def test_ctrl_c_leaves_a_consistent_lake(tmp_path: Path) -> None:
    import signal
    import time

    from ittybit_frames.simulator import generate_history
    from tests.conftest import cli_sync

    with serve(generate_history(3000, seed=12), latency=0.02) as api:
        proc = cli_sync(tmp_path / "lake", api, "--concurrency", "2")
        deadline = time.monotonic() + 60
        while not (tmp_path / "lake" / "_ittybit_frames.json").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)  # polling for a file, not waiting for luck
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err.decode()
    assert "run the same command again to resume" in err.decode()
    frames = itf.read_parquet(tmp_path / "lake")
    assert len(frames.jobs) >= 100 and frames.jobs["job_id"].is_unique
