"""Adversarial pass on session 13's sync changes: the overlap below a kind's known end,
and frontiers that no longer move past the walk's start."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client
from tests.test_defects_s11_cli import api, env

__all__ = ["api", "env"]  # the simulator and its environment, as session 11's CLI tests

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
FUTURE_MS = int(dt.datetime(2090, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _history() -> list[dict[str, Any]]:
    return [j for j in generate_history(300, seed=31, end=END) if j["kind"] != "other"]


def _job(template: dict[str, Any], job_id: str, created_at: int) -> dict[str, Any]:
    job = copy.deepcopy(template)
    job.update(id=job_id, created_at=created_at, updated_at=created_at)
    return job


def _sync_state(lake: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((lake / itf.lake.MANIFEST).read_text())["sync"]
    return state


@pytest.mark.parametrize(
    "overlap",
    [1e12, 1e300, 1e307, 30 * 365.25 * 86400],
    ids=["1e12s", "1e300s", "1e307s", "30-years"],
)
def test_an_overlap_reaching_before_2000_walks_the_whole_listing(
    tmp_path: Path, overlap: float
) -> None:
    """An overlap larger than the time since 2000 put the walk's lower end before the
    earliest time the package reads: the sync failed halfway with a ValueError about a
    timestamp (or, for a lower end in January 1970, read its milliseconds as seconds of
    2000-2100 and stopped at once). It walks the whole listing instead."""
    history = _history()
    oldest = min(j["created_at"] for j in history)
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client)
        api.add_jobs([_job(history[5], "job_listed_late", oldest + 1)])
        again = itf.sync(tmp_path, client=client, overlap_seconds=overlap)
    assert again.failures.empty, again.failures.to_dict("records")
    assert again.new_jobs == 1, again
    assert "job_listed_late" in set(itf.read_parquet(tmp_path).jobs["job_id"])
    assert itf.check_lake(tmp_path).healthy


def test_an_overlap_reaching_into_january_1970_is_not_read_as_seconds(tmp_path: Path) -> None:
    """A lower end of 2e9 ms (1970-01-24) is a number epoch_ms reads as seconds (2033):
    the walk stopped above every job. It walks the whole listing instead."""
    history = _history()
    oldest = min(j["created_at"] for j in history)
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client)
        known = _sync_state(tmp_path)["frontiers"]["*"]
        api.add_jobs([_job(history[5], "job_listed_late", oldest + 1)])
        again = itf.sync(tmp_path, client=client, overlap_seconds=(known - 2_000_000_000) / 1000)
    assert again.failures.empty, again.failures.to_dict("records")
    assert again.new_jobs == 1, again


def _moved_from_the_future(lake: Path, *, updated_in_the_future: bool) -> int:
    """Sync a job "created" in 2090, then the same job as the API corrected it (created
    now, updated after its first version unless ``updated_in_the_future``); returns now."""
    history = _history()
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(lake, client=client)
        first_update = FUTURE_MS if updated_in_the_future else int(time.time() * 1000) - 1000
        future = {**_job(history[0], "job_clock", FUTURE_MS), "updated_at": first_update}
        api.add_jobs([future])
        assert itf.sync(lake, client=client).new_jobs == 1
        now = int(time.time() * 1000)
        api.add_jobs([{**future, "created_at": now, "updated_at": now}])
        third = itf.sync(lake, client=client)
    assert third.failures.empty, third.failures.to_dict("records")
    return now


def _kept_once_at(lake: Path, now: int) -> None:
    jobs = itf.read_parquet(lake).jobs
    mine = jobs[jobs["job_id"] == "job_clock"]
    assert len(mine) == 1
    assert int(mine["created_at"].iloc[0].timestamp() * 1000) == now
    assert _sync_state(lake)["frontiers"]["*"] <= int(time.time() * 1000)
    check = itf.check_lake(lake)
    assert check.healthy, check.problems


def test_a_job_moved_from_the_future_to_now_is_moved_in_the_lake(tmp_path: Path) -> None:
    """The API corrects a job "created" in 2090 to its true time (now): the next sync
    lists it (it is newer than the frontier) and the lake keeps it once, in its new day."""
    _kept_once_at(tmp_path, _moved_from_the_future(tmp_path, updated_in_the_future=False))


def test_a_job_updated_in_the_future_takes_the_apis_correction(tmp_path: Path) -> None:
    """The same job, its first version also *updated* in 2090 (one clock bug sets both):
    the corrected version (created and updated now) never replaces it."""
    _kept_once_at(tmp_path, _moved_from_the_future(tmp_path, updated_in_the_future=True))


def test_a_resumed_walk_with_a_larger_overlap_goes_down_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A walk interrupted after a checkpoint, resumed with a larger overlap than it began
    with: it goes down to the larger one (the job listed late below the first overlap
    but inside the second is read)."""
    history = _history()
    newest = max(j["created_at"] for j in history)
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client)
        fresh = [_job(history[i], f"job_new_{i}", newest + 1000 * (i + 1)) for i in range(250)]
        api.add_jobs([*fresh, _job(history[7], "job_late_hour", newest - 3_600_000)])
        real = itf.Client._pages_ahead

        def ctrl_c_after_one_page(self: itf.Client, **options: Any) -> Any:
            for n, page in enumerate(real(self, **options)):
                if n == 1:
                    raise KeyboardInterrupt
                yield page

        with monkeypatch.context() as patch:
            patch.setattr(itf.Client, "_pages_ahead", ctrl_c_after_one_page)
            with pytest.raises(KeyboardInterrupt):
                itf.sync(tmp_path, client=client, batch_jobs=50, overlap_seconds=60)
        assert "*" in _sync_state(tmp_path)["walks"]
        resumed = itf.sync(tmp_path, client=client, overlap_seconds=7200)
    assert resumed.resumed
    ids = set(itf.read_parquet(tmp_path).jobs["job_id"])
    assert "job_late_hour" in ids
    assert {j["id"] for j in fresh} <= ids
    assert itf.check_lake(tmp_path).healthy


@pytest.mark.parametrize("overlap", ["1e12", "1e307", "0.0001"])
def test_cli_sync_with_any_finite_overlap_syncs(
    env: Any, tmp_path: Path, overlap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sync --overlap S`` takes any finite S (the parser refuses inf and nan): a huge
    one failed with a timestamp error halfway through the sync (1e307: an overflow)."""
    lake = tmp_path / "lake"
    assert main(["sync", str(lake)]) == 0
    capsys.readouterr()
    assert main(["sync", str(lake), "--overlap", overlap]) == 0, capsys.readouterr().err
    assert itf.check_lake(lake).healthy
