"""``sync``, ``report``, ``info``, ``check`` and ``export`` on an S3 lake URL (moto's server
on 127.0.0.1), against the simulator: the same lake as a sync into a folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve
from tests import test_lake_remote
from tests.frames_equal import assert_frame_equal
from tests.test_lake_remote import S3_SECRET, objects

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake


@pytest.fixture
def small_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorAPI]:
    """The simulator with 60 jobs over 3 days (few partitions: few requests to S3)."""
    end = dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC)
    with serve(generate_history(60, seed=3, days=3, end=end)) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        yield api


def test_sync_then_report_info_and_check_on_s3(
    s3_lake: str,
    small_api: SimulatorAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sync", s3_lake, "--json"]) == 0
    synced = json.loads(capsys.readouterr().out)
    assert synced["new_jobs"] == synced["lake_jobs"] == 60
    assert main(["sync", str(tmp_path / "local"), "--json"]) == 0  # the same, into a folder
    capsys.readouterr()
    remote, local = itf.read_parquet(s3_lake), itf.read_parquet(tmp_path / "local")
    assert_frame_equal(remote.jobs, local.jobs)
    assert_frame_equal(remote.tasks, local.tasks)
    assert itf.lake.read_manifest(s3_lake)["sync"]["frontiers"]  # the sync state is kept

    assert main(["sync", s3_lake, "--json"]) == 0  # nothing new: nothing rewritten
    again = json.loads(capsys.readouterr().out)
    assert again["new_jobs"] == 0 and again["lake_jobs"] == 60

    assert main(["report", s3_lake, "--out", str(tmp_path / "report"), "--json"]) == 0
    page = Path(json.loads(capsys.readouterr().out)["report"])
    assert page.name == "report.html" and page.stat().st_size > 10_000

    assert main(["info", s3_lake, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["lake"] == s3_lake and info["jobs"] == 60 and info["partitions"] >= 3
    assert info["files"] == len(objects(s3_lake)) and info["size_bytes"] > 0

    assert main(["check", s3_lake, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["healthy"] is True


def test_export_into_s3_and_mistakes_are_one_line(
    s3_lake: str, small_api: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--all", "--out", s3_lake, "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["out"] == s3_lake and exported["jobs"] == 60
    assert len(itf.read_parquet(s3_lake).jobs) == exported["jobs"]
    bucket = s3_lake.removeprefix("s3://").split("/")[0]
    assert main(["report", f"s3://{bucket}/nothing", "--out", "x"]) == 2
    assert main(["check", f"s3://key:{S3_SECRET}@{bucket}/lake"]) == 2
    said = capsys.readouterr()
    assert "no lake at s3://" in said.err and "carries no credentials" in said.err
    assert S3_SECRET not in said.err + said.out
    assert "Traceback" not in said.err


def test_no_credentials_is_one_line_exit_2(s3_lake: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    done = subprocess.run(
        [sys.executable, "-m", "ittybit_frames.cli", "check", s3_lake],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Unable to locate credentials" in done.stderr
