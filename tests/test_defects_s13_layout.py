"""Session 13: a sync (and an export into a lake) keeps the lake's own layout.

1. ``sync`` into a lake written with ``profile="spark"`` refused ("uses profile 'spark';
   keep it, or rewrite the lake with mode='overwrite'"), though its ``profile`` is
   documented as the profile "for a new lake"; so did ``export --out`` into such a lake.
2. ``sync`` into an unpartitioned lake (``write_parquet(..., partition_by=None)``)
   refused with "write with the same partition_by", an option the sync has not.
3. An unpartitioned lake without its manifest (an old writer's, or a manifest lost):
   ``check_lake`` called every job "in the wrong day partition", the ``check`` command
   said there was no lake at all, and a sync wrote day partitions beside the flat files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import MANIFEST
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def history() -> list[dict[str, Any]]:
    return generate_history(120, seed=13, end=END)


def _seed(lake: Path, history: list[dict[str, Any]], **options: Any) -> set[str]:
    frames = itf.to_frames(history[:60])
    itf.write_parquet(frames, lake, **options)
    return set(frames.jobs["job_id"])


def _kind_is_dictionary(lake: Path) -> bool:
    files = sorted(lake.rglob("*.parquet"))
    jobs = [f for f in files if f.relative_to(lake).parts[0] in ("jobs", "jobs.parquet")]
    return "dictionary" in str(pq.read_schema(jobs[0]).field("kind").type)


def test_a_sync_keeps_a_spark_lakes_profile(tmp_path: Path, history: list[dict]) -> None:
    lake = tmp_path / "lake"
    before = _seed(lake, history, profile="spark")
    assert not _kind_is_dictionary(lake)
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        report = itf.sync(lake, client=client)
        assert report.failures.empty
        with pytest.raises(itf.ConfigurationError, match="spark") as refused:
            itf.sync(lake, client=client, profile="default")  # asked for another: said so
    assert "\n" not in str(refused.value)
    jobs = itf.read_parquet(lake).jobs["job_id"]
    assert jobs.is_unique and before < set(jobs) and len(jobs) == len(history)
    assert not _kind_is_dictionary(lake)
    assert itf.check_lake(lake).healthy


@pytest.mark.parametrize("manifest", [True, False], ids=["with-manifest", "manifest-lost"])
def test_a_sync_keeps_an_unpartitioned_lake_flat(
    tmp_path: Path, history: list[dict], manifest: bool
) -> None:
    lake = tmp_path / "lake"
    before = _seed(lake, history, partition_by=None)
    if not manifest:
        (lake / MANIFEST).unlink()
        check = itf.check_lake(lake)
        assert check.healthy, check.problems
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        report = itf.sync(lake, client=client)
    assert report.failures.empty
    assert (lake / "jobs.parquet").is_file() and not (lake / "jobs").exists()
    jobs = itf.read_parquet(lake).jobs["job_id"]
    assert jobs.is_unique and before < set(jobs) and len(jobs) == len(history)
    check = itf.check_lake(lake)
    assert check.healthy, check.problems


def test_the_check_command_takes_an_unpartitioned_lake_without_manifest(
    tmp_path: Path, history: list[dict], capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    _seed(lake, history, partition_by=None)
    (lake / MANIFEST).unlink()
    assert main(["check", str(lake)]) == 0, capsys.readouterr().err
    assert main(["info", str(lake)]) == 0, capsys.readouterr().err


def test_export_into_a_spark_lake_keeps_its_profile(
    tmp_path: Path, history: list[dict], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    lake = tmp_path / "lake"
    before = _seed(lake, history, profile="spark")
    with serve(history, api_key=SECRET) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        code = main(["-q", "export", "--all", "--out", str(lake)])
        assert code == 0, capsys.readouterr().err
    jobs = itf.read_parquet(lake).jobs["job_id"]
    assert jobs.is_unique and before < set(jobs)
    assert not _kind_is_dictionary(lake)


def test_write_parquet_does_not_mix_day_partitions_into_a_flat_lake_without_manifest(
    tmp_path: Path, history: list[dict]
) -> None:
    lake = tmp_path / "lake"
    _seed(lake, history, partition_by=None)
    (lake / MANIFEST).unlink()
    with pytest.raises(itf.ConfigurationError, match="partition"):
        itf.write_parquet(itf.to_frames(history[60:]), lake)  # partition_by="day"
    assert not (lake / "jobs").exists()
    itf.write_parquet(itf.to_frames(history[60:]), lake, partition_by=None)
    assert len(itf.read_parquet(lake).jobs) == len(history)
    assert itf.check_lake(lake).healthy


def test_info_on_a_lake_without_manifest_says_so_and_shows_its_profile(
    tmp_path: Path, history: list[dict], capsys: pytest.CaptureFixture[str]
) -> None:
    """``info`` printed "version None (written by ittybit-frames None, profile None)"."""
    lake = tmp_path / "lake"
    _seed(lake, history, partition_by=None, profile="spark")
    (lake / MANIFEST).unlink()
    assert main(["info", str(lake)]) == 0
    text = capsys.readouterr().out
    assert "None" not in text, text
    assert "no manifest" in text and "spark" in text, text
