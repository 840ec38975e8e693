"""How a write stages its files: partitions cut from one sort (and gathered on the
encoding threads), twins brought level with only what the write needs, users' files kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from ittybit_frames.lake import INDEX, lock_lake
from ittybit_frames.lake._format import PROFILES, slices, sorted_rows, to_arrow
from ittybit_frames.lake._index import index_table
from ittybit_frames.lake._swap import exchange_dirs, marker, reconcile
from ittybit_frames.lake._write import write_locked
from ittybit_frames.schema import TASKS
from tests.test_lake_safety import CHANGE, NEW, OLD, frames_of, healthy, ids_of
from tests.test_lake_safety import no_exchange as per_file

DAY = 86_400_000
KEYS = ["job_created_at", "job_id", "task_index"]


def shuffled_tasks(seed: int, n: int = 3000) -> pa.Table:
    """Tasks in no order: ties on every key, null times and IDs, six days."""
    rng = np.random.default_rng(seed)
    created = 1_790_000_000_000 + rng.integers(0, 6, n) * DAY + rng.integers(0, 3, n) * 1000
    table = pa.table(
        {
            "job_created_at": pa.array(
                [None if rng.random() < 0.05 else int(c) for c in created],
                pa.timestamp("ms", tz="UTC"),
            ),
            "job_id": [
                None if rng.random() < 0.02 else f"job_{rng.integers(0, 50)}" for _ in created
            ],
            "task_index": rng.integers(0, 3, n),
            "row": np.arange(n),  # tells equal keys apart: the sort must be stable
        }
    )
    return table


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partitions_are_cut_from_one_stable_sort(seed: int) -> None:
    table = shuffled_tasks(seed)
    expected = table.sort_by([(k, "ascending") for k in KEYS])
    assert sorted_rows(table, KEYS).table().equals(expected)
    parts = slices(table, "job_created_at", KEYS, "day")
    assert pa.concat_tables(p.table() for p in parts.values()).equals(expected)
    assert list(parts)[-1] == "__HIVE_DEFAULT_PARTITION__"  # no time: sorted last
    for label, part in parts.items():
        times = part.table()["job_created_at"].cast(pa.int64()).to_pylist()
        days = {None if t is None else t // DAY for t in times}
        assert len(days) == 1 and part.num_rows == len(times), label
    whole = slices(table, "job_created_at", KEYS, None)[None]
    assert whole.table().equals(expected)


def test_sorted_frames_are_sliced_and_others_taken() -> None:
    table = shuffled_tasks(0).sort_by([(k, "ascending") for k in KEYS])
    for part in slices(table, "job_created_at", KEYS, "day").values():
        assert part.run  # already in order: a zero-copy slice of the frames' table
    swapped = pa.concat_tables([table.slice(1, 1), table.slice(0, 1), table.slice(2)])
    first, *rest = slices(swapped, "job_created_at", KEYS, "day").values()
    assert not first.run and all(p.run for p in rest)
    assert first.table().equals(table.slice(0, first.num_rows))


def test_files_of_unsorted_frames_are_sorted(tmp_path: Path) -> None:
    frames = frames_of(CHANGE)
    shuffled = itf.JobFrames(
        frames.jobs.sample(frac=1, random_state=0),
        frames.tasks.sample(frac=1, random_state=0),
        frames.problems,
    )
    itf.write_parquet(shuffled, tmp_path, mode="overwrite")
    for file in sorted((tmp_path / "tasks").glob("created_date=*/part-0.parquet")):
        got = pq.read_table(file)
        assert got.equals(got.sort_by([(k, "ascending") for k in KEYS])), file
    expected = to_arrow(frames.tasks, TASKS, PROFILES["default"]).sort_by(
        [(k, "ascending") for k in KEYS]
    )
    read = pa.concat_tables(
        pq.read_table(f).replace_schema_metadata(None)
        for f in sorted((tmp_path / "tasks").glob("created_date=*/part-0.parquet"))
    )
    assert read.equals(expected.replace_schema_metadata(None))


def tree(folder: Path) -> dict[str, int]:
    """Every file below ``folder`` -> its inode."""
    return {
        str(p.relative_to(folder)): p.stat().st_ino
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def test_reconcile_links_what_its_scope_names(tmp_path: Path) -> None:
    live, shadow = tmp_path / "jobs", tmp_path / ".jobs.swap"
    for day in ("2026-09-21", "2026-09-22"):
        (live / f"created_date={day}").mkdir(parents=True)
        (live / f"created_date={day}" / "part-0.parquet").write_bytes(day.encode())
    (live / "notes.txt").write_text("mine")
    (live / "created_date=2026-09-21" / "mine.csv").write_text("mine too")
    users = {"notes.txt", "created_date=2026-09-21/mine.csv"}
    reconcile(live, shadow, "users")  # an overwrite: only the users' files
    assert tree(shadow) == {rel: ino for rel, ino in tree(live).items() if rel in users}
    reconcile(live, shadow)  # a merge: the whole table
    assert tree(shadow) == tree(live)
    # A dead writer's files, then a recovering writer: they go, nothing is linked anew.
    (shadow / "created_date=2026-09-22" / "part-0.parquet").unlink()
    (shadow / "created_date=2026-09-22" / "part-0.parquet").write_bytes(b"dead writer's")
    (shadow / "created_date=2030-01-01").mkdir()
    (shadow / "created_date=2030-01-01" / "part-0.parquet").write_bytes(b"dead writer's")
    (shadow / "created_date=2026-09-21" / "part-0.parquet").unlink()
    reconcile(live, shadow, "held")
    held = {
        "notes.txt",
        "created_date=2026-09-21/mine.csv",
        "created_date=2026-09-22/part-0.parquet",
    }
    assert tree(shadow) == {rel: ino for rel, ino in tree(live).items() if rel in held}
    assert not (shadow / "created_date=2030-01-01").exists()


def twin_data(lake: Path) -> list[str]:
    return sorted(
        str(p.relative_to(lake))
        for t in ("jobs", "tasks")
        for p in (lake / f".{t}.swap").rglob("*.parquet")
    )


def test_taking_the_lock_links_nothing_into_the_twins(tmp_path: Path) -> None:
    """After an overwrite the twins hold no data; a writer taking the lock leaves them
    so (before, every writer linked the whole lake into them on acquisition)."""
    itf.write_parquet(frames_of(OLD), tmp_path)
    itf.write_parquet(frames_of(OLD), tmp_path, mode="overwrite")
    assert (tmp_path / ".jobs.swap").is_dir() and twin_data(tmp_path) == []
    with lock_lake(tmp_path):
        assert twin_data(tmp_path) == []
    itf.write_parquet(frames_of(NEW), tmp_path, mode="overwrite")
    assert twin_data(tmp_path) == []
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # a merge links the table, as ever
    assert set(itf.read_parquet(tmp_path).jobs["job_id"]) == ids_of(NEW) | ids_of(CHANGE)
    healthy(tmp_path)


@pytest.mark.parametrize("exchange", [exchange_dirs, per_file], ids=["exchange", "per-file"])
def test_an_overwrite_stages_only_new_files_and_keeps_users_files(
    tmp_path: Path, exchange: Any
) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # the twins hold links of the table
    old_files = {p.stat().st_ino for p in (tmp_path / "jobs").rglob("part-0.parquet")}
    parts = sorted((tmp_path / "jobs").glob("created_date=*"))
    mine = [tmp_path / "jobs" / "notes.txt", parts[0] / "mine.csv", parts[5] / "mine.csv"]
    for file in mine:
        file.write_text("mine")
    staged: list[set[int]] = []

    def look(step: str) -> None:
        if step == "staged":
            staged.append(
                {p.stat().st_ino for p in (tmp_path / ".jobs.swap").rglob("part-0.parquet")}
            )

    with lock_lake(tmp_path):
        write_locked(frames_of(NEW), tmp_path, "overwrite", "day", "default", look, exchange)
    assert staged and not staged[0] & old_files  # no old partition file in the new table
    assert set(itf.read_parquet(tmp_path).jobs["job_id"]) == ids_of(NEW)
    for file in mine:  # in a partition the overwrite rewrote, or removed, or the table
        assert file.read_text() == "mine", file
    assert all(os.path.exists(f) for f in mine)


@pytest.mark.parametrize("partition_by", ["day", None])
def test_an_overwrite_stages_an_index_of_the_table_it_swaps_in(
    tmp_path: Path, partition_by: str | None
) -> None:
    """The index is staged while the partitions encode, for the jobs/ the write will swap
    in; a merge trusts it (an index of another jobs/ would be rebuilt from every file)."""
    for frames in (OLD, NEW):  # into a new folder, then over it
        itf.write_parquet(frames_of(frames), tmp_path, mode="overwrite", partition_by=partition_by)
        assert index_table(tmp_path) == marker(tmp_path / "jobs")
        index = pq.read_table(tmp_path / INDEX)
        assert sorted(index["job_id"].to_pylist()) == sorted(ids_of(frames))
    itf.write_parquet(frames_of(CHANGE), tmp_path, partition_by=partition_by)
    assert set(itf.read_parquet(tmp_path).jobs["job_id"]) == ids_of(NEW) | ids_of(CHANGE)
    healthy(tmp_path)
