"""Session 10's sync defects (noticed by session 9).

1. The lake's recorded lower bound (manifest ``sync.since``) is the lowest ``since`` a
   completed walk covered: it was recorded when a first walk *began*, so a first sync
   that found nothing, or one interrupted and run again with another ``since``, left a
   bound the lake does not hold; a lake without one (older versions) is read whole.
2. The data problems ``to_frames`` finds in a sync's batches reach ``SyncReport`` and
   the CLI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import read_manifest, write_manifest
from ittybit_frames.simulator import generate_history, serve
from tests import conftest, test_defects_s9_sync
from tests.conftest import SECRET, fast_client
from tests.test_lake_safety import records

SINCE = "2026-11-20"
EARLIER = "2026-11-10"
LATER = "2026-11-25"
END = dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC)


def ms(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 10**6)


@pytest.fixture
def api() -> Iterator[Any]:
    """Enough jobs after each day above for walks of several pages."""
    with serve(generate_history(1500, seed=7, end=END), api_key=SECRET) as sim:
        yield sim


def bound(lake: Path) -> Any:
    return read_manifest(lake)["sync"].get("since", "absent")


def oldest(lake: Path) -> dict[str, int]:
    """Kind -> creation time (epoch ms) of its oldest job in the lake."""
    jobs = itf.read_parquet(lake).jobs
    per_kind = jobs.groupby("kind", observed=True)["created_at"].min()
    return {str(k): int(t.value // 10**6) for k, t in per_kind.items()}


def interrupted_first_sync(lake: Path, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sync(since=SINCE)`` stopped by Ctrl-C after two pages (a checkpoint is saved)."""
    conftest.interrupted_first_sync(lake, api, monkeypatch, SINCE)


# --------------------------------------------------------------------------------------
# 1. The recorded bound is what a completed walk covered
# --------------------------------------------------------------------------------------
def test_a_resumed_first_sync_with_an_earlier_since_records_that_since(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why: the bound was recorded as the interrupted walk began (SINCE); the resumed
    walk went on down to EARLIER, and the lake said it held jobs from SINCE."""
    lake = tmp_path / "lake"
    interrupted_first_sync(lake, api, monkeypatch)
    with fast_client(api) as client:
        itf.sync(lake, client=client, since=EARLIER)
    assert bound(lake) == ms(EARLIER)
    assert min(oldest(lake).values()) < ms(SINCE)


def test_a_resumed_first_sync_with_a_later_since_records_that_since(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resumed walk stops at LATER: the lake holds nothing of any kind between
    SINCE and LATER, so a kind synced afterwards must not read back to SINCE."""
    lake = tmp_path / "lake"
    interrupted_first_sync(lake, api, monkeypatch)
    with fast_client(api) as client:
        itf.sync(lake, client=client, since=LATER)
        assert bound(lake) == ms(LATER)
        video = itf.sync(lake, client=client, kind="video")
    assert video.new_jobs == 0, video  # every video job since LATER is there already
    assert min(oldest(lake).values()) >= ms(LATER)


def test_a_first_sync_that_found_nothing_does_not_bound_the_next(
    tmp_path: Path,
) -> None:
    """Why: a first sync of an empty account recorded "whole history" (no since); the
    next sync, with since=SINCE, read from SINCE, and a kind synced after it read its
    whole history because of the bound recorded by a walk that had found nothing."""
    lake = tmp_path / "lake"
    history = generate_history(1500, seed=7, end=END)
    with serve([], api_key=SECRET) as api, fast_client(api) as client:
        assert itf.sync(lake, client=client).lake_jobs == 0
        api.add_jobs(history)
        assert itf.sync(lake, client=client, since=SINCE).new_jobs > 0
        assert bound(lake) == ms(SINCE)
        video = itf.sync(lake, client=client, kind="video")
    assert video.new_jobs == 0, video
    assert min(oldest(lake).values()) >= ms(SINCE)
    assert any(j["kind"] == "video" and j["created_at"] < ms(SINCE) for j in history)


def test_a_first_sync_in_the_future_then_one_from_since_records_since(
    api: Any, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    with fast_client(api) as client:
        assert itf.sync(lake, client=client, since="2026-12-10").lake_jobs == 0
        itf.sync(lake, client=client, since=SINCE)
    assert bound(lake) == ms(SINCE)


def test_an_all_kinds_first_sync_from_earlier_lowers_a_bound_set_by_one_kind(
    api: Any, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    with fast_client(api) as client:
        itf.sync(lake, client=client, kind="audio", since=SINCE)
        assert bound(lake) == ms(SINCE)
        itf.sync(lake, client=client, since=EARLIER)
        assert bound(lake) == ms(EARLIER)
        itf.sync(lake, client=client, kind="image", since=LATER)  # one kind: not the lake's
    assert bound(lake) == ms(EARLIER)


def test_a_kind_synced_with_a_since_does_not_move_the_lakes_bound(api: Any, tmp_path: Path) -> None:
    """Session 9's rule kept: the lake's bound is its first sync's; one kind's
    own ``since`` later is that kind's only."""
    lake = tmp_path / "lake"
    with fast_client(api) as client:
        itf.sync(lake, client=client, since=SINCE)
        itf.sync(lake, client=client, kind="audio", since=EARLIER)
    assert bound(lake) == ms(SINCE)


env = test_defects_s9_sync.env  # the API key and URL of this module's simulator


def as_an_older_version_left_it(lake: Path) -> None:
    """The manifest's sync state without ``since`` (and a checkpoint without its bound)."""
    manifest = read_manifest(lake)
    manifest["sync"].pop("since", None)
    for walk in manifest["sync"].get("walks", {}).values():
        walk.pop("bound", None)
    write_manifest(lake, manifest)


def test_an_older_lake_without_a_bound_reads_a_new_kind_whole_and_says_so(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["sync", str(lake), "--kind", "audio", "--since", SINCE, "-q"]) == 0
    as_an_older_version_left_it(lake)
    capsys.readouterr()
    assert main(["sync", str(lake), "--kind", "video", "-q"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert "no lower bound" in line and "whole history" in line and "--since" in line, line
    first_video = min(j["created_at"] for j in env.jobs if j["kind"] == "video")
    assert oldest(lake)["video"] == first_video
    assert bound(lake) == "absent"  # a kind's walk does not make one up for the lake
    # A kind already synced, or a given --since: nothing to say about the bound.
    assert main(["sync", str(lake), "--kind", "video", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_an_older_lakes_interrupted_first_sync_resumes_to_its_own_bound(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    interrupted_first_sync(lake, api, monkeypatch)
    as_an_older_version_left_it(lake)
    with fast_client(api) as client:
        itf.sync(lake, client=client)
    assert bound(lake) == ms(SINCE)
    assert min(oldest(lake).values()) >= ms(SINCE)
    wanted = sorted(j["id"] for j in api.jobs if j["created_at"] >= ms(SINCE))
    assert sorted(itf.read_parquet(lake).jobs["job_id"]) == wanted


def test_the_cli_says_an_earlier_since_for_all_kinds_moves_the_lakes_bound_back(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["sync", str(lake), "--kind", "audio", "--since", SINCE, "-q"]) == 0
    capsys.readouterr()
    assert main(["sync", str(lake), "--since", EARLIER, "-q"]) == 0
    [line] = capsys.readouterr().err.splitlines()
    assert "moves back" in line and "2026-11-20" in line, line
    assert bound(lake) == ms(EARLIER)


# --------------------------------------------------------------------------------------
# 2. The data problems to_frames finds in a sync's batches reach its report and the CLI
# --------------------------------------------------------------------------------------
def troubled(n: int = 6) -> list[dict[str, Any]]:
    """``n`` small jobs; the first three each with one data problem."""
    jobs = records("d", n, days=2)
    jobs[0]["started_at"] = "yesterday"  # a bad timestamp
    jobs[1]["tasks"][0]["progress"] = "half"  # a wrong-typed value
    jobs[2]["object"] = "media"  # a record that is not a job
    return jobs


def test_a_sync_carries_the_data_problems_of_what_it_wrote(tmp_path: Path) -> None:
    """Why: a sync logged "N data problems in this batch" and dropped the rows; the
    report and the CLI said nothing."""
    with serve(troubled(), api_key=SECRET) as api, fast_client(api) as client:
        report = itf.sync(tmp_path / "lake", client=client)
    assert report.new_jobs == 6
    assert report.data_problem_count == 3
    rows = report.data_problems
    assert list(rows.columns) == list(itf.to_frames([]).problems.columns)
    assert sorted(zip(rows["job_id"], rows["column"], strict=True)) == [
        ("job_d00000", "started_at"),
        ("job_d00001", "progress"),
        ("job_d00002", "object"),
    ]
    assert "3 data problems" in repr(report)
    assert read_manifest(tmp_path / "lake")["last_sync"]["data_problems"] == 3
    assert "data problem" not in repr(itf.SyncReport())


def test_a_syncs_data_problem_rows_are_bounded_and_counted_whole(tmp_path: Path) -> None:
    jobs = records("b", 1200, days=3)
    for job in jobs:
        job["started_at"] = "yesterday"
    with serve(jobs, api_key=SECRET) as api, fast_client(api) as client:
        report = itf.sync(tmp_path / "lake", client=client, batch_jobs=500)
    assert report.data_problem_count == 1200
    assert len(report.data_problems) == itf.SyncReport.MAX_PROBLEM_ROWS < 1200
    assert report.data_problems["job_id"].is_unique


def test_the_cli_says_a_syncs_data_problems_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(troubled(), api_key=SECRET) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        assert main(["sync", str(tmp_path / "lake"), "-q"]) == 0
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if "data problem" in x]
    assert line.startswith("3 data problems") and "job_d0000" in line, err
    assert len(err.splitlines()) == 1, err
