"""End to end under a hostile network, and with arbitrary payloads."""

from __future__ import annotations

import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.simulator import Faults, generate_history, serve
from tests.conftest import cli_sync, fast_client
from tests.frames_equal import assert_frame_equal


@pytest.mark.slow
def test_chaos_sync_with_kills_equals_a_fault_free_run(tmp_path: Path) -> None:
    history = generate_history(1500, seed=21)
    storm = Faults(rate=0.3, retry_after="mixed", retry_after_seconds=0)
    rng = random.Random(7)
    lake = tmp_path / "lake"
    with serve(
        history,
        faults=storm,
        rate_limit=400,
        advance_every=0.3,
        latency=0.005,
        seed=3,
        record=False,
    ) as api:
        for _ in range(2):  # two SIGKILLs in the middle of a run, then resumes
            proc = cli_sync(lake, api, "-q", "--concurrency", "4", "--max-attempts", "25")
            deadline = time.monotonic() + 120
            while not (lake / "_ittybit_frames.json").exists() and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.05)  # polling for the first checkpoint, not waiting for luck
            time.sleep(rng.uniform(0.1, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.stderr:
                proc.stderr.close()
            assert itf.read_parquet(lake).jobs["job_id"].is_unique
        api.stop_advancing()  # jobs stop moving: the last run can catch up
        final = cli_sync(lake, api, "-q", "--concurrency", "4", "--max-attempts", "25")
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err.decode()
        state = api.jobs
    with serve(state) as clean, fast_client(clean) as client:
        itf.sync(tmp_path / "reference", client=client)
    left, right = itf.read_parquet(lake), itf.read_parquet(tmp_path / "reference")
    assert_frame_equal(left.jobs, right.jobs)
    assert_frame_equal(left.tasks, right.tasks)
    assert (left.jobs["status"].astype(str).isin(["queued", "processing"])).sum() < len(history)


# Any JSON value an HTTP API could send (valid UTF-8: no lone surrogates).
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_FIELDS = (
    "kind",
    "status",
    "input",
    "output",
    "options",
    "metadata",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
    "tasks",
    "surprise",
)


@st.composite
def _job(draw: st.DrawFn, index: int) -> dict[str, Any]:
    job: dict[str, Any] = {"id": f"job_{index}"}
    for name in _FIELDS:
        if draw(st.booleans()):
            job[name] = draw(_values)
    if draw(st.booleans()):
        job["tasks"] = [
            {
                "id": f"task_{index}_{k}",
                **{
                    f: draw(_values)
                    for f in draw(st.sets(st.sampled_from(_FIELDS[:-2]), max_size=5))
                },
            }
            for k in range(2)
        ]
    return job


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(*[_job(i) for i in range(n)])))
def test_arbitrary_payloads_survive_the_whole_path(jobs: tuple[dict[str, Any], ...]) -> None:
    records = list(jobs)
    direct = itf.to_frames(records)
    with serve(records, list_tasks=False) as api, fast_client(api) as client:
        fetched = itf.read_jobs(client=client)
    # Over HTTP and back: the same frames, the same problems, no job lost.
    by_id = fetched.jobs.sort_values("job_id").reset_index(drop=True)
    assert_frame_equal(by_id, direct.jobs.sort_values("job_id").reset_index(drop=True))
    assert sorted(fetched.jobs["job_id"]) == sorted(j["id"] for j in records)
    assert len(fetched.problems) == len(direct.problems)
    with tempfile.TemporaryDirectory() as tmp:
        fetched.to_parquet(tmp)
        back = itf.read_parquet(tmp)
    assert sorted(back.jobs["job_id"]) == sorted(j["id"] for j in records)
    assert len(back.tasks) == len(direct.tasks)
