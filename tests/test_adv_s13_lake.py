"""Adversarial pass on session 13's lake changes: ``check --repair`` of a malformed sync
entry, and the lake's own layout kept by sync (a lake without its manifest included)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.lake import MANIFEST
from ittybit_frames.simulator import generate_history, serve
from tests import test_lake_remote
from tests.conftest import SECRET, fast_client
from tests.test_lake_remote import objects

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
FUTURE_MS = int(dt.datetime(2090, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def history() -> list[dict[str, Any]]:
    return generate_history(120, seed=23, days=3, end=END)


def _synced(lake: Path | str, history: list[dict[str, Any]], **options: Any) -> None:
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(lake, client=client, **options)


def _edit_sync(lake: Path, **entries: Any) -> None:
    manifest = json.loads((lake / MANIFEST).read_text())
    manifest["sync"] = {**manifest["sync"], **entries}
    (lake / MANIFEST).write_text(json.dumps(manifest))


def test_one_repair_mends_two_malformed_keys_and_a_frontier_past_the_lake(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    """``walks`` and ``padded_ids`` malformed at once, and a kind's frontier past the
    lake's newest job: one ``check --repair`` leaves a healthy lake (the frontier check
    was skipped while the entry was malformed, so a second repair was needed)."""
    _synced(tmp_path, history)
    _edit_sync(tmp_path, walks=[], padded_ids={"job_x": 7}, frontiers={"*": FUTURE_MS})
    first = itf.check_lake(tmp_path, repair=True)
    assert any("sync.walks" in r and "sync.padded_ids" in r for r in first.repaired), first
    assert first.problems == [], first.problems
    state = json.loads((tmp_path / MANIFEST).read_text())["sync"]
    assert "walks" not in state and "padded_ids" not in state
    assert state["frontiers"]["*"] < FUTURE_MS


@pytest.mark.parametrize("since", ["yesterday", [1], 12.5], ids=["word", "list", "number"])
def test_a_malformed_sync_since_is_found_by_check_and_removed_by_repair(
    tmp_path: Path, history: list[dict[str, Any]], since: Any
) -> None:
    """``sync.since`` edited by hand into no time: every sync then fails (the key is
    named); ``check`` called the lake healthy and ``--repair`` left the key, though it
    removes every other malformed key of the entry."""
    _synced(tmp_path, history)
    _edit_sync(tmp_path, since=since)
    with pytest.raises(itf.errors.ConfigurationError, match=r"sync\.since"):
        _synced(tmp_path, history)
    found = itf.check_lake(tmp_path)
    assert any("sync.since" in p for p in found.problems), found.problems
    repaired = itf.check_lake(tmp_path, repair=True)
    assert repaired.healthy, repaired.problems
    _synced(tmp_path, history)  # syncs again


@pytest.mark.parametrize("profile", ["bigquery", "athena"])
def test_a_lake_whose_manifest_was_lost_takes_its_own_profile_again(
    tmp_path: Path, history: list[dict[str, Any]], profile: str
) -> None:
    """A bigquery (or athena) lake whose manifest was lost: its files are those of the
    spark profile (snappy, plain strings), the only one the files tell apart from the
    default. The user's usual ``sync --profile bigquery`` was refused ("uses profile
    'spark', not 'bigquery'"), a profile they never chose; it is taken, the files being
    alike."""
    _synced(tmp_path, history[:60], profile=profile)
    (tmp_path / MANIFEST).unlink()
    _synced(tmp_path, history, profile=profile)
    assert json.loads((tmp_path / MANIFEST).read_text())["profile"] == profile
    _holds_all_and_is_healthy(tmp_path, history)


def test_a_lake_whose_manifest_was_lost_still_refuses_another_encoding(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    """The same lake, a default-profile sync into it: the files would mix encodings."""
    _synced(tmp_path, history[:60], profile="bigquery")
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(itf.errors.ConfigurationError, match="profile"):
        _synced(tmp_path, history, profile="default")


def _holds_all_and_is_healthy(lake: Path | str, history: list[dict[str, Any]]) -> None:
    assert len(itf.read_parquet(lake).jobs) == len(history)
    check = itf.check_lake(lake)
    assert check.healthy, check.problems


def _flat_remote_without_manifest(url: str, history: list[dict[str, Any]]) -> None:
    import fsspec

    itf.write_parquet(itf.to_frames(history[:60]), url, partition_by=None)
    fs, path = fsspec.core.url_to_fs(url)
    fs.rm(f"{path}/{MANIFEST}")
    assert MANIFEST not in objects(url)


def test_a_remote_flat_lake_without_manifest_is_synced_flat(
    s3_lake: str, history: list[dict[str, Any]]
) -> None:
    """An unpartitioned lake on S3 whose manifest was lost: the sync keeps it flat."""
    _flat_remote_without_manifest(s3_lake, history)
    _synced(s3_lake, history)
    assert not [k for k in objects(s3_lake) if k.startswith("jobs/created_date=")]
    _holds_all_and_is_healthy(s3_lake, history)


def test_write_parquet_refuses_day_partitions_into_a_remote_flat_lake_without_manifest(
    s3_lake: str, history: list[dict[str, Any]]
) -> None:
    _flat_remote_without_manifest(s3_lake, history)
    with pytest.raises(itf.errors.ConfigurationError, match="partition"):
        itf.write_parquet(itf.to_frames(history[60:]), s3_lake)


@pytest.mark.parametrize(
    "layout",
    [{"partition_by": None}, {"profile": "spark"}, {"partition_by": None, "profile": "athena"}],
    ids=["flat", "spark", "flat-athena"],
)
def test_a_lake_without_manifest_keeps_its_layout_past_a_sync_that_wrote_nothing(
    tmp_path: Path, history: list[dict[str, Any]], layout: dict[str, Any]
) -> None:
    """A lake without its manifest, synced when the API has nothing new: the sync saved
    its state in a new manifest of the ``sync`` entry only, which reads as a default,
    day-partitioned lake. The next sync then wrote day partitions (or default-profile
    files) beside the lake's own, and ``check`` called every flat job misplaced."""
    older, newer = history[:60], history
    itf.write_parquet(itf.to_frames(older), tmp_path, **layout)
    (tmp_path / MANIFEST).unlink()
    profile = layout.get("profile")
    _synced(tmp_path, older, profile=profile)  # nothing new: only the sync state written
    _synced(tmp_path, newer, profile=profile)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest.get("partition_by", "day") == layout.get("partition_by", "day")
    assert manifest.get("profile", "default") == layout.get("profile", "default")
    if "partition_by" in layout:
        assert not (tmp_path / "jobs").exists()
    assert len(itf.read_parquet(tmp_path).jobs) == len(newer)
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems
