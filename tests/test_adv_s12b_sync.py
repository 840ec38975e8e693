"""Adversarial pass over session 12's sync changes (the ``sync.walked`` mark, the
checked ``sync`` entry).

A sync of a kind the listing does not filter (``other``) that finds none of its jobs
records how far it listed (``sync.walked``): the newest job listed, of any kind. A walk
killed after its last checkpoint and resumed lists only what lies past its cursor, so
the mark it then recorded was an older job's (the next sync listed again what the
killed one had listed), or none at all when nothing lay past the cursor (the next sync
walked the whole listing again). The checkpoint now keeps how far the walk had listed.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)

# A CLI-less sync in a child process that SIGKILLs itself when the listing has been
# walked to its end: every page is written and checkpointed, the walk's end not yet
# recorded (the worst instant for the mark). With ``stop`` = N it dies after N pages.
_CHILD = """
import os, signal, sys
import ittybit_frames as itf
url, key, lake, stop = sys.argv[1:5]
real = itf.Client._pages_ahead
def pages(self, **options):
    for n, page in enumerate(real(self, **options)):
        if n == int(stop):
            os.kill(os.getpid(), signal.SIGKILL)
        yield page
    os.kill(os.getpid(), signal.SIGKILL)
itf.Client._pages_ahead = pages
itf.sync(lake, client=itf.Client(key, base_url=url, progress=False), kind="other",
         batch_jobs=100)
"""


def _listing_requests(api: Any, start: int) -> int:
    return sum(1 for r in api.requests[start:] if r.path.rstrip("/") == "/jobs")


def _sync_entry(lake: Path) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((lake / itf.lake.MANIFEST).read_text())["sync"]
    return entry


def _killed_then_resumed(lake: Path, stop: int) -> tuple[int, dict[str, Any], int]:
    """(listing requests of the sync after the resumed one, its sync entry, the newest
    job listed) for a history without ``other`` jobs, the first walk SIGKILLed."""
    history = [j for j in generate_history(900, seed=12, end=END) if j["kind"] != "other"]
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, api.url, SECRET, str(lake), str(stop)],
            capture_output=True,
            check=False,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
        assert "other" in _sync_entry(lake)["walks"]  # killed after a checkpoint
        resumed = itf.sync(lake, client=client, kind="other", batch_jobs=100)
        assert resumed.resumed and resumed.failures.empty, resumed
        start = len(api.requests)
        after = itf.sync(lake, client=client, kind="other", batch_jobs=100)
        assert after.failures.empty and after.new_jobs == 0, after
        newest = max(j["created_at"] for j in history)
        return _listing_requests(api, start), _sync_entry(lake), newest


def test_a_walk_killed_after_its_last_checkpoint_still_records_how_far_it_listed(
    tmp_path: Path,
) -> None:
    requests, entry, newest = _killed_then_resumed(tmp_path / "lake", stop=10_000)
    assert entry.get("walked") == {"other": newest}, entry
    assert requests <= 2  # was 9: the whole listing again


def test_a_walk_killed_halfway_records_the_newest_job_it_listed_before_the_kill(
    tmp_path: Path,
) -> None:
    requests, entry, newest = _killed_then_resumed(tmp_path / "lake", stop=3)
    assert entry.get("walked") == {"other": newest}, entry
    assert requests <= 2  # was 4: the pages listed before the kill again


def test_since_reaching_further_back_for_a_marked_kind_is_walked_as_for_a_listed_kind(
    tmp_path: Path,
) -> None:
    """``sync --kind K --since 2d`` finds none of K's jobs, then ``--since 30d``: a kind the
    listing filters (no frontier: not synced yet) is read back 30 days, and finds its
    job of 10 days ago. A kind the listing does not filter stopped at the mark its first
    walk left (``sync.walked``), which says nothing of the 28 days it never listed: its
    job of 10 days ago was never read (before session 12, without the mark, it was)."""
    now = dt.datetime.now(dt.UTC)  # spans are read back from now
    history = [j for j in generate_history(600, seed=12, end=now) if j["kind"] != "other"]
    newest = max(j["created_at"] for j in history)
    day = 86_400_000
    old = [j for j in history if newest - 11 * day < j["created_at"] < newest - 9 * day]
    video = next(j for j in old if j["kind"] == "video")
    history = [j for j in history if j["kind"] != "video" or j is video]
    hologram = {**old[-1], "id": "job_old_hologram", "kind": "hologram"}
    with serve([*history, hologram], api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        found = {}
        for kind, word in (("video", "video"), ("other", "hologram")):
            lake = tmp_path / kind
            first = itf.sync(lake, client=client, kind=kind, since="2d")
            assert first.new_jobs == 0 and first.failures.empty, first
            assert kind == "video" or "other" in _sync_entry(lake)["walked"]
            again = itf.sync(lake, client=client, kind=kind, since="30d")
            assert again.failures.empty, again
            jobs = itf.read_parquet(lake).jobs
            found[kind] = list(jobs.loc[jobs["kind_raw"] == word, "job_id"])
        assert found == {"video": [video["id"]], "other": ["job_old_hologram"]}
        assert itf.check_lake(tmp_path / "other").healthy


def test_since_given_to_a_resumed_walk_of_a_marked_kind_is_walked_down_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk of a marked kind (down to its mark) is interrupted; the sync that resumes
    it is given ``--since 30d``: it went on down to the mark only, so the kind's job of
    10 days ago was never read, where the same ``--since`` without the interruption
    reads it (the test above)."""
    now = dt.datetime.now(dt.UTC)
    history = [j for j in generate_history(600, seed=12, end=now) if j["kind"] != "other"]
    newest = max(j["created_at"] for j in history)
    day = 86_400_000
    old = next(j for j in history if newest - 11 * day < j["created_at"] < newest - 9 * day)
    hologram = {**old, "id": "job_old_hologram", "kind": "hologram"}
    later = [
        {**j, "id": f"job_later{n}", "created_at": newest + 1000 * (n + 1)}
        for n, j in enumerate(history[:300])
    ]
    for job in later:
        job["updated_at"] = max(job["updated_at"], job["created_at"])
    lake = tmp_path / "lake"
    real_pages = itf.Client._pages_ahead

    def ctrl_c_after_two_pages(self: itf.Client, **options: Any) -> Any:
        for n, page in enumerate(real_pages(self, **options)):
            if n == 2:
                raise KeyboardInterrupt
            yield page

    with serve([*history, hologram], api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(lake, client=client, kind="other", since="2d")
        assert "other" in _sync_entry(lake)["walked"]
        api.add_jobs(later)
        with monkeypatch.context() as patch:
            patch.setattr(itf.Client, "_pages_ahead", ctrl_c_after_two_pages)
            with pytest.raises(KeyboardInterrupt):
                itf.sync(lake, client=client, kind="other", batch_jobs=50)
        assert "other" in _sync_entry(lake)["walks"]
        resumed = itf.sync(lake, client=client, kind="other", since="30d", batch_jobs=50)
    assert resumed.resumed and resumed.failures.empty, resumed
    assert list(itf.read_parquet(lake).jobs["job_id"]) == ["job_old_hologram"]
