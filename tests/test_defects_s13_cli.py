"""Session 13's CLI defects (noticed in session 12).

``--format ' '`` (an unset shell variable in quotes) was refused as "invalid choice:
''", which reads like a parser glitch; it now says the value is empty and still lists
the choices. ``info`` did not show a kind's walked mark (``sync.walked``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

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
