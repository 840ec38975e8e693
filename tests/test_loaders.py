"""read_jobs against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import SimulatorAPI
from tests.conftest import fast_client


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
