"""The lake's write threads under attack: SIGKILL inside the background fsyncs, while
the staged index is written, while the swapped-out twin drops old files a few at a
time; a failing fsync in one thread; an overwrite, a merge, an overwrite, then kills.

Children run in a forkserver pool (helpers from :mod:`tests.test_lake_safety`) and die
at a named instant of their own code (a patched function kills its process), never at a
guessed moment; the parent only waits for them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.lake import INDEX, JOURNAL
from ittybit_frames.lake._commit import leftovers
from tests.test_lake_safety import (
    CHANGE,
    NEW,
    OLD,
    duck,
    duck_ids,
    frames_of,
    healthy,
    ids_of,
    spec,
)

#: 50 of CHANGE's moved jobs move again, 100 old jobs change in place, 30 are new.
MOVE = spec(
    {"prefix": "m", "n": 50, "days": 5, "shift": 40, "version": 2},
    {"prefix": "o", "n": 100, "days": 12, "version": 3},
    {"prefix": "r", "n": 30, "days": 3},
)


@pytest.fixture(scope="module")
def ctx() -> Any:
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["ittybit_frames", "tests.test_lake_threads"])
    return context


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def killing_writer(lake: str, mode: str, new: itf.JobFrames, where: str, nth: int) -> None:
    """Write ``new`` (the parent's frames_of, pickled) into ``lake``, killing this process
    at the ``nth`` call of ``where``:

    ``fsync``: a background fsync of a staged file (on its own thread), before it runs;
    ``index``: once the staged index file is written, before its fsync;
    ``settled``: every staged file fsynced and in place, before the twins are finished;
    ``drop``: the swapped-out twin dropping its old files (threads), before the nth;
    ``per-file``: without ``RENAME_EXCHANGE``, the table updated file by file removing
    its old partitions, before the nth.
    """
    from ittybit_frames.lake import _commit, _swap

    if where == "per-file":
        _swap._renameat2 = lambda: None  # type: ignore[assignment]
        where = "drop"

    calls = [0]
    guard = threading.Lock()
    applying = threading.Event()

    def count() -> bool:
        with guard:
            calls[0] += 1
            return calls[0] == nth

    real_fsync, real_drop = _commit.fsync_file, _swap.drop
    real_finish = _commit.Commit._finish_tables

    def fsync(path: Path) -> None:
        if where == "fsync" and count():
            _die()
        if where == "index" and path.name.startswith(f".{INDEX}.") and count():
            _die()
        real_fsync(path)

    def finish(self: Any) -> None:
        if where == "settled" and count():
            _die()
        real_finish(self)

    def drop(path: Path, top: Path) -> None:
        if where == "drop" and applying.is_set() and count():
            _die()
        real_drop(path, top)

    def step(name: str) -> None:
        if name == "applying":
            applying.set()

    _commit.fsync_file = fsync  # type: ignore[assignment]
    _commit.Commit._finish_tables = finish  # type: ignore[method-assign]
    _swap.drop = drop  # type: ignore[assignment]
    itf.write_parquet(new, lake, mode=mode, on_step=step)  # type: ignore[arg-type]
    os._exit(0)


def run_killed(ctx: Any, lake: Path, mode: str, new: dict[str, Any], where: str, nth: int) -> int:
    proc = ctx.Process(target=killing_writer, args=(str(lake), mode, frames_of(new), where, nth))
    proc.start()
    proc.join(120)
    return int(proc.exitcode)


def whole(lake: Path, *states: set[str], glob: bool = True) -> set[str]:
    """The lake reads as exactly one of ``states`` through read_parquet; DuckDB through the
    README's glob sees one row per job and one of them too (unless ``glob`` is False: a
    per-file swap killed midway). Returns read_parquet's."""
    frames = itf.read_parquet(lake)
    ids = set(frames.jobs["job_id"])
    assert frames.jobs["job_id"].is_unique and ids in states, len(ids)
    assert set(frames.tasks["job_id"]) == ids
    if glob:
        rows, distinct, _ = duck(lake)
        assert rows == distinct and duck_ids(lake) in states
    return ids


KILLS = [("fsync", 1), ("fsync", 6), ("index", 1), ("settled", 1), ("drop", 1), ("drop", 5)]
#: An overwrite removes old partitions: a per-file swap dies while removing them.
OVERWRITE_KILLS = [*KILLS, ("per-file", 2)]


@pytest.mark.parametrize(
    ("where", "nth"), OVERWRITE_KILLS, ids=[f"{w}-{n}" for w, n in OVERWRITE_KILLS]
)
def test_an_overwrite_after_a_merge_after_an_overwrite_killed_inside_its_threads(
    ctx: Any, tmp_path: Path, where: str, nth: int
) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path, mode="overwrite")
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # the twins hold links of every partition
    before = ids_of(OLD) | ids_of(CHANGE)
    assert run_killed(ctx, tmp_path, "overwrite", NEW, where, nth) == -signal.SIGKILL
    committed = where in ("drop", "per-file")
    assert (tmp_path / JOURNAL).exists() == committed
    now = whole(tmp_path, before, ids_of(NEW), glob=where != "per-file")
    assert now == (ids_of(NEW) if committed else before)
    # The next write, a merge moving jobs across days, trusts the index it finds: one
    # row per job, whatever the killed overwrite had staged.
    itf.write_parquet(frames_of(MOVE), tmp_path)
    assert whole(tmp_path, now | ids_of(MOVE)) == now | ids_of(MOVE)
    healthy(tmp_path)


@pytest.mark.parametrize(("where", "nth"), KILLS, ids=[f"{w}-{n}" for w, n in KILLS])
def test_a_merge_killed_inside_its_threads(ctx: Any, tmp_path: Path, where: str, nth: int) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    itf.write_parquet(frames_of(CHANGE), tmp_path)
    before = ids_of(OLD) | ids_of(CHANGE)
    assert run_killed(ctx, tmp_path, "merge", MOVE, where, nth) == -signal.SIGKILL
    committed = where == "drop"
    now = whole(tmp_path, before, before | ids_of(MOVE))
    assert now == (before | ids_of(MOVE) if committed else before)
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path, mode="overwrite")
    itf.write_parquet(frames_of(MOVE), tmp_path)
    assert whole(tmp_path, {"job_z00000"} | ids_of(MOVE)) == {"job_z00000"} | ids_of(MOVE)
    healthy(tmp_path)


def _fail_nth_fsync(monkeypatch: pytest.MonkeyPatch, nth: int) -> list[int]:
    """Make the ``nth`` background fsync raise EIO (on whichever thread runs it)."""
    from ittybit_frames.lake import _commit

    real = _commit.fsync_file
    calls = [0]
    guard = threading.Lock()

    def fsync(path: Path) -> None:
        with guard:
            calls[0] += 1
            mine = calls[0]
        if mine == nth:
            raise OSError(5, "Input/output error", str(path))
        real(path)

    monkeypatch.setattr(_commit, "fsync_file", fsync)
    return calls


@pytest.mark.parametrize("mode", ["overwrite", "merge"])
def test_a_failing_fsync_in_any_thread_aborts_the_write_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Fsyncs of the write fail in turn (the first and last three, and a spread between:
    partition files on the fsync threads, the index, the manifest last): the write
    raises, the lake is as it was and holds nothing of the write (check_lake healthy at
    once), the next writer is fine."""
    new = NEW if mode == "overwrite" else MOVE
    itf.write_parquet(frames_of(OLD), tmp_path)
    itf.write_parquet(frames_of(CHANGE), tmp_path)
    before = ids_of(OLD) | ids_of(CHANGE)
    with monkeypatch.context() as patch:
        total = _fail_nth_fsync(patch, 0)
        probe = tmp_path.parent / f"{tmp_path.name}-probe"
        itf.write_parquet(frames_of(OLD), probe)
        itf.write_parquet(frames_of(CHANGE), probe)
        total[0] = 0
        itf.write_parquet(frames_of(new), probe, mode=mode)  # type: ignore[arg-type]
        fsyncs = total[0]
    assert fsyncs > 10
    # The first and last three (the index and the manifest come last) and a spread
    # between: each position fails in a thread of its own; every one of them took 47 s.
    step = max(1, fsyncs // 6)
    picks = {1, 2, 3, fsyncs - 2, fsyncs - 1, fsyncs} | set(range(1, fsyncs + 1, step))
    for nth in sorted(picks):
        with monkeypatch.context() as patch:
            _fail_nth_fsync(patch, nth)
            with pytest.raises(OSError, match="Input/output error"):
                itf.write_parquet(frames_of(new), tmp_path, mode=mode)  # type: ignore[arg-type]
        assert whole(tmp_path, before) == before
        assert leftovers(tmp_path) == ([], []), nth
        for table in ("jobs", "tasks"):  # the twins hold no file of the aborted write
            twin = tmp_path / f".{table}.swap"
            for file in twin.rglob("*.parquet"):
                assert file.samefile(tmp_path / table / file.relative_to(twin)), (nth, file)
        report = itf.check_lake(tmp_path)
        assert report.healthy, (nth, report.problems)
    itf.write_parquet(frames_of(new), tmp_path, mode=mode)  # type: ignore[arg-type]
    expected = ids_of(new) if mode == "overwrite" else before | ids_of(new)
    assert whole(tmp_path, expected) == expected
    healthy(tmp_path)


# --------------------------------------------------------------------------------------
# A read-only partition (as another user: root's child drops to nobody)
# --------------------------------------------------------------------------------------
NOBODY = 65534


def nobody_writes(lake: str, out: Any) -> None:
    """As nobody: make the first partition read-only, then merge elsewhere (the table,
    read-only folder and all, is swapped out into the twin), merge into that partition,
    overwrite; report what happened."""
    seen: list[str] = []
    try:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        part = sorted((Path(lake) / "jobs").glob("created_date=*"))[0]
        (part / "part-0.parquet").chmod(0o444)
        part.chmod(0o555)
        elsewhere = spec({"prefix": "f", "n": 5, "days": 1, "shift": 60})
        into = spec({"prefix": "o", "n": 1, "days": 12, "version": 5})
        for name, frames, mode in (("elsewhere", elsewhere, "merge"), ("into", into, "merge")):
            itf.write_parquet(frames_of(frames), lake, mode=mode, lock_timeout=1)  # type: ignore[arg-type]
            seen.append(name)
        itf.write_parquet(frames_of(NEW), lake, mode="overwrite", lock_timeout=1)
        seen.append("overwrite")
    except (itf.IttybitError, OSError) as exc:
        seen.append(f"{type(exc).__name__}: {exc}")
    finally:
        out.put(seen)


def test_a_read_only_partition_swapped_into_a_twin_is_still_rewritten(ctx: Any) -> None:
    """A user made a partition read-only; once a merge swapped it out into the twin, the
    next merge into it failed with PermissionError on its own staging file."""
    import shutil
    import tempfile

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root, to act as another user (as one user, permissions are moot)")
    top = Path(tempfile.mkdtemp(prefix="lake-perm-"))
    try:
        top.chmod(0o755)
        lake = top / "lake"
        itf.write_parquet(frames_of(OLD), lake)
        itf.write_parquet(frames_of(CHANGE), lake)  # the twins exist
        for p in [lake, *lake.rglob("*")]:
            os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
        out = ctx.Queue()
        proc = ctx.Process(target=nobody_writes, args=(str(lake), out))
        proc.start()
        seen = out.get(timeout=120)
        proc.join(60)
        assert seen == ["elsewhere", "into", "overwrite"]
        assert whole(lake, ids_of(NEW)) == ids_of(NEW)
        healthy(lake)
    finally:
        shutil.rmtree(top)


# --------------------------------------------------------------------------------------
# Frames that hold a job twice (two sources concatenated by hand)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("newer_first", [False, True])
@pytest.mark.parametrize("mode", ["overwrite", "merge"])
def test_frames_holding_a_job_twice_on_two_days_write_one_row(
    tmp_path: Path, mode: str, newer_first: bool
) -> None:
    """An overwrite wrote both rows (the lake then held 50 jobs twice, its index not
    matching); a merge kept one job row but both versions' tasks."""
    import pandas as pd

    older = frames_of(spec({"prefix": "o", "n": 50, "days": 5}))
    newer = frames_of(spec({"prefix": "o", "n": 50, "days": 5, "shift": 7, "version": 1}))
    first, second = (newer, older) if newer_first else (older, newer)
    both = itf.JobFrames(
        pd.concat([first.jobs, second.jobs]),  # the index repeats too
        pd.concat([first.tasks, second.tasks]),
        first.problems,
    )
    if mode == "merge":
        itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path)
    itf.write_parquet(both, tmp_path, mode=mode)  # type: ignore[arg-type]
    expected = ids_of(spec({"prefix": "o", "n": 50})) | (
        set() if mode == "overwrite" else {"job_z00000"}
    )
    assert whole(tmp_path, expected) == expected
    back = itf.read_parquet(tmp_path)
    assert len(back.tasks) == len(expected)  # one task per job: the newer version's
    mine = back.jobs.set_index("job_id").loc[sorted(ids_of(spec({"prefix": "o", "n": 50})))]
    want = newer.jobs.set_index("job_id").loc[mine.index]
    assert (mine["updated_at"] == want["updated_at"]).all()
    tasks = back.tasks.set_index("job_id").loc[mine.index]
    assert (tasks["job_created_at"] == want["created_at"]).all()
    healthy(tmp_path)
