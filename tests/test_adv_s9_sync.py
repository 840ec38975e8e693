"""Session 9's adversarial pass over the lake's recorded ``since``: a first sync
interrupted, then run again with another ``since`` (``sync``'s docstring: "Given again
for a kind not synced yet, it is that kind's bound")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client, interrupted_first_sync

SINCE = "2026-11-20"
EARLIER = "2026-11-10"


def ms(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 10**6)


@pytest.fixture
def api() -> Iterator[Any]:
    """Enough jobs after D for a walk of several pages (the shared history has one)."""
    end = dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC)
    with serve(generate_history(1500, seed=7, end=end), api_key=SECRET) as sim:
        yield sim


def test_a_first_sync_resumed_with_an_earlier_since_reaches_back_to_it(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during ``sync(since=D)``, then ``sync(since=E)`` with E before D: the lake
    is still not synced, so E is its bound. The resumed walk kept the interrupted one's
    bound D and the lake had no job before D, silently."""
    lake = tmp_path / "lake"
    interrupted_first_sync(lake, api, monkeypatch, SINCE)
    with fast_client(api) as client:
        itf.sync(lake, client=client, since=EARLIER)
    wanted = sorted(j["id"] for j in api.jobs if j["created_at"] >= ms(EARLIER))
    assert any(j["created_at"] < ms(SINCE) for j in api.jobs if j["id"] in set(wanted))
    assert sorted(itf.read_parquet(lake).jobs["job_id"]) == wanted
