"""Short reprs that summarise: a notebook's print() never dumps payloads or empty frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import ittybit_frames as itf
from ittybit_frames.schema import counted, describe_failures, failures_frame
from ittybit_frames.simulator import SimulatorAPI
from tests.conftest import fast_client


def test_counted_and_describe_failures() -> None:
    assert counted(1, "job") == "1 job" and counted(0, "job") == "0 jobs"
    assert counted(1200, "retry", "retries") == "1,200 retries"
    assert describe_failures(None) == "0 failures"
    rows = [{"job_id": f"j{i}", "kind": k, "message": "x"} for i, k in enumerate("aabbbcd")]
    text = describe_failures(failures_frame(rows), top=2)
    assert text == "7 failures (b 3, a 2, 2 other kinds)"


def test_fetch_result_repr_summarises(api: SimulatorAPI) -> None:
    ids = [job["id"] for job in api.jobs[:20]]
    with fast_client(api) as client:
        result = client.fetch_jobs([*ids, "job_missing_1", "bad id!"])
    text = repr(result)
    assert text.startswith("FetchResult(20 jobs, 2 failures (")
    assert "requests" in text and "\n" not in text and len(text) < 200
    assert api.api_key not in text
    assert ids[0] not in text  # no payload in the repr


def test_sync_report_repr_summarises(api: SimulatorAPI, tmp_path: Path) -> None:
    with fast_client(api) as client:
        report = itf.sync(tmp_path / "lake", client=client)
    text = repr(report)
    assert text.startswith(f"SyncReport({len(api.jobs):,} new, 0 updated")
    assert "0 failures" in text and f"lake {len(api.jobs):,} jobs" in text
    assert "Empty DataFrame" not in text and "\n" not in text
    empty = itf.SyncReport()
    assert repr(empty).startswith("SyncReport(0 new") and "newest created none" in repr(empty)
    assert isinstance(report.failures, pd.DataFrame)
