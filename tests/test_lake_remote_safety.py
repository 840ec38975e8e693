"""The lake on S3 keeps local disk's guarantees: writers SIGKILLed at any instant, two
writers at once, a lapsed lease taken over by one writer, a lost lease never committing,
``check --repair``; and no credential anywhere."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

import ittybit_frames as itf
from ittybit_frames.lake import STEPS, lock_lake
from ittybit_frames.lake._store import ObjectStore
from tests import test_lake_remote
from tests.frames_equal import assert_frame_equal
from tests.test_lake_remote import MOVE, NEW, OLD, S3_SECRET, objects
from tests.test_lake_safety import frames_of, ids_of, spec

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake
LEASE_SECONDS = 2.0  # a killed writer's lease lapses this soon (the next writer waits)


def writer(
    env: dict[str, str],
    url: str,
    mode: str,
    frames: itf.JobFrames,
    ready: Any,
    go: Any,
    kill_at: str,
    lease_seconds: float,
) -> None:
    """A child writer: say ready, wait for go, write (or die at a step). ``frames``: the
    parent's conversion (frames_of), pickled: not converted again in every child."""
    os.environ.update(env)

    def hook(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    ready.set()
    go.wait()
    with lock_lake(url, timeout=60, lease_seconds=lease_seconds) as held:
        itf.write_parquet(frames, url, mode=mode, on_step=hook, lock=held)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ctx() -> Any:
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["ittybit_frames", "tests.test_lake_safety", "s3fs"])
    return context


def start(
    ctx: Any,
    url: str,
    mode: str,
    what: dict[str, Any],
    kill_at: str = "",
    go: Any = None,
    lease_seconds: float = LEASE_SECONDS,
) -> tuple[Any, Any, Any]:
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    ready, go = ctx.Event(), go or ctx.Event()
    args = (env, url, mode, frames_of(what), ready, go, kill_at, lease_seconds)
    proc = ctx.Process(target=writer, args=args)
    proc.start()
    assert ready.wait(60)
    return proc, ready, go


def glob_ids(url: str, table: str = "jobs") -> list[str]:
    """The job IDs a plain-glob reader (pyarrow's own S3 client) reads: every row."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    s3 = pafs.S3FileSystem(endpoint_override=endpoint, region="us-east-1")
    base = url.removeprefix("s3://")
    keys = [f"{base}/{k}" for k in objects(url) if k.startswith(f"{table}/created_date=")]
    if not keys:
        return []
    return list(
        ds.dataset(keys, filesystem=s3, format="parquet").to_table(["job_id"])["job_id"].to_pylist()
    )


def healthy(url: str) -> None:
    left = objects(url)
    assert not [k for k in left if "staging" in k or "journal" in k or "lease" in k], left
    report = itf.check_lake(url)
    assert report.healthy, report.problems
    ids = glob_ids(url)
    assert len(ids) == len(set(ids))


def test_killed_at_each_step_then_run_again(ctx: Any, s3_lake: str, tmp_path: Path) -> None:
    """A writer SIGKILLed at each of the five steps (a lake each, all at once: the leases
    lapse together): the lake reads whole old or whole new, a plain-glob reader never
    sees a job twice, ``check`` names only what the next writer finishes or removes, and
    the write run again completes, leaving what a write never killed leaves."""
    never_killed = tmp_path / "lake"
    for what in (OLD, MOVE):
        itf.write_parquet(frames_of(what), never_killed)
    whole = itf.read_parquet(never_killed)
    urls = {step: f"{s3_lake}-{step}" for step in STEPS}
    for url in urls.values():
        itf.write_parquet(frames_of(OLD), url)
    procs = {step: start(ctx, url, "merge", MOVE, kill_at=step) for step, url in urls.items()}
    for _, _, go in procs.values():
        go.set()
    for step, (proc, _, _) in procs.items():
        proc.join(60)
        assert proc.exitcode == -signal.SIGKILL, step
    for step, url in urls.items():
        committed = STEPS.index(step) >= STEPS.index("committed")
        expected = ids_of(OLD) | ids_of(MOVE) if committed else ids_of(OLD)
        frames = itf.read_parquet(url)  # through the journal: one whole state
        assert set(frames.jobs["job_id"]) == expected and frames.jobs["job_id"].is_unique, step
        assert set(frames.tasks["job_id"]) == expected, step
        # A plain-glob reader: the old jobs until the jobs objects are copied in (at
        # "applying" only the tasks are), then the new ones; never a job twice.
        seen = ids_of(OLD) | ids_of(MOVE) if step == "applied" else ids_of(OLD)
        ids = glob_ids(url)
        assert set(ids) == seen and len(ids) == len(seen), step
        # check names what is left and how it goes: a staging or a journal to finish.
        problems = itf.check_lake(url).problems
        assert problems and all(
            "leftover of a dead writer" in p or "interrupted write" in p for p in problems
        ), (step, problems)
    for step, url in urls.items():
        # The killed write, run again: it waits for the lapsed lease, finishes or rolls
        # back what it finds, and completes.
        itf.write_parquet(frames_of(MOVE), url, lock_timeout=30)
        healthy(url)
        back = itf.read_parquet(url)
        assert_frame_equal(back.jobs, whole.jobs, obj=step)
        assert_frame_equal(back.tasks, whole.tasks, obj=step)


def test_sigkill_at_random_instants(ctx: Any, s3_lake: str) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    began = time.monotonic()
    itf.write_parquet(frames_of(MOVE), s3_lake)  # how long a write takes, now
    whole = time.monotonic() - began
    rng = random.Random(17)
    for trial, mode in enumerate(["overwrite", "merge"]):
        url = f"{s3_lake}-{trial}"
        itf.write_parquet(frames_of(OLD), url)
        new = NEW if mode == "overwrite" else MOVE
        old_ids = ids_of(OLD)
        new_ids = ids_of(new) | (set() if mode == "overwrite" else old_ids)
        proc, _, go = start(ctx, url, mode, new)
        go.set()
        proc.join(rng.uniform(0.1, 1.1) * whole)  # a random instant of the write
        if proc.is_alive():
            proc.kill()
            proc.join()
        seen = set(itf.read_parquet(url).jobs["job_id"])
        assert seen in (old_ids, new_ids), (trial, len(seen))
        for table in ("jobs", "tasks"):  # every object whole: each one reads
            assert set(glob_ids(url, table)) <= old_ids | new_ids
        itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), url, lock_timeout=30)
        assert set(itf.read_parquet(url).jobs["job_id"]) == seen | {"job_z00000"}
        healthy(url)


def test_two_writers_at_once_lose_nothing(ctx: Any, s3_lake: str) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    go = ctx.Event()
    parts = [spec({"prefix": p, "n": 20, "days": 3}) for p in ("b", "c")]
    # Live writers, each with a lease that cannot lapse under load: with the 2 s lease of
    # the killed writers, a holder whose renewals (every 0.7 s) were held up 2 s on a
    # loaded machine lost its lease to the waiting writer, and its write failed.
    procs = [start(ctx, s3_lake, "merge", part, go=go, lease_seconds=60)[0] for part in parts]
    go.set()  # both write from now on: one waits for the other's lease
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    jobs = itf.read_parquet(s3_lake).jobs
    assert set(jobs["job_id"]) == ids_of(OLD) | ids_of(parts[0]) | ids_of(parts[1])
    healthy(s3_lake)


def test_a_lapsed_lease_is_taken_over_a_live_one_waited_for(s3_lake: str) -> None:
    store = ObjectStore.open(s3_lake)
    dead = {"holder": "x", "host": "gone", "pid": 1, "since": "then", "expires": time.time() - 1}
    store.put("_ittybit_frames.lease.json", orjson.dumps(dead))
    itf.write_parquet(frames_of(OLD), s3_lake, lock_timeout=0)  # taken over at once
    live = {**dead, "host": "busy-host", "expires": time.time() + 60}
    store.put("_ittybit_frames.lease.json", orjson.dumps(live))
    with pytest.raises(itf.LakeLockedError, match="held by pid 1 on busy-host") as info:
        itf.write_parquet(frames_of(MOVE), s3_lake, lock_timeout=0.3)
    assert info.value.holder["host"] == "busy-host"
    store.delete(["_ittybit_frames.lease.json"])
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD)


def test_a_writer_that_lost_its_lease_commits_nothing(s3_lake: str) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    store = ObjectStore.open(s3_lake)

    def taken_over(step: str) -> None:
        if step == "staging":  # as if it lapsed and another writer took it
            other = {"holder": "other", "host": "h", "pid": 2, "expires": time.time() + 60}
            store.put("_ittybit_frames.lease.json", orjson.dumps(other))

    with pytest.raises(itf.LakeLockedError, match="lost the lease"):
        itf.write_parquet(frames_of(MOVE), s3_lake, on_step=taken_over)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD)
    assert not [k for k in objects(s3_lake) if "staging" in k or "journal" in k]
    store.delete(["_ittybit_frames.lease.json"])
    healthy(s3_lake)


def test_check_finds_and_repairs(s3_lake: str) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    store = ObjectStore.open(s3_lake)
    day = sorted(k for k in objects(s3_lake) if k.startswith("jobs/created_date="))
    # Jobs twice (a partition's file copied to a day of its own), a dead writer's
    # staging, a file that is not the lake's.
    store.copy([(day[0], "jobs/created_date=2026-01-01/part-0.parquet")])
    store.put("_ittybit_frames.staging/deadbeef/jobs/created_date=2026-09-21/part-0.parquet", b"x")
    store.put("jobs/notes.txt", b"mine")
    found = itf.check_lake(s3_lake)
    text = "\n".join(found.problems)
    assert "several rows" in text and "wrong day partition" in text
    assert "leftover of a dead writer" in text
    assert "not the lake's (ignored): jobs/notes.txt" in text
    fixed = itf.check_lake(s3_lake, repair=True)
    assert fixed.problems == ["not the lake's (ignored): jobs/notes.txt"], fixed.problems
    jobs = itf.read_parquet(s3_lake).jobs
    assert set(jobs["job_id"]) == ids_of(OLD) and jobs["job_id"].is_unique
    assert "jobs/notes.txt" in objects(s3_lake)


def test_no_credential_in_logs_errors_reprs_or_objects(
    s3_lake: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    with lock_lake(s3_lake) as held:
        report = itf.write_parquet(frames_of(OLD), s3_lake, lock=held)
        texts += [repr(held), repr(held.lease), repr(report)]
        with pytest.raises(itf.LakeLockedError) as info:
            itf.write_parquet(frames_of(MOVE), s3_lake, lock_timeout=0)
        texts.append(str(info.value))
    texts += [repr(itf.check_lake(s3_lake)), repr(itf.read_parquet(s3_lake).jobs.head())]
    texts.append(repr(ObjectStore.open(s3_lake)))
    with pytest.raises(itf.ConfigurationError) as bad:
        itf.read_parquet(f"s3://id:{S3_SECRET}@bucket/lake")
    texts.append(str(bad.value))
    texts += [r.getMessage() for r in caplog.records]
    store = ObjectStore.open(s3_lake)
    texts += [(store.get(k) or b"").decode("latin-1") for k in objects(s3_lake)]
    assert len(caplog.records) > 0 and len(texts) > 10
    assert not [t for t in texts if S3_SECRET in t]
