"""read_jobs against the simulator."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import SimulatorAPI, serve
from tests.conftest import SECRET, fast_client
from tests.frames_equal import assert_frame_equal


def test_read_by_listing_with_filters(api: SimulatorAPI, history: list[dict[str, Any]]) -> None:
    frames = itf.read_jobs(kind="audio", api_key=api.api_key, base_url=api.url, progress=False)
    expected = {j["id"] for j in history if j["kind"] == "audio"}
    assert set(frames.jobs["job_id"]) == expected
    assert frames.failures is not None and frames.failures.empty
    assert len(frames.tasks) == 4 * len(expected)


def test_read_by_ids_collects_failures_and_filters(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    ids = [j["id"] for j in history[:40]] + ["job_missing"]
    with fast_client(api) as client:
        frames = itf.read_jobs(ids, client=client)
        failed_only = itf.read_jobs(ids, status="failed", client=client)
    assert list(frames.jobs["job_id"]) == ids[:40]
    assert list(frames.failures["job_id"]) == ["job_missing"]  # type: ignore[index]
    assert set(failed_only.jobs["status"]) <= {"failed"}
    assert set(failed_only.tasks["job_id"]) == set(failed_only.jobs["job_id"])
    assert len(failed_only.jobs) == sum(j["status"] == "failed" for j in history[:40])


def test_read_jobs_rejects_client_and_options_together(api: SimulatorAPI) -> None:
    with fast_client(api) as client, pytest.raises(itf.ConfigurationError):
        itf.read_jobs(client=client, concurrency=3)


def _same(got: itf.JobFrames, want: itf.JobFrames) -> None:
    for name in ("jobs", "tasks"):
        a, b = getattr(got, name), getattr(want, name)
        keys = ["job_id"] if name == "jobs" else ["job_id", "task_id"]
        assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        )
    assert len(got.problems) == len(want.problems)


@pytest.mark.parametrize("big", [False, True])
def test_read_jobs_keeps_every_value_the_server_sent(
    history: list[dict[str, Any]], big: bool
) -> None:
    """Listing and by ID: the frames are those of the answers' jobs, value for value
    (an integer beyond 64 bits included, to the last digit)."""
    jobs = copy.deepcopy(history[:150])
    jobs[3]["metadata"] = {"note": "ünïcode \u2028 line separator", "n": 2**62}
    if big:
        jobs[5]["metadata"] = {"big": 123456789012345678901234567890}
    with serve(jobs, api_key=SECRET) as api, fast_client(api) as client:
        listed = itf.read_jobs(client=client)
        by_id = itf.read_jobs([j["id"] for j in jobs], client=client)
    want = itf.to_frames(jobs)
    _same(listed, want)
    _same(by_id, want)
    if big:
        for frames in (listed, by_id):
            kept = frames.jobs.set_index("job_id").loc[jobs[5]["id"], "metadata"]
            assert kept == '{"big":123456789012345678901234567890}'
