"""`info`, `show`, and the demo never mixing two histories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import read_manifest
from ittybit_frames.simulator import generate_history, serve


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    itf.write_parquet(itf.to_frames(generate_history(80, seed=21)), tmp_path / "lake")
    return tmp_path / "lake"


def test_info_summarises_a_lake(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = itf.read_parquet(lake)
    assert main(["info", str(lake), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["jobs"] == 80 and info["tasks"] == len(frames.tasks)
    assert info["jobs_by_status"] == {
        k: int(v) for k, v in frames.jobs["status"].astype(str).value_counts().items() if v
    }
    assert sum(info["jobs_by_kind"].values()) == 80
    assert sum(info["tasks_by_kind"].values()) == len(frames.tasks)
    days = sorted(frames.jobs["created_at"].dt.strftime("%Y-%m-%d").unique())
    assert info["partitions"] == len(days)
    assert (info["first_partition"], info["last_partition"]) == (days[0], days[-1])
    assert info["first_created_at"] == frames.jobs["created_at"].min().isoformat()
    on_disk = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file())
    assert info["size_bytes"] == on_disk > 0
    assert info["schema_version"] == read_manifest(lake)["schema_version"]
    assert info["synced_up_to"] == {} and info["sync_interrupted"] is False


def test_info_text_and_sync_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(generate_history(30, seed=22)) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        assert main(["sync", str(tmp_path / "lake"), "-q"]) == 0
    newest = itf.read_parquet(tmp_path / "lake").jobs["created_at"].max()
    assert main(["info", str(tmp_path / "lake")]) == 0
    out = capsys.readouterr().out
    assert "jobs:        30 (" in out
    assert f"newest job seen all kinds: {newest.isoformat()}" in out
    assert "last sync:   20" in out and ": 30 new, 0 updated, 0 re-read, 0 failures, " in out
    assert main(["info", str(tmp_path / "lake"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["synced_up_to"] == {"all kinds": newest.isoformat()}
    assert info["last_sync"]["new_jobs"] == 30 and info["last_sync"]["requests"] >= 1
    # The twins of the lake's tables are hard links: the size counts each file once.
    on_disk = {
        (p.stat().st_ino): p.stat().st_size for p in (tmp_path / "lake").rglob("*") if p.is_file()
    }
    assert info["size_bytes"] == sum(on_disk.values())


def test_show_a_job_from_the_lake(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = itf.read_parquet(lake)
    failed = frames.jobs[frames.jobs["status"] == "failed"]["job_id"].iloc[0]
    tasks = frames.tasks[frames.tasks["job_id"] == failed]
    assert main(["show", failed, "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{failed}: ") and ", failed, " in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    assert len(lines) - header - 1 == len(tasks)
    message = tasks["error_message"].dropna().iloc[0]
    assert message in out
    assert main(["show", failed, "--lake", str(lake), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [t["task_id"] for t in shown["tasks"]] == list(tasks.sort_values("task_index").task_id)
    assert shown["job"]["status"] == "failed"


def test_show_an_unknown_job_is_exit_1(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "job_nope", "--lake", str(lake)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "no job job_nope" in line


def test_show_a_job_from_the_api_with_its_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "job.png"
    with serve(generate_history(10, seed=23)) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        job = api.jobs[0]
        assert main(["show", job["id"], "--png", str(png), "--json", "--base-url", api.url]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert main(["show", "job_missing", "--base-url", api.url]) == 1
    assert shown["job"]["job_id"] == job["id"] and len(shown["tasks"]) == len(job["tasks"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (line,) = capsys.readouterr().err.splitlines()
    assert "job_missing" in line and "Traceback" not in line


def test_demo_never_mixes_histories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--jobs", "40", "--seed", "1", "-q"]) == 0
    first = set(itf.read_parquet(out / "lake").jobs["job_id"])
    assert main(["demo", "--out", str(out), "--jobs", "40", "--seed", "2", "-q"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "--replace" in line
    assert set(itf.read_parquet(out / "lake").jobs["job_id"]) == first
    assert main(["demo", "--out", str(out), "--jobs", "30", "--seed", "2", "-q", "--replace"]) == 0
    second = itf.read_parquet(out / "lake").jobs
    assert len(second) == 30 and second["job_id"].is_unique
    (out / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(out), "--jobs", "30", "--replace", "-q"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and (out / "lake").is_dir()
