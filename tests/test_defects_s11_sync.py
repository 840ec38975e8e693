"""Session 11's sync defects (noticed by session 10).

1. ``sync(kind=...)`` sent any word to the listing's ``kind`` filter: a category the
   listing does not take (``other``, a task kind such as ``probe``) was an HTTP 400, so
   ``ittybit-frames sync --kind other`` failed. Such a word is now applied to the listed
   jobs (only they are written), as read_jobs and export do.
2. A job whose ID the API pads (``" job_sp "``) is keyed ``job_sp`` in the lake; a server
   that keys it by its raw ID answered 404 to ``GET /jobs/job_sp`` on every sync.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def kinds_history() -> list[dict[str, Any]]:
    """250 jobs: every 10th a ``probe`` (a task kind), every 25th an unknown kind."""
    history = generate_history(250, seed=11, end=END)
    for i, job in enumerate(history):
        if i % 25 == 3:
            job["kind"] = "hologram"
        elif i % 10 == 0:
            job["kind"] = "probe"
    return history


def ids_of(history: list[dict[str, Any]], kind: str) -> list[str]:
    return sorted(j["id"] for j in history if j["kind"] == kind)


@pytest.mark.parametrize(("word", "raw"), [("probe", "probe"), ("other", "hologram")])
def test_a_sync_of_a_kind_the_listing_does_not_take_writes_that_kind_only(
    tmp_path: Path, word: str, raw: str
) -> None:
    history = kinds_history()
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        report = itf.sync(tmp_path, client=client, kind=word)
        assert report.failures.empty, report.failures.to_dict("records")
        lake = itf.read_parquet(tmp_path).jobs
        assert sorted(lake["job_id"]) == ids_of(history, raw)
        assert set(lake["kind"]) == {word}
        check = itf.check_lake(tmp_path)  # the kind's frontier is its newest job's
        assert check.healthy, check.problems
        # A later sync of every kind does not take the lake for complete: it reads all.
        again = itf.sync(tmp_path, client=client)
    assert again.failures.empty
    assert again.new_jobs == len(history) - len(ids_of(history, raw)), again
    assert sorted(itf.read_parquet(tmp_path).jobs["job_id"]) == sorted(j["id"] for j in history)
    sync_state = json.loads((tmp_path / itf.lake.MANIFEST).read_text())["sync"]
    assert set(sync_state["frontiers"]) == {word, "*"}


def test_a_sync_of_a_listed_kind_still_filters_at_the_api(tmp_path: Path) -> None:
    history = kinds_history()
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        report = itf.sync(tmp_path, client=client, kind="video")
    videos = ids_of(history, "video")
    assert sorted(itf.read_parquet(tmp_path).jobs["job_id"]) == videos
    assert report.requests <= len(videos) // 100 + 2, report  # the API filtered


def test_an_older_kind_word_is_synced_as_its_category(tmp_path: Path) -> None:
    history = kinds_history()
    for job in history[:40]:
        if job["kind"] == "probe":
            job["kind"] = "export"
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        report = itf.sync(tmp_path, client=client, kind="upload")  # staging's word for export
    assert report.failures.empty
    assert sorted(itf.read_parquet(tmp_path).jobs["job_id"]) == ids_of(history, "export")
    state = json.loads((tmp_path / itf.lake.MANIFEST).read_text())["sync"]
    assert set(state["frontiers"]) == {"export"}


def test_the_cli_syncs_kind_other(tmp_path: Path) -> None:
    history = kinds_history()
    lake = tmp_path / "lake"
    with serve(history, api_key=SECRET) as api:
        api.stop_advancing()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "ittybit_frames.cli",
                "sync",
                str(lake),
                "--kind",
                "other",
                "--base-url",
                api.url,
                "--quiet",
            ],
            env={"ITTYBIT_API_KEY": SECRET, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    assert sorted(itf.read_parquet(lake).jobs["job_id"]) == ids_of(history, "hologram")


# --------------------------------------------------------------------------------------
# 2. A job the API keys by its padded ID
# --------------------------------------------------------------------------------------
def padded_unfinished() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A finished history, and its oldest job made unfinished with the ID ``" job_sp\\t"``:
    the oldest, so a sync re-reads it by ID (listing down to it costs more)."""
    history = generate_history(300, seed=7, end=END)
    done = sorted(
        (j for j in history if j["status"] in ("succeeded", "failed", "cancelled")),
        key=lambda j: -j["created_at"],
    )
    job = {**done[-1], "id": " job_sp\t", "status": "processing"}
    return done[:-1], job


def test_a_fresh_client_refreshes_a_padded_unfinished_job_by_its_raw_id(tmp_path: Path) -> None:
    """Each ``ittybit-frames sync`` is a new client: the lake's manifest keeps the raw ID
    of each unfinished padded job, and drops it once the job is finished."""
    done, job = padded_unfinished()
    with serve([*done, job], api_key=SECRET) as api:
        api.stop_advancing()
        with fast_client(api) as client:
            itf.sync(tmp_path, client=client)
        state = json.loads((tmp_path / itf.lake.MANIFEST).read_text())["sync"]
        assert state["padded_ids"] == {"job_sp": " job_sp\t"}
        api.add_jobs([{**job, "status": "succeeded", "updated_at": job["updated_at"] + 1000}])
        with fast_client(api) as client:
            report = itf.sync(tmp_path, client=client)
    assert report.failures.empty, report.failures.to_dict("records")
    assert report.refreshed == 1, report
    jobs = itf.read_parquet(tmp_path).jobs.set_index("job_id")
    assert jobs.loc["job_sp", "status"] == "succeeded"
    state = json.loads((tmp_path / itf.lake.MANIFEST).read_text())["sync"]
    assert "padded_ids" not in state


def test_fetch_jobs_requests_a_padded_id_as_given_when_the_plain_one_is_not_found() -> None:
    done, job = padded_unfinished()
    with serve([*done[:3], job], api_key=SECRET) as api, fast_client(api) as client:
        result = client.fetch_jobs([" job_sp\t", "job_nope", done[0]["id"]])
        assert [j["id"] for j in result.jobs] == ["job_sp", done[0]["id"]]  # as the lake keys it
        assert result.failures["job_id"].tolist() == ["job_nope"]
        assert result.failures["status_code"].tolist() == [404]
        assert client.get_job("job_sp")["id"] == "job_sp"  # it knows the padded form now
        with fast_client(api) as fresh, pytest.raises(itf.errors.NotFoundError):
            fresh.get_job("job_sp")  # never given padded: nothing to retry with
