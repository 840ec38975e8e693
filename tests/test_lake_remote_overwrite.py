"""An overwrite of a lake on S3 SIGKILLed at each step of the commit protocol: the lake
reads the whole old or the whole new state, never a mix, and the write run again leaves
what an overwrite never killed leaves. (The merge is killed so in
``tests/test_lake_remote_safety.py``.)"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import ittybit_frames as itf
from ittybit_frames.lake import STEPS
from tests import test_lake_remote, test_lake_remote_safety
from tests.frames_equal import assert_frame_equal
from tests.test_lake_remote import NEW, OLD
from tests.test_lake_remote_safety import glob_ids, healthy, start
from tests.test_lake_safety import frames_of, ids_of

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake
ctx = test_lake_remote_safety.ctx


def test_overwrite_killed_at_each_step_then_run_again(
    ctx: Any, s3_lake: str, tmp_path: Path
) -> None:
    never_killed = tmp_path / "lake"
    itf.write_parquet(frames_of(OLD), never_killed)
    itf.write_parquet(frames_of(NEW), never_killed, mode="overwrite")
    whole = itf.read_parquet(never_killed)
    urls = {step: f"{s3_lake}-{step}" for step in STEPS}
    for url in urls.values():
        itf.write_parquet(frames_of(OLD), url)
    procs = {step: start(ctx, url, "overwrite", NEW, kill_at=step) for step, url in urls.items()}
    for _, _, go in procs.values():
        go.set()
    for step, (proc, _, _) in procs.items():
        proc.join(60)
        assert proc.exitcode == -signal.SIGKILL, step
    old, new = ids_of(OLD), ids_of(NEW)
    for step, url in urls.items():
        committed = STEPS.index(step) >= STEPS.index("committed")
        frames = itf.read_parquet(url)  # through the journal: one whole state
        expected = new if committed else old
        assert set(frames.jobs["job_id"]) == expected and frames.jobs["job_id"].is_unique, step
        assert set(frames.tasks["job_id"]) == expected, step
        ids = glob_ids(url)  # a plain-glob reader: never a job twice
        assert len(ids) == len(set(ids)) and set(ids) <= old | new, step
        problems = itf.check_lake(url).problems
        assert problems and all(
            "leftover of a dead writer" in p or "interrupted write" in p for p in problems
        ), (step, problems)
    for step, url in urls.items():
        itf.write_parquet(frames_of(NEW), url, mode="overwrite", lock_timeout=30)
        healthy(url)
        back = itf.read_parquet(url)
        assert set(glob_ids(url)) == new, step
        assert_frame_equal(back.jobs, whole.jobs, obj=step)
        assert_frame_equal(back.tasks, whole.tasks, obj=step)
