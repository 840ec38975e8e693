"""The lake under stress: two writers at once, SIGKILL at random instants and at every
step of the commit protocol, cross-partition upserts, foreign files, a broken manifest.

Every test here reproduces one "Why" of issue 12 on the previous lake (it failed there).
Child writers run in a forkserver process pool (fast to start); the parent and children
synchronise with events, never with sleeps.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import ittybit_frames as itf
from ittybit_frames.lake import INDEX, JOURNAL, STEPS, lock_lake, read_manifest, write_manifest
from ittybit_frames.lake._commit import leftovers, recover
from ittybit_frames.lake._swap import exchange_dirs
from ittybit_frames.lake._write import write_locked

DAY = 86_400_000
T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z
GLOB = "{lake}/{table}/created_date=[0-9_]*/part-0.parquet"  # the README's glob


def records(
    prefix: str, n: int, *, days: int = 10, version: int = 0, shift: int = 0
) -> list[dict[str, Any]]:
    """``n`` small finished jobs with one task each, spread over ``days`` UTC days."""
    out = []
    for i in range(n):
        created = T0 + ((i % days) + shift) * DAY + i * 1000
        updated = created + 60_000 + version * 1000
        task = {
            "id": f"task_{prefix}{i:05d}",
            "object": "task",
            "kind": "probe",
            "status": "succeeded",
            "created_at": created,
            "updated_at": updated,
        }
        out.append(
            {
                "id": f"job_{prefix}{i:05d}",
                "object": "job",
                "kind": "video",
                "status": "succeeded",
                "created_at": created,
                "updated_at": updated,
                "tasks": [task],
            }
        )
    return out


#: The frames of each spec, converted once per process (the lake tests ask for the same
#: few specs hundreds of times; each conversion took ~0.1-0.15 s).
_CONVERTED: dict[str, itf.JobFrames] = {}


def frames_of(spec: dict[str, Any]) -> itf.JobFrames:
    """The frames of a spec's records: a copy of their one conversion, so that a test
    changing its frames changes no other test's."""
    key = json.dumps(spec, sort_keys=True)
    if key not in _CONVERTED:
        recs: list[dict[str, Any]] = []
        for part in spec["parts"]:
            recs += records(**part)
        _CONVERTED[key] = itf.to_frames(recs)
    done = _CONVERTED[key]
    return dataclasses.replace(
        done, jobs=done.jobs.copy(), tasks=done.tasks.copy(), problems=done.problems.copy()
    )


def writer(
    lake: str,
    mode: str,
    frames: itf.JobFrames,
    ready: Any,
    go: Any,
    kill_at: str | None,
    lock_timeout: float,
) -> None:
    """A child writer: say ready, wait for go, write (or die at a step). ``frames``: the
    parent's conversion, pickled (3000 jobs: 0.4 s to convert in each child, 10 ms)."""

    def hook(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    ready.set()
    go.wait()
    try:
        itf.write_parquet(frames, lake, mode=mode, on_step=hook, lock_timeout=lock_timeout)  # type: ignore[arg-type]
    except itf.LakeLockedError:
        os._exit(3)


@pytest.fixture(scope="module")
def ctx() -> Any:
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["ittybit_frames", "tests.test_lake_safety"])
    return context


def start(
    ctx: Any,
    lake: Path,
    mode: str,
    spec: dict[str, Any],
    *,
    kill_at: str | None = None,
    go: Any = None,
    lock_timeout: float = 60.0,
) -> tuple[Any, Any, Any]:
    ready, go = ctx.Event(), go or ctx.Event()
    proc = ctx.Process(
        target=writer, args=(str(lake), mode, frames_of(spec), ready, go, kill_at, lock_timeout)
    )
    proc.start()
    return proc, ready, go


def run(ctx: Any, lake: Path, mode: str, spec: dict[str, Any], **kw: Any) -> int:
    proc, ready, go = start(ctx, lake, mode, spec, **kw)
    assert ready.wait(60)
    go.set()
    proc.join(60)
    return int(proc.exitcode)


def duck(lake: Path) -> tuple[int, int, int]:
    """(rows, distinct job IDs, tasks) through the README's glob, as DuckDB reads them."""
    counts = []
    for table in ("jobs", "tasks"):
        if not list(lake.glob(f"{table}/created_date=*/part-0.parquet")):
            counts.append((0, 0))
            continue
        src = GLOB.format(lake=lake, table=table)
        row = duckdb.sql(
            f"SELECT count(*), count(DISTINCT job_id) FROM read_parquet('{src}', "
            "hive_partitioning = true)"
        ).fetchall()[0]
        counts.append((int(row[0]), int(row[1])))
    return counts[0][0], counts[0][1], counts[1][0]


def duck_ids(lake: Path) -> set[str]:
    """The job IDs DuckDB reads through the README's glob (empty when there are none)."""
    if not list(lake.glob("jobs/created_date=*/part-0.parquet")):
        return set()
    src = GLOB.format(lake=lake, table="jobs")
    return {row[0] for row in duckdb.sql(f"SELECT job_id FROM read_parquet('{src}')").fetchall()}


def ids_of(state: dict[str, Any]) -> set[str]:
    return set(frames_of(state).jobs["job_id"])


def healthy(lake: Path) -> None:
    ours, foreign = leftovers(lake)
    assert ours == [] and foreign == []
    for table in ("jobs", "tasks"):  # a table's twin holds no data of its own: links only
        twin = lake / f".{table}.swap"
        for file in twin.rglob("*.parquet") if twin.is_dir() else []:
            assert file.samefile(lake / table / file.relative_to(twin)), file
    assert not (lake / JOURNAL).exists()
    report = itf.check_lake(lake)
    assert report.healthy, report.problems


def spec(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"parts": list(parts)}


OLD = spec({"prefix": "o", "n": 300, "days": 12})
NEW = spec({"prefix": "n", "n": 200, "days": 8, "shift": 4})
# 100 jobs updated in place, 50 moved to other days, 100 new: 300 -> 400 jobs.
CHANGE = spec(
    {"prefix": "o", "n": 100, "days": 12, "version": 1},
    {"prefix": "m", "n": 100, "days": 5, "shift": 20},
)


# --------------------------------------------------------------------------------------
# One writer at a time
# --------------------------------------------------------------------------------------
def test_two_processes_merging_at_once_lose_nothing(ctx: Any, tmp_path: Path) -> None:
    """Why: two merges at once crashed on each other's temp file, or lost 885 jobs."""
    for trial in range(5):
        lake = tmp_path / f"lake{trial}"
        itf.write_parquet(frames_of(spec({"prefix": "a", "n": 3000, "days": 30})), lake)
        go = ctx.Event()
        procs = [
            start(ctx, lake, "merge", spec({"prefix": p, "n": 3000, "days": 30}), go=go)
            for p in ("b", "c")
        ]
        for _, ready, _ in procs:
            assert ready.wait(60)
        go.set()  # both write from now on
        codes = []
        for proc, _, _ in procs:
            proc.join(120)
            codes.append(proc.exitcode)
        assert set(codes) <= {0, 3}
        for code, p in zip(codes, ("b", "c"), strict=True):
            if code == 3:  # LakeLockedError: a rerun completes the lake
                itf.write_parquet(frames_of(spec({"prefix": p, "n": 3000, "days": 30})), lake)
        jobs = itf.read_parquet(lake).jobs
        assert len(jobs) == 9000 and jobs["job_id"].is_unique
        assert duck(lake) == (9000, 9000, 9000)
        healthy(lake)


def test_a_second_writer_waits_then_names_the_holder(
    ctx: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake = tmp_path / "lake"
    with lock_lake(lake):
        stray = lake / ".part-0.parquet.1-0123456789abcdef0123456789abcdef.tmp"
        stray.write_bytes(b"a live writer's file")
        assert run(ctx, lake, "merge", OLD, lock_timeout=0.5) == 3  # LakeLockedError
        assert stray.exists()  # nobody touched a file while its writer holds the lake
        # Another FileLock on the same file conflicts even in one process (flock is per
        # open file), so this one waits, then gives up.
        with (
            pytest.raises(itf.LakeLockedError) as info,
            caplog.at_level("INFO", logger="ittybit_frames.lake"),
            lock_lake(lake, timeout=0.2),
        ):
            pass
    holder = info.value.holder
    assert holder["pid"] == os.getpid() and holder["host"] and holder["since"]
    assert f"pid {os.getpid()}" in str(info.value) and "lock_timeout" in str(info.value)
    assert any("waiting up to" in r.getMessage() for r in caplog.records)
    itf.write_parquet(frames_of(OLD), lake)  # the lock died with its holder's context
    assert not stray.exists()  # now a dead writer's leftover: removed under the lock
    healthy(lake)


# --------------------------------------------------------------------------------------
# Kill-safe overwrite, merge (sync: tests/test_sync.py)
# --------------------------------------------------------------------------------------
def _duration(ctx: Any, tmp_path: Path, mode: str, new: dict[str, Any]) -> float:
    lake = tmp_path / f"timing-{mode}"
    lake.parent.mkdir(exist_ok=True)
    itf.write_parquet(frames_of(OLD), lake)
    proc, ready, go = start(ctx, lake, mode, new)
    assert ready.wait(60)
    began = time.monotonic()
    go.set()
    proc.join(60)
    assert proc.exitcode == 0
    return time.monotonic() - began


@pytest.mark.parametrize(("mode", "new", "kills"), [("overwrite", NEW, 10), ("merge", CHANGE, 10)])
def test_sigkill_at_random_instants(
    ctx: Any, tmp_path: Path, mode: str, new: dict[str, Any], kills: int
) -> None:
    """Why: a kill during overwrite left no jobs/ or no tasks/; during merge, orphans.

    Trials go on until ``kills`` writes were killed in flight (at most ``4 * kills``
    trials). A write that beat its kill instant is checked all the same, and shortens the
    window: the machine got faster than the timing said (CI once saw 9 kills in 20).
    """
    whole = min(_duration(ctx, tmp_path / f"t{i}", mode, new) for i in range(2))
    n_old, n_new = 300, 200 if mode == "overwrite" else 400
    old_ids, new_ids = ids_of(OLD), ids_of(new) | (set() if mode == "overwrite" else ids_of(OLD))
    rng = random.Random(12)
    killed = trials = 0
    wrong: list[str] = []  # every trial is checked; the failures are listed together
    while killed < kills and trials < 4 * kills:
        trials += 1
        lake = tmp_path / f"lake{trials}"
        itf.write_parquet(frames_of(OLD), lake)
        proc, ready, go = start(ctx, lake, mode, new)
        assert ready.wait(60)
        began = time.monotonic()
        go.set()
        proc.join(rng.uniform(0.0, 1.1) * whole)  # a random instant of the write
        if proc.is_alive():
            proc.kill()
            proc.join()
            killed += 1
        else:
            whole = min(whole, time.monotonic() - began)
        frames = itf.read_parquet(lake)
        jobs = frames.jobs
        assert jobs["job_id"].is_unique
        assert set(frames.tasks["job_id"]) == set(jobs["job_id"])  # no orphans, none missing
        if mode == "overwrite":
            assert len(jobs) in (n_old, n_new)
        else:
            assert n_old <= len(jobs) <= n_new
        # A plain-glob reader, even right after a kill inside the table swaps (journal
        # still there): one row per job, the old or the new job count (between: merge).
        rows, distinct, _ = duck(lake)
        seen = duck_ids(lake)
        fits = seen in (old_ids, new_ids) if mode == "overwrite" else old_ids <= seen <= new_ids
        if rows != distinct or not fits:
            wrong.append(f"trial {trials}: DuckDB read {rows} rows, {distinct} job IDs")
        # The next write completes the interrupted one and leaves nothing behind.
        itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), lake)
        after = itf.read_parquet(lake).jobs
        assert len(after) == len(jobs) + 1 and duck(lake)[:2] == (len(after), len(after))
        healthy(lake)
    assert wrong == [], wrong
    assert killed == kills, (killed, trials)  # the trials really interrupted writes


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("mode", ["overwrite", "merge"])
def test_killed_at_each_step_of_the_protocol(
    ctx: Any, tmp_path: Path, mode: str, step: str
) -> None:
    lake = tmp_path / "lake"
    itf.write_parquet(frames_of(OLD), lake)
    new = NEW if mode == "overwrite" else CHANGE
    assert run(ctx, lake, mode, new, kill_at=step) == -signal.SIGKILL
    committed = STEPS.index(step) >= STEPS.index("committed")
    expected = (200 if mode == "overwrite" else 400) if committed else 300
    jobs = itf.read_parquet(lake).jobs
    assert len(jobs) == expected and jobs["job_id"].is_unique  # whole old or whole new
    # A plain-glob reader sees whole tables: the old jobs until the jobs table is
    # swapped, the new ones after (at "applying" only tasks/ has been swapped).
    seen = expected if step == "applied" else 300
    assert duck(lake)[:2] == (seen, seen)
    old_ids = ids_of(OLD)
    new_ids = ids_of(new) | (set() if mode == "overwrite" else old_ids)
    assert duck_ids(lake) == (new_ids if step == "applied" else old_ids)
    assert (lake / "jobs").is_dir() and (lake / "tasks").is_dir()
    problems = itf.check_lake(lake).problems  # only what the next writer finishes or removes
    assert all("leftover of a dead writer" in p or "interrupted" in p for p in problems), problems
    if committed:  # its new index and manifest are the write's, not a dead writer's leftovers
        assert problems == ["an interrupted write is pending (the next writer finishes it)"]
    with lock_lake(lake):  # the next writer finishes or rolls back
        pass
    assert duck(lake)[:2] == (expected, expected)
    if committed and mode == "overwrite":
        assert "sync" not in read_manifest(lake)
    healthy(lake)


def no_exchange(a: Path, b: Path) -> bool:
    """What ``exchange_dirs`` answers on a system without ``RENAME_EXCHANGE``."""
    return False


@pytest.mark.parametrize("exchange", [exchange_dirs, no_exchange], ids=["exchange", "per-file"])
def test_what_readers_see_at_each_step(tmp_path: Path, exchange: Any) -> None:
    """Readers inside the write, at every step: read_parquet sees the whole old state
    until the commit point and the whole new one after; DuckDB sees the old jobs table
    until the jobs swap, then the new one (file by file: once the swap has ended)."""
    itf.write_parquet(frames_of(OLD), tmp_path)
    old_ids, new_ids = ids_of(OLD), ids_of(OLD) | ids_of(CHANGE)
    seen: dict[str, tuple[set[str], set[str]]] = {}

    def look(step: str) -> None:
        seen[step] = (set(itf.read_parquet(tmp_path).jobs["job_id"]), duck_ids(tmp_path))

    with lock_lake(tmp_path):
        write_locked(frames_of(CHANGE), tmp_path, "merge", "day", "default", look, exchange)
    assert list(seen) == list(STEPS)
    for step, (ours, glob) in seen.items():
        committed = STEPS.index(step) >= STEPS.index("committed")
        assert ours == (new_ids if committed else old_ids), step
        assert glob == (new_ids if step == "applied" else old_ids), step
    assert duck_ids(tmp_path) == new_ids
    healthy(tmp_path)


def test_a_per_file_swap_killed_midway_is_finished_by_the_next_writer(tmp_path: Path) -> None:
    """Where the exchange is unsupported, a write dying inside its swaps is still rolled
    forward: the staged folder keeps every file until the journal is gone."""
    itf.write_parquet(frames_of(OLD), tmp_path)

    def die(step: str) -> None:
        if step == "applying":  # tasks/ replaced, jobs/ not yet
            raise KeyboardInterrupt

    with lock_lake(tmp_path), pytest.raises(KeyboardInterrupt):
        write_locked(frames_of(NEW), tmp_path, "overwrite", "day", "default", die, no_exchange)
    assert (tmp_path / JOURNAL).exists()
    assert set(itf.read_parquet(tmp_path).jobs["job_id"]) == ids_of(NEW)
    assert duck_ids(tmp_path) == ids_of(OLD)
    assert recover(tmp_path, no_exchange)[0].startswith("finished an interrupted write")
    assert set(itf.read_parquet(tmp_path).jobs["job_id"]) == ids_of(NEW) == duck_ids(tmp_path)
    healthy(tmp_path)


def test_a_dead_writers_files_in_a_twin_never_reach_the_table(tmp_path: Path) -> None:
    """A write killed while staging leaves files and folders in a table's twin
    (``.jobs.swap``); the next writer drops them before anything is swapped in."""
    itf.write_parquet(frames_of(OLD), tmp_path)
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # the twins exist from now on
    twin = tmp_path / ".jobs.swap"
    assert twin.is_dir() and (twin / ".ittybit_frames.table").is_file()
    first = sorted((tmp_path / "jobs").glob("created_date=*/part-0.parquet"))[0]
    (twin / "created_date=2030-01-01").mkdir()  # made, then killed before its file
    (twin / "created_date=2030-01-02").mkdir()
    (twin / "created_date=2030-01-02" / "part-0.parquet").write_bytes(first.read_bytes())
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path)
    assert not [p for p in (tmp_path / "jobs").iterdir() if "2030" in p.name]
    assert duck(tmp_path)[:2] == (401, 401) and len(itf.read_parquet(tmp_path).jobs) == 401
    healthy(tmp_path)


# --------------------------------------------------------------------------------------
# Sync state, one row per job, readers, manifest
# --------------------------------------------------------------------------------------
def test_overwrite_resets_the_sync_state(tmp_path: Path) -> None:
    """Why: an overwrite kept the checkpoint, so sync never refilled the lake."""
    itf.write_parquet(frames_of(OLD), tmp_path)
    manifest = read_manifest(tmp_path)
    write_manifest(tmp_path, {**manifest, "sync": {"frontiers": {"*": T0 + 99 * DAY}}})
    itf.write_parquet(frames_of(NEW), tmp_path, mode="merge")
    assert read_manifest(tmp_path)["sync"]  # a merge keeps it: the lake only grew
    itf.write_parquet(itf.to_frames([]), tmp_path, mode="overwrite")
    assert "sync" not in read_manifest(tmp_path)


def test_one_row_per_job_across_partitions(tmp_path: Path) -> None:
    """Why: a job seen without created_at, then with one, then on another day: 3 rows."""
    (job,) = records("x", 1)
    versions = [
        {**job, "created_at": None, "updated_at": T0 + 1000},
        {**job, "created_at": T0, "updated_at": T0 + 2000},
        {**job, "created_at": T0 + 3 * DAY, "updated_at": T0 + 3000},
    ]
    for i, version in enumerate(versions):
        report = itf.write_parquet(itf.to_frames([version]), tmp_path)
        assert (report.inserted, report.updated) == ((1, 0) if i == 0 else (0, 1))
        frames = itf.read_parquet(tmp_path)
        assert list(frames.jobs["job_id"]) == ["job_x00000"]
        assert list(frames.tasks["job_id"]) == ["job_x00000"]
        assert duck(tmp_path)[:2] == (1, 1)
        healthy(tmp_path)
    parts = sorted(p.parent.name for p in (tmp_path / "jobs").glob("*/part-0.parquet"))
    assert parts == ["created_date=2026-09-24"]  # the null partition moved out, then on
    stale = {**job, "created_at": T0 + 5 * DAY, "updated_at": T0 + 500}
    assert itf.write_parquet(itf.to_frames([stale]), tmp_path).unchanged == 1
    tie = {**versions[-1], "status": "failed"}  # same updated_at, other content: newer wins
    assert itf.write_parquet(itf.to_frames([tie]), tmp_path).updated == 1
    assert list(itf.read_parquet(tmp_path).jobs["status"]) == ["failed"]


def test_readers_ignore_foreign_files(tmp_path: Path) -> None:
    """Why: a copied created_date=junk/ folder doubled 110 jobs, past the since filter."""
    itf.write_parquet(frames_of(OLD), tmp_path)
    first = next((tmp_path / "jobs").glob("created_date=*/part-0.parquet"))
    for name in ("created_date=junk", "created_date=copy of 2026-10-01"):
        (tmp_path / "jobs" / name).mkdir()
        (tmp_path / "jobs" / name / "part-0.parquet").write_bytes(first.read_bytes())
    (first.parent / "part-0 (copy).parquet").write_bytes(first.read_bytes())
    assert duck(tmp_path)[:2] == (300, 300)  # the README's glob skips them too
    # Only our reader knows dates, and where a name ends (a glob cannot: README).
    for name in ("created_date=2026-13-45", f"{first.parent.name} copy"):
        (tmp_path / "jobs" / name).mkdir()
        (tmp_path / "jobs" / name / "part-0.parquet").write_bytes(first.read_bytes())
    assert len(itf.read_parquet(tmp_path).jobs) == 300
    assert len(itf.read_parquet(tmp_path, since=T0).jobs) == 300
    report = itf.check_lake(tmp_path, repair=True)
    assert not report.healthy and len(report.problems) == 5  # reported, never deleted
    assert all("not the lake's" in p for p in report.problems)
    foreign = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    itf.write_parquet(frames_of(CHANGE), tmp_path)  # swaps whole tables in: they move along
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert set(foreign) <= set(after)  # none lost
    assert len(itf.check_lake(tmp_path).problems) == 5
    assert len(itf.read_parquet(tmp_path).jobs) == 400


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]", b'{"hello": "world"}'])
def test_a_broken_manifest_is_named_and_repairable(
    tmp_path: Path, body: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why: a bad _ittybit_frames.json gave a bare JSONDecodeError/AttributeError."""
    itf.write_parquet(frames_of(OLD), tmp_path, profile="spark")
    (tmp_path / "_ittybit_frames.json").write_bytes(body)
    with pytest.raises(itf.LakeCorruptError, match=r"_ittybit_frames\.json.*check .*--repair"):
        itf.read_parquet(tmp_path)
    with pytest.raises(itf.LakeCorruptError):
        itf.write_parquet(frames_of(NEW), tmp_path)
    from ittybit_frames.cli import main

    outside = tmp_path.with_name(f"{tmp_path.name}-r")  # a report inside a lake is refused
    assert main(["report", str(tmp_path), "--out", str(outside)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "check" in err and "--repair" in err
    assert main(["check", str(tmp_path)]) == 1
    assert main(["check", str(tmp_path), "--repair"]) == 0
    assert read_manifest(tmp_path)["profile"] == "spark"
    assert len(itf.read_parquet(tmp_path).jobs) == 300


def test_check_finds_and_repairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import orjson

    from ittybit_frames.cli import main

    itf.write_parquet(frames_of(OLD), tmp_path)
    assert main(["check", str(tmp_path), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["healthy"] is True
    itf.write_parquet(frames_of(spec({"prefix": "o", "n": 10})), tmp_path, mode="append")
    (tmp_path / INDEX).unlink()
    (tmp_path / ".overwrite-0123").mkdir()  # what the previous lake left behind
    manifest = read_manifest(tmp_path)
    write_manifest(tmp_path, {**manifest, "sync": {"frontiers": {"*": T0 + 99 * DAY}}})
    assert main(["check", str(tmp_path), "--json"]) == 1
    found = orjson.loads(capsys.readouterr().out)["problems"]
    assert any("several rows" in p for p in found) and any("leftover" in p for p in found)
    assert any("frontier" in p for p in found) and any("index" in p for p in found)
    assert main(["check", str(tmp_path), "--repair", "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["healthy"] and out["repaired"]
    jobs = itf.read_parquet(tmp_path).jobs
    assert len(jobs) == 300 and jobs["job_id"].is_unique
    assert read_manifest(tmp_path)["sync"]["frontiers"]["*"] == int(
        jobs["created_at"].max().value // 1_000_000
    )
    assert main(["check", str(tmp_path / "nope")]) == 2


def test_check_finds_and_repairs_a_task_given_twice(tmp_path: Path) -> None:
    """Why: a task row written twice (a hand copy, an old writer) passed ``check``."""
    import pyarrow.parquet as pq

    itf.write_parquet(frames_of(OLD), tmp_path)
    part = next((tmp_path / "tasks").glob("created_date=*/part-0.parquet"))
    table = pq.read_table(part)
    pq.write_table(pa.concat_tables([table, table.slice(0, 2)]), part)
    report = itf.check_lake(tmp_path)
    assert any("2 tasks" in p and "several rows" in p for p in report.problems), report
    assert itf.check_lake(tmp_path, repair=True).repaired
    tasks = itf.read_parquet(tmp_path).tasks
    assert not tasks.duplicated(["job_id", "task_index"]).any()
    assert len(tasks) == len(frames_of(OLD).tasks)
    healthy(tmp_path)


def test_the_next_write_removes_old_leftovers(tmp_path: Path) -> None:
    """Why: .old-* / .overwrite-* folders of killed overwrites were never cleaned."""
    itf.write_parquet(frames_of(OLD), tmp_path)
    for name in (".old-0123abcd", ".overwrite-0123abcd"):
        (tmp_path / name / "jobs").mkdir(parents=True)
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), tmp_path)
    assert not list(tmp_path.glob(".o*"))
    healthy(tmp_path)
