"""The lake against an adversary: hostile journals and twins, a lock file deleted while
held, user files dropped mid-write, copies of a lake, odd paths, three writers, readers
racing a writer, kills during recovery and during ``check --repair``, a full disk.

Helpers (small job sets, child writers, DuckDB through the README's glob) come from
:mod:`tests.test_lake_safety`; children run in a forkserver pool and synchronise with
events, never with sleeps.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.lake import JOURNAL, MANIFEST, lock_lake, read_manifest
from ittybit_frames.lake._format import LOCK
from tests.test_lake_safety import (
    CHANGE,
    NEW,
    OLD,
    duck,
    frames_of,
    healthy,
    ids_of,
    spec,
    start,
)


@pytest.fixture(scope="module")
def ctx() -> Any:
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["ittybit_frames", "tests.test_lake_adversarial"])
    return context


def files_below(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def lake_state(lake: Path) -> tuple[set[str], int]:
    frames = itf.read_parquet(lake)
    assert frames.jobs["job_id"].is_unique
    return set(frames.jobs["job_id"]), len(frames.tasks)


# --------------------------------------------------------------------------------------
# Hostile journals: never followed outside the lake, never a traceback
# --------------------------------------------------------------------------------------
def test_a_journal_naming_files_outside_the_lake_is_not_followed(tmp_path: Path) -> None:
    lake, outside = tmp_path / "lake", tmp_path / "outside"
    itf.write_parquet(frames_of(OLD), lake)
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"precious")
    (outside / "part-0.parquet").write_bytes(b"precious too")
    victim = sorted((lake / "jobs").glob("created_date=*/part-0.parquet"))[0]
    shutil.copy(victim, outside / "evil.parquet")
    body = {
        "swaps": [["jobs", "deadbeef", ["../../outside", "../outside"]]],
        "renames": [
            ["../outside/evil.parquet", str(victim.relative_to(lake))],
            ["../outside/evil.parquet", "../outside/keep.txt"],
        ],
        "deletes": ["../outside/keep.txt", str(outside / "part-0.parquet")],
    }
    (lake / JOURNAL).write_bytes(orjson.dumps(body))
    before = files_below(outside)
    assert lake_state(lake)[0] == ids_of(OLD)  # a reader does not read outside either
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), lake)
    assert files_below(outside) == before
    assert lake_state(lake)[0] == ids_of(OLD) | {"job_z00000"}
    healthy(lake)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{trunc",
        b"[1, 2]",
        b"null",
        b'{"swaps": [1]}',
        b'{"swaps": [["jobs"]]}',
        b'{"swaps": "jobs"}',
        b'{"renames": "ab"}',
        b'{"renames": [[1, 2, 3]]}',
        b'{"deletes": 5}',
        b'{"deletes": [null]}',
        b'{"swaps": [["jobs", "t", "created_date=2026-09-21"]]}',
    ],
)
def test_a_malformed_journal_is_ignored_in_one_line(tmp_path: Path, body: bytes) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    (tmp_path / JOURNAL).write_bytes(body)
    assert lake_state(tmp_path)[0] == ids_of(OLD)
    report = itf.check_lake(tmp_path)
    assert isinstance(report.problems, list)
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path)
    assert lake_state(tmp_path)[0] == ids_of(OLD) | {"job_z00000"}
    healthy(tmp_path)
