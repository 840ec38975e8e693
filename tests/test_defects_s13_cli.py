"""Session 13's CLI defects (noticed in session 12).

``--format ' '`` (an unset shell variable in quotes) was refused as "invalid choice:
''", which reads like a parser glitch; it now says the value is empty and still lists
the choices. ``info`` did not show a kind's walked mark (``sync.walked``). ``check --repair`` left a
hand-edited sync entry of the wrong shape for the user to remove.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import MANIFEST
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client
from tests.test_defects_s11_cli import api, env

__all__ = ["api", "env"]  # the simulator and its environment, as session 11's CLI tests

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_choice_says_it_is_empty(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x"
    assert main(["export", "job_a", "--format", value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "empty" in err and "parquet" in err and "ndjson" in err, err
    assert not out.exists()


def test_info_shows_how_far_a_kind_the_listing_does_not_filter_was_walked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sync --kind other`` with no job of the kind records how far it walked the
    listing (``sync.walked``); ``info`` said nothing of it ("never synced")."""
    history = [j for j in generate_history(200, seed=13, end=END) if j["kind"] != "other"]
    newest = max(j["created_at"] for j in history)
    with serve(history, api_key=SECRET) as api, fast_client(api) as client:
        api.stop_advancing()
        itf.sync(tmp_path, client=client, kind="other")
    lake = str(tmp_path)
    assert main(["--json", "info", lake]) == 0
    info = json.loads(capsys.readouterr().out)
    walked = pd.Timestamp(info["sync_walked_to"]["other"])
    assert walked == pd.Timestamp(newest, unit="ms", tz="UTC"), info
    assert main(["info", lake]) == 0
    text = capsys.readouterr().out
    assert "listing walked to other: " in text, text


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_sync_refuses_a_bad_overlap(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["sync", str(lake), "--overlap", value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overlap" in err, err
    assert not lake.exists()


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_the_sync_function_refuses_a_bad_overlap(tmp_path: Path, value: float) -> None:
    with pytest.raises(itf.ConfigurationError, match="overlap_seconds"):
        itf.sync(tmp_path / "lake", api_key=SECRET, overlap_seconds=value)
    assert not (tmp_path / "lake").exists()


# check --repair and a hand-edited sync entry ---------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("padded_ids", ["job_a"]),
        ("frontiers", "today"),
        ("walks", [1, 2]),
        ("walked", {"other": "yesterday"}),
        (None, ["not", "an", "object"]),
    ],
)
def test_check_repair_removes_a_malformed_sync_entry_and_the_next_sync_reads_all(
    env: Any, tmp_path: Path, key: str | None, value: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check`` named a hand-edited sync entry, but ``--repair`` left it for the user to
    remove by hand, and every sync refused the lake until then. It now removes what is
    malformed (nothing else) and says what that costs; the next sync reads what it can no
    longer tell it has, and the lake keeps every job once."""
    lake = tmp_path / "lake"
    assert main(["sync", str(lake)]) == 0
    jobs_before = itf.read_parquet(lake).jobs["job_id"].sort_values().tolist()
    manifest = json.loads((lake / MANIFEST).read_text())
    kept_bound = manifest["sync"].get("since")
    if key is None:
        manifest["sync"] = value
    else:
        manifest["sync"][key] = value
    (lake / MANIFEST).write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["check", str(lake), "--repair"]) == 0, capsys.readouterr().err
    repaired = itf.check_lake(lake)
    assert repaired.healthy, repaired.problems
    state = json.loads((lake / MANIFEST).read_text()).get("sync", {})
    assert isinstance(state, dict)
    if key is not None:
        assert key not in state and state.get("since") == kept_bound, state
    assert main(["sync", str(lake)]) == 0, capsys.readouterr().err
    jobs = itf.read_parquet(lake).jobs["job_id"]
    assert jobs.is_unique
    assert set(jobs_before) <= set(jobs)


def test_check_says_repair_removes_a_malformed_sync_entry(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["sync", str(lake)]) == 0
    manifest = json.loads((lake / MANIFEST).read_text())
    manifest["sync"]["frontiers"] = "today"
    (lake / MANIFEST).write_text(json.dumps(manifest))
    before = (lake / MANIFEST).read_bytes()
    report = itf.check_lake(lake)
    assert any("sync.frontiers" in p and "--repair removes it" in p for p in report.problems)
    assert (lake / MANIFEST).read_bytes() == before  # a check without --repair writes nothing
    fixed = itf.check_lake(lake, repair=True)
    assert any("sync.frontiers" in r for r in fixed.repaired), fixed.repaired
