"""Adversarial pass over session 10's sync bound (manifest ``sync.since``).

A bound edited by hand (a date string, a list, a time after 2100 or in the future) made
a sync with ``since`` fail with a TypeError traceback (``min`` of a number and a
string), and a sync of a new kind fail with "cannot read 4102444800000 as a time": a
value the user never typed, with no word of the manifest. Now the sync reads a date as
the time it names and refuses anything else in one line that names the manifest's key,
before any request.
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
from ittybit_frames.errors import ConfigurationError
from ittybit_frames.lake import read_manifest, write_manifest
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC)


@pytest.fixture
def api() -> Iterator[Any]:
    with serve(generate_history(200, seed=7, end=END), api_key=SECRET) as sim:
        yield sim


def lake_bound_to(tmp_path: Path, api: Any, since: Any) -> Path:
    lake = tmp_path / "lake"
    with fast_client(api) as client:
        itf.sync(lake, client=client, since="2026-11-20", kind="video")
    manifest = read_manifest(lake)
    manifest["sync"]["since"] = since
    write_manifest(lake, manifest)
    return lake


BAD = ["soon", [1], True, 4102444800000, "2126-01-01", 1.0e20]
SYNCS = [{"since": "2026-11-10"}, {"kind": "image"}, {}]


@pytest.mark.parametrize("how", SYNCS, ids=["since", "kind", "all"])
@pytest.mark.parametrize("bad", BAD, ids=[repr(b) for b in BAD])
def test_a_malformed_bound_is_one_line_naming_the_manifest(
    api: Any, tmp_path: Path, bad: Any, how: dict[str, Any]
) -> None:
    lake = lake_bound_to(tmp_path, api, bad)
    with fast_client(api) as client, pytest.raises(ConfigurationError) as caught:
        itf.sync(lake, client=client, **how)
    message = str(caught.value)
    assert "sync.since" in message and "\n" not in message, message
    assert read_manifest(lake)["sync"]["since"] == bad  # left as found


def test_the_cli_says_it_in_one_line_and_exits_2(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = lake_bound_to(tmp_path, api, "soon")
    monkeypatch.setenv("ITTYBIT_API_KEY", SECRET)
    monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
    code = main(["sync", str(lake), "--since", "2026-11-10", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "sync.since" in err, err
    assert "Traceback" not in err


def test_a_date_written_by_hand_is_read_as_that_time(api: Any, tmp_path: Path) -> None:
    lake = lake_bound_to(tmp_path, api, "2026-11-15")
    with fast_client(api) as client:
        itf.sync(lake, client=client, since="2026-11-10")  # all kinds, further back
    assert read_manifest(lake)["sync"]["since"] == int(
        pd.Timestamp("2026-11-10", tz="UTC").value // 10**6
    )
