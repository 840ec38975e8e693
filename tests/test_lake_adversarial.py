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
import tempfile
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


# --------------------------------------------------------------------------------------
# The lock
# --------------------------------------------------------------------------------------
def test_a_lock_file_deleted_while_held_still_keeps_a_second_writer_out(tmp_path: Path) -> None:
    with lock_lake(tmp_path):
        (tmp_path / LOCK).unlink()  # by hand, "a stale lock"
        with pytest.raises(itf.LakeLockedError), lock_lake(tmp_path, timeout=0.2):
            pass
    with lock_lake(tmp_path, timeout=0):  # released: free again
        pass


def test_the_same_lake_through_other_paths_shares_one_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    itf.write_parquet(frames_of(OLD), str(real) + "/")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for other in ("link", "link/", "./real", "real/../real"):
        with lock_lake(real), pytest.raises(itf.LakeLockedError), lock_lake(other, timeout=0):
            pass
    itf.write_parquet(frames_of(CHANGE), "link/")
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), Path("real"))
    assert (
        lake_state(real)[0]
        == lake_state(Path("link"))[0]
        == ids_of(OLD) | ids_of(CHANGE) | {"job_z00000"}
    )
    assert (tmp_path / "link").is_symlink()  # the link was never replaced by a folder
    healthy(real)


# --------------------------------------------------------------------------------------
# Files that are not the lake's
# --------------------------------------------------------------------------------------
def test_user_files_dropped_into_a_table_during_a_write_are_kept(tmp_path: Path) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    part = sorted((tmp_path / "jobs").glob("created_date=*"))[0].name
    dropped = {Path("jobs/notes.txt"), Path(f"jobs/{part}/mine.csv")}

    def drop_files(step: str) -> None:
        if step == "staged":  # between staging and the swap
            for rel in dropped:
                (tmp_path / rel).write_text("mine")

    itf.write_parquet(frames_of(CHANGE), tmp_path, on_step=drop_files)
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path)
    for rel in dropped:
        assert (tmp_path / rel).read_text() == "mine", rel
    assert lake_state(tmp_path)[0] == ids_of(OLD) | ids_of(CHANGE) | {"job_z00000"}


@pytest.mark.parametrize("kind", ["symlink", "file", "foreign-files"])
def test_a_stray_twin_never_costs_a_file_outside_the_lake(tmp_path: Path, kind: str) -> None:
    lake, outside = tmp_path / "lake", tmp_path / "outside"
    itf.write_parquet(frames_of(OLD), lake)
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"precious")
    (outside / "created_date=2026-09-21").mkdir()
    (outside / "created_date=2026-09-21" / "part-0.parquet").write_bytes(b"precious too")
    twin = lake / ".jobs.swap"
    shutil.rmtree(twin, ignore_errors=True)
    if kind == "symlink":
        twin.symlink_to(outside, target_is_directory=True)
    elif kind == "file":
        twin.write_bytes(b"not a folder")
    else:
        shutil.copytree(outside, twin)
    before = files_below(outside)
    if kind == "foreign-files":  # a hidden folder of ours: its contents are the lake's
        itf.write_parquet(frames_of(CHANGE), lake)
        assert lake_state(lake)[0] == ids_of(OLD) | ids_of(CHANGE)
        assert duck(lake)[:2] == (400, 400)
    else:  # refused in one line naming it, the lake as it was
        with pytest.raises(itf.LakeCorruptError, match=r"\.jobs\.swap is a") as info:
            itf.write_parquet(frames_of(CHANGE), lake)
        assert "\n" not in str(info.value)
        assert lake_state(lake)[0] == ids_of(OLD)
    assert files_below(outside) == before


def test_a_lake_from_a_newer_version_is_not_downgraded(tmp_path: Path) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    body = orjson.loads((tmp_path / MANIFEST).read_bytes())
    (tmp_path / MANIFEST).write_bytes(orjson.dumps({**body, "schema_version": 99}))
    before = files_below(tmp_path / "jobs")
    with pytest.raises(itf.LakeError, match=r"(?i)newer.*upgrade") as info:
        itf.write_parquet(frames_of(CHANGE), tmp_path)
    assert "\n" not in str(info.value) and MANIFEST in str(info.value)
    for repair in (False, True):  # check judges it by today's schema: it says upgrade
        with pytest.raises(itf.LakeError, match=r"(?i)newer.*upgrade"):
            itf.check_lake(tmp_path, repair=repair)
    assert files_below(tmp_path / "jobs") == before
    assert read_manifest(tmp_path)["schema_version"] == 99


@pytest.mark.parametrize("twins", [True, False], ids=["cp-r", "without-twins"])
def test_a_copied_lake_merges_without_touching_the_original(tmp_path: Path, twins: bool) -> None:
    src, copy = tmp_path / "src", tmp_path / "copy"
    itf.write_parquet(frames_of(OLD), src)
    itf.write_parquet(frames_of(CHANGE), src)  # the twins exist from now on
    ignore = None if twins else shutil.ignore_patterns(".*.swap")
    shutil.copytree(src, copy, symlinks=True, ignore=ignore)  # like cp -r: no hard links
    original = files_below(src / "jobs")
    itf.write_parquet(frames_of(NEW), copy)
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), copy)
    assert lake_state(copy)[0] == ids_of(OLD) | ids_of(CHANGE) | ids_of(NEW) | {"job_z00000"}
    assert files_below(src / "jobs") == original
    assert lake_state(src)[0] == ids_of(OLD) | ids_of(CHANGE)
    healthy(copy)
    healthy(src)


def test_bad_partition_folders_are_ignored_and_kept(tmp_path: Path) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    first = sorted((tmp_path / "jobs").glob("created_date=*/part-0.parquet"))[0]
    for name in ("created_date=2026-02-30", "created_date=", "created_date=2026-09-21 "):
        (tmp_path / "jobs" / name).mkdir()
        shutil.copy(first, tmp_path / "jobs" / name / "part-0.parquet")
    (tmp_path / "tasks" / "created_date=2026-09-22.parquet").write_bytes(b"a file")
    for mode in ("merge", "overwrite"):
        itf.write_parquet(frames_of(OLD), tmp_path, mode=mode)  # type: ignore[arg-type]
        assert lake_state(tmp_path)[0] == ids_of(OLD)
        # (A glob cannot tell 2026-02-30 from a date: DuckDB reads that copy; see report.)
        assert (tmp_path / "jobs" / "created_date=2026-02-30" / "part-0.parquet").exists()
        assert (tmp_path / "tasks" / "created_date=2026-09-22.parquet").exists()
    assert len(itf.check_lake(tmp_path).problems) == 4


# --------------------------------------------------------------------------------------
# Many processes: three writers, readers racing a writer
# --------------------------------------------------------------------------------------
def test_three_writers_at_once_lose_nothing(ctx: Any, tmp_path: Path) -> None:
    itf.write_parquet(frames_of(spec({"prefix": "a", "n": 1000, "days": 20})), tmp_path)
    go = ctx.Event()
    mine = {p: spec({"prefix": p, "n": 1000, "days": 20}) for p in ("b", "c", "d")}
    procs = {p: start(ctx, tmp_path, "merge", s, go=go) for p, s in mine.items()}
    for _, ready, _ in procs.values():
        assert ready.wait(60)
    go.set()
    for p, (proc, _, _) in procs.items():
        proc.join(120)
        assert proc.exitcode in (0, 3)
        if proc.exitcode == 3:  # LakeLockedError: a rerun completes the lake
            itf.write_parquet(frames_of(mine[p]), tmp_path)
    assert len(lake_state(tmp_path)[0]) == 4000
    assert duck(tmp_path) == (4000, 4000, 4000)
    healthy(tmp_path)


def looping_writer(lake: str, rounds: int, ready: Any, done: Any) -> None:
    """Merge ``rounds`` times: 20 new jobs each, and 50 old jobs moved to other days."""
    batches = [
        frames_of(
            spec(
                {"prefix": f"w{k:02d}-", "n": 20, "days": 4},
                {"prefix": "o", "n": 50, "days": 12, "version": k + 1, "shift": k % 7},
            )
        )
        for k in range(rounds)
    ]
    ready.set()
    for batch in batches:
        itf.write_parquet(batch, lake)
    done.set()


def test_readers_racing_a_writer_see_one_committed_state(ctx: Any, tmp_path: Path) -> None:
    """read_parquet and DuckDB (README glob) in a loop while another process merges.
    read_parquet: never a duplicate job ID, never an orphan task, never a count outside
    [old, new]. DuckDB (a glob is listed, then its files opened one by one, so a query
    can straddle a table swap and mix old and new partitions, as the lake docstring
    says): a job can be doubled or missed only if the write moved it to another day (the
    writer moves 50 "o" jobs a round; its new "w" jobs never move), and it may only fail
    with "file not found" (the glob matched a file a swap then removed)."""
    import duckdb

    itf.write_parquet(frames_of(OLD), tmp_path)
    rounds, moved = 12, 50
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=looping_writer, args=(str(tmp_path), rounds, ready, done))
    proc.start()
    assert ready.wait(60)
    reads, duck_reads, retried, doubled = 0, 0, [], set()
    first = sorted((tmp_path / "jobs").glob("created_date=*/part-0.parquet"))[0]
    src = f"{tmp_path}/jobs/created_date=[0-9_]*/part-0.parquet"
    with open(first, "rb") as held:
        while not done.is_set() or reads < 3:
            frames = itf.read_parquet(tmp_path)
            jobs = frames.jobs
            assert jobs["job_id"].is_unique
            assert set(frames.tasks["job_id"]) == set(jobs["job_id"])
            assert 300 <= len(jobs) <= 300 + 20 * rounds
            reads += 1
            try:
                counts = dict(
                    duckdb.sql(
                        f"SELECT job_id, count(*) FROM read_parquet('{src}') GROUP BY job_id"
                    ).fetchall()
                )
            except duckdb.IOException as exc:
                retried.append(str(exc))
                continue
            twice = {job for job, n in counts.items() if n > 1}
            assert all(n <= 2 for n in counts.values()), counts
            assert all(job.startswith("job_o") for job in twice), twice
            new_jobs = [job for job in counts if job.startswith("job_w")]
            assert len(new_jobs) <= 20 * rounds
            assert 300 - moved <= len(counts) - len(new_jobs) <= 300, len(counts)
            doubled |= twice
            duck_reads += 1
        proc.join(60)
        assert proc.exitcode == 0
        assert all("No such file" in e or "No files found" in e for e in retried), retried
        print(
            f"{reads} reads, {duck_reads} DuckDB reads, {len(retried)} DuckDB retries, "
            f"{len(doubled)} moved jobs seen twice by a straddling DuckDB query"
        )
        assert len(held.read()) > 0  # a file held open across the swaps stays whole
    assert len(lake_state(tmp_path)[0]) == 300 + 20 * rounds
    assert duck(tmp_path)[:2] == (300 + 20 * rounds, 300 + 20 * rounds)
    healthy(tmp_path)


# --------------------------------------------------------------------------------------
# A second kill during recovery; kills inside check --repair
# --------------------------------------------------------------------------------------
def recovering_writer(lake: str, exchanges: int | None) -> None:
    """Take the lock (which finishes an interrupted write), dying after ``exchanges``
    table swaps of that recovery (None: once it applied everything, journal left)."""
    from ittybit_frames.lake import _commit, _lock
    from ittybit_frames.lake._swap import exchange_dirs

    done = [0]

    def exchange(a: Path, b: Path) -> bool:
        if exchanges is not None and done[0] == exchanges:
            os.kill(os.getpid(), signal.SIGKILL)
        done[0] += 1
        return exchange_dirs(a, b)

    def step(name: str) -> None:
        if name == "applied":  # every swap done: die before the journal goes
            os.kill(os.getpid(), signal.SIGKILL)

    def recover(root: Path) -> list[str]:
        body = _commit._read_journal(root)
        assert body is not None
        _commit._apply(root, body, step, exchange)
        return []

    _lock.recover = recover  # type: ignore[assignment]
    with _lock.lock_lake(lake):
        pass
    os._exit(0)


@pytest.mark.parametrize("first", ["committed", "applying"])
@pytest.mark.parametrize("exchanges", [0, 1, None])
def test_a_second_kill_during_recovery(
    ctx: Any, tmp_path: Path, first: str, exchanges: int | None
) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # twins exist: swaps are exchanges
    more = spec({"prefix": "n", "n": 100, "days": 8, "version": 1}, {"prefix": "q", "n": 30})
    proc, ready, go = start(ctx, tmp_path, "merge", more, kill_at=first)
    assert ready.wait(60)
    go.set()
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL and (tmp_path / JOURNAL).exists()
    expected = ids_of(OLD) | ids_of(CHANGE) | ids_of(more)
    second = ctx.Process(target=recovering_writer, args=(str(tmp_path), exchanges))
    second.start()
    second.join(60)
    assert second.exitcode == -signal.SIGKILL  # killed while finishing the first write
    assert lake_state(tmp_path)[0] == expected  # read_parquet: the committed new state
    rows, distinct, _ = duck(tmp_path)
    assert rows == distinct and rows in (400, len(expected))
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path)
    assert lake_state(tmp_path)[0] == expected | {"job_z00000"}
    assert duck(tmp_path)[:2] == (len(expected) + 1, len(expected) + 1)
    healthy(tmp_path)


def repairer(lake: str, kill_at: str) -> None:
    """``check_lake(repair=True)``, dying at step ``kill_at`` of the rewrite it commits."""
    from ittybit_frames.lake import _commit

    def step(self: Any, name: str) -> None:
        if name == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    _commit.Commit._step = step  # type: ignore[method-assign]
    itf.check_lake(lake, repair=True)
    os._exit(0)


@pytest.mark.parametrize("kill_at", ["staged", "committed", "applying", "applied"])
def test_check_repair_killed_at_each_step(ctx: Any, tmp_path: Path, kill_at: str) -> None:
    itf.write_parquet(frames_of(OLD), tmp_path)
    dup = spec({"prefix": "o", "n": 30, "days": 12, "shift": 3})  # 30 jobs on other days
    itf.write_parquet(frames_of(dup), tmp_path, mode="append")
    assert not itf.check_lake(tmp_path).healthy
    proc = ctx.Process(target=repairer, args=(str(tmp_path), kill_at))
    proc.start()
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL
    frames = itf.read_parquet(tmp_path)  # the old state (330 rows) or the repaired one
    assert set(frames.jobs["job_id"]) == ids_of(OLD)
    assert len(frames.jobs) in (300, 330)
    rows, distinct, _ = duck(tmp_path)
    assert distinct == 300 and rows in (300, 330)
    report = itf.check_lake(tmp_path, repair=True)
    assert report.healthy, report.problems
    if kill_at == "applied":  # everything done but forgetting the journal: still found
        assert any("interrupted" in p for p in report.found), report.found
    assert lake_state(tmp_path)[0] == ids_of(OLD) and duck(tmp_path)[:2] == (300, 300)
    healthy(tmp_path)


# --------------------------------------------------------------------------------------
# A full disk
# --------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 2 MiB tmpfs (needs root; skipped where mounting is refused)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a small tmpfs was refused: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        # Lazy: a reader (DuckDB) may still hold a file there; pytest then removes the folder.
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("mode", ["merge", "overwrite"])
def test_a_full_disk_leaves_the_old_state_and_one_line(small_disk: Path, mode: str) -> None:
    lake = small_disk / "lake"
    itf.write_parquet(frames_of(OLD), lake)
    itf.write_parquet(frames_of(CHANGE), lake)  # twins exist
    before = files_below(lake / "jobs"), files_below(lake / "tasks")
    big = frames_of(spec({"prefix": "big", "n": 40_000, "days": 30}))
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:  # fill the disk but 64 KiB: the index and manifest fit
        free = shutil.disk_usage(small_disk).free
        fh.write(b"x" * max(0, free - 64 * 1024))
    with pytest.raises(OSError, match="No space left") as info:
        itf.write_parquet(big, lake, mode=mode)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert (files_below(lake / "jobs"), files_below(lake / "tasks")) == before
    assert lake_state(lake)[0] == ids_of(OLD) | ids_of(CHANGE)
    assert duck(lake)[:2] == (400, 400)
    filler.unlink()
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), lake)
    assert lake_state(lake)[0] == ids_of(OLD) | ids_of(CHANGE) | {"job_z00000"}
    healthy(lake)


def test_a_small_file_that_does_not_fit_leaves_no_temporary(small_disk: Path) -> None:
    """Why: write_bytes_atomic (manifest, journal) left its temporary file behind when
    its own write failed, on a full disk until a later writer cleaned it."""
    from ittybit_frames.lake import write_bytes_atomic

    target = small_disk / "lake" / MANIFEST
    write_bytes_atomic(target, b'{"old": true}')
    with pytest.raises(OSError, match="No space left"):
        write_bytes_atomic(target, b"x" * (4 * 2**20))  # twice the disk
    assert sorted(p.name for p in target.parent.iterdir()) == [MANIFEST]
    assert target.read_bytes() == b'{"old": true}'


def test_a_reader_outpaced_by_writers_never_returns_a_mixed_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write lands during every attempt of a read (jobs read, then a write, then
    tasks): read_parquet either returns one committed state or says to read again."""
    from ittybit_frames.lake import _read

    itf.write_parquet(frames_of(OLD), tmp_path)
    real = _read._read_table
    count = [0]

    def racing(root: Path, name: str, *args: Any) -> Any:
        if name == "tasks":  # between the jobs and the tasks, a writer commits
            count[0] += 1
            itf.write_parquet(frames_of(spec({"prefix": f"r{count[0]:03d}-", "n": 1})), root)
        return real(root, name, *args)

    monkeypatch.setattr(_read, "_read_table", racing)
    try:
        frames = itf.read_parquet(tmp_path)
    except itf.LakeError as exc:
        assert "read again" in str(exc) and "\n" not in str(exc)  # noqa: PT017
    else:
        assert set(frames.tasks["job_id"]) == set(frames.jobs["job_id"])
    assert count[0] >= 2  # it did notice, and read again


# --------------------------------------------------------------------------------------
# Permissions (as another user: root's children drop to nobody)
# --------------------------------------------------------------------------------------
NOBODY = 65534


def as_nobody(lake: str, out: Any) -> None:
    """Read, check, then merge into ``lake`` as user nobody; report what happened."""
    seen: list[Any] = []
    try:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        seen += [len(itf.read_parquet(lake).jobs), itf.check_lake(lake).healthy]
        itf.write_parquet(frames_of(CHANGE), lake, lock_timeout=1)
        seen.append("wrote")
    except (itf.IttybitError, OSError) as exc:
        seen.append(f"{type(exc).__name__}: {exc}")
    finally:
        out.put(seen)


@pytest.mark.parametrize("owner", ["root", "nobody-read-only-partition"])
def test_a_lake_of_another_user_and_read_only_files(ctx: Any, owner: str) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root, to act as another user (as one user, permissions are moot)")
    top = Path(tempfile.mkdtemp(prefix="lake-perm-"))  # pytest's tmp folders are root-only
    try:
        _another_user(ctx, top, owner)
    finally:
        shutil.rmtree(top)


def _another_user(ctx: Any, top: Path, owner: str) -> None:
    top.chmod(0o755)
    lake = top / "lake"
    itf.write_parquet(frames_of(OLD), lake)
    part = sorted((lake / "jobs").glob("created_date=*"))[0]
    if owner != "root":
        for p in [lake, *lake.rglob("*")]:
            os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
        (part / "part-0.parquet").chmod(0o444)
        part.chmod(0o555)
    before = files_below(lake / "jobs")
    out = ctx.Queue()
    proc = ctx.Process(target=as_nobody, args=(str(lake), out))
    proc.start()
    seen = out.get(timeout=60)
    proc.join(60)
    assert seen[:2] == [300, True]  # reading and checking need no write permission
    if owner == "root":  # refused in one line, nothing changed
        assert seen[2].startswith("PermissionError") and "\n" not in seen[2]
        assert files_below(lake / "jobs") == before
    else:  # files are never written in place: a read-only file is replaced like any other
        assert seen[2] == "wrote"
        assert lake_state(lake)[0] == ids_of(OLD) | ids_of(CHANGE)
        healthy(lake)


def test_a_partition_symlinked_to_another_disk_loses_nothing(tmp_path: Path) -> None:
    """A user moved an old partition elsewhere and left a symlink: a merge that rewrites
    it neither writes nor deletes outside the lake, and loses no row."""
    lake, archive = tmp_path / "lake", tmp_path / "archive"
    itf.write_parquet(frames_of(OLD), lake)
    itf.write_parquet(frames_of(NEW), lake)  # twins exist
    archive.mkdir()
    part = lake / "jobs" / "created_date=2026-09-21"
    shutil.move(part, archive / part.name)
    part.symlink_to(archive / part.name, target_is_directory=True)
    before = files_below(archive)
    assert lake_state(lake)[0] == ids_of(OLD) | ids_of(NEW)  # read through the link
    itf.write_parquet(frames_of(CHANGE), lake)
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), lake)
    assert files_below(archive) == before
    assert lake_state(lake)[0] == ids_of(OLD) | ids_of(NEW) | ids_of(CHANGE) | {"job_z00000"}
    n = len(ids_of(OLD) | ids_of(NEW) | ids_of(CHANGE)) + 1
    assert duck(lake)[:2] == (n, n)


def test_a_lock_timeout_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    with lock_lake(tmp_path):
        for bad in (float("nan"), -1.0):
            with pytest.raises(itf.ConfigurationError, match="lock_timeout"):
                itf.write_parquet(frames_of(OLD), tmp_path, lock_timeout=bad)


def test_a_stale_job_index_never_makes_a_duplicate(tmp_path: Path) -> None:
    """The index restored from an older backup (or copied from another lake) puts jobs
    in partitions they left: a merge must not trust it and write a second row."""
    from ittybit_frames.lake import INDEX

    itf.write_parquet(frames_of(OLD), tmp_path)
    stale = (tmp_path / INDEX).read_bytes()
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # 50 jobs move to other days
    (tmp_path / INDEX).write_bytes(stale)
    assert any("index" in p for p in itf.check_lake(tmp_path).problems)
    moved = spec({"prefix": "m", "n": 100, "days": 5, "shift": 20, "version": 3})
    itf.write_parquet(frames_of(moved), tmp_path)
    assert lake_state(tmp_path)[0] == ids_of(OLD) | ids_of(CHANGE)
    assert duck(tmp_path)[:2] == (400, 400)
    healthy(tmp_path)


@pytest.mark.parametrize("mode", ["overwrite", "merge"])
def test_a_job_created_before_1970_lands_where_the_index_says(tmp_path: Path, mode: str) -> None:
    """Hand-built frames (``to_frames`` turns such dates into null) with a job created
    on 1969-12-31: its file and the job index must name one partition, so that a later
    upsert of the job replaces its row instead of writing a second one."""
    import pandas as pd

    frames = frames_of(OLD)
    first = frames.jobs["job_id"].iloc[0]
    when = pd.Timestamp("1969-12-31 12:00", tz="UTC").as_unit("ms")
    frames.jobs.loc[frames.jobs["job_id"] == first, "created_at"] = when
    frames.tasks.loc[frames.tasks["job_id"] == first, "job_created_at"] = when
    if mode == "merge":
        itf.write_parquet(frames_of(NEW), tmp_path)
    itf.write_parquet(frames, tmp_path, mode=mode)
    assert (tmp_path / "jobs" / "created_date=1969-12-31" / "part-0.parquet").is_file()
    healthy(tmp_path)
    again = frames_of(OLD)
    again.jobs = again.jobs[again.jobs["job_id"] == first].copy()
    again.tasks = again.tasks[again.tasks["job_id"] == first].copy()
    again.jobs["created_at"] = when
    again.tasks["job_created_at"] = when
    again.jobs["status"] = "failed"
    itf.write_parquet(again, tmp_path)
    back = itf.read_parquet(tmp_path)
    assert back.jobs["job_id"].is_unique
    assert back.jobs.loc[back.jobs["job_id"] == first, "status"].tolist() == ["failed"]
    healthy(tmp_path)


def test_a_filesystem_without_hard_links_gets_one_line_and_keeps_the_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake on a filesystem that refuses hard links (FAT/exFAT drives, some network
    shares answer EPERM): a merge, which links the table into its twin, stops before
    anything changes, with one line that says what to do; the lake keeps its state and
    passes check. An overwrite links nothing of the lake's, and works."""
    import errno

    itf.write_parquet(frames_of(OLD), tmp_path)
    before = files_below(tmp_path / "jobs"), files_below(tmp_path / "tasks")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    with pytest.raises(itf.LakeError) as info:
        itf.write_parquet(frames_of(CHANGE), tmp_path)
    message = str(info.value)
    assert "\n" not in message and "hard-link" in message, message
    assert str(tmp_path) in message and "s3://" in message  # where, and what to do
    assert (files_below(tmp_path / "jobs"), files_below(tmp_path / "tasks")) == before
    assert lake_state(tmp_path)[0] == ids_of(OLD)
    itf.write_parquet(frames_of(CHANGE), tmp_path, mode="overwrite")
    monkeypatch.undo()
    assert lake_state(tmp_path)[0] == ids_of(CHANGE)
    healthy(tmp_path)
