"""Session 11b's adversarial pass over sync of a kind the listing does not filter by.

1. ``sync(kind="other")`` re-reads the lake's unfinished jobs the walk did not write by
   ID, as every sync does ("nothing unfinished is skipped"), then kept only the jobs of
   the kind: an unfinished video job was fetched (a request each, every sync), counted
   in ``report.refreshed``, and thrown away, so it stayed unfinished in the lake. A sync
   of a listed kind (``--kind video``) writes such a job, whatever its kind.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def history_with_an_old_unfinished_video() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Finished jobs (every 20th of an unknown kind, so ``other``), and the oldest video
    job made unfinished."""
    history = [
        j
        for j in generate_history(200, seed=5, end=END)
        if j["status"] in ("succeeded", "failed", "cancelled")
    ]
    for i, job in enumerate(history):
        if i % 20 == 7:
            job["kind"] = "hologram"
    video = min((j for j in history if j["kind"] == "video"), key=lambda j: j["created_at"])
    video["status"] = "processing"
    return history, video


def test_a_sync_of_kind_other_writes_the_unfinished_jobs_it_refreshes(tmp_path: Path) -> None:
    history, video = history_with_an_old_unfinished_video()
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client)
        itf.sync(tmp_path, client=client, kind="other")
        done = {**video, "status": "succeeded", "updated_at": video["updated_at"] + 1000}
        api.add_jobs([done])
        report = itf.sync(tmp_path, client=client, kind="other")
    assert report.failures.empty, report.failures.to_dict("records")
    jobs = itf.read_parquet(tmp_path).jobs.set_index("job_id")
    assert jobs.loc[video["id"], "status"] == "succeeded", report
    assert report.refreshed == 1, report
    check = itf.check_lake(tmp_path)
    assert check.healthy, check.problems
