"""Adversarial pass over session 12's checked ``sync`` entry: hand edits of a walk's
checkpoint (``sync.walks``) and numbers that are no epoch milliseconds in
``sync.frontiers`` / ``sync.walked`` passed the check and failed halfway through a sync
with a traceback (KeyError 'cursor', TypeError comparing a text with a number,
ValueError "cannot read 1e+300 as a time", an invalid job ID), and ``check`` called the
lake healthy. Each is now the one line naming the key, from sync and from check."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.errors import ConfigurationError
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve
from tests.conftest import SECRET, fast_client

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def _walk(key: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        base = {"cursor": None, "newest": None, "lower": None}
        state.setdefault("walks", {})[key] = {**base, **fields}

    return edit


def _without_cursor(state: dict[str, Any]) -> None:
    state.setdefault("walks", {})["*"] = {"newest": None, "lower": None}


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state[key] = value

    return edit


EDITS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "walk without cursor": ("sync.walks", _without_cursor),
    "walk cursor a number": ("sync.walks", _walk("other", cursor=5)),
    "walk newest a text": ("sync.walks", _walk("*", newest="abc")),
    "walk lower a date": ("sync.walks", _walk("*", lower="2026-11-01")),
    "walk reached a text": ("sync.walks", _walk("other", reached="x")),
    "walk newest huge": ("sync.walks", _walk("*", newest=1.5e300)),
    "walk a list": ("sync.walks", _set("walks", {"*": [1, 2]})),
    "frontier huge": ("sync.frontiers", _set("frontiers", {"*": 1e300})),
    "frontier in seconds": ("sync.frontiers", _set("frontiers", {"*": 1_790_000_000})),
    "walked huge": ("sync.walked", _set("walked", {"other": 1e300})),
    "walked negative": ("sync.walked", _set("walked", {"other": -5})),
}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SimulatorAPI]]:
    base = tmp_path_factory.mktemp("base") / "lake"
    with serve(generate_history(300, seed=3, end=END), api_key=SECRET) as api:
        api.stop_advancing()
        with fast_client(api) as client:
            itf.sync(base, client=client)
        yield base, api


def _edited(base: Path, where: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    lake = where / "lake"
    shutil.copytree(base, lake)
    path = lake / itf.lake.MANIFEST
    manifest = json.loads(path.read_text())
    edit(manifest["sync"])
    path.write_text(json.dumps(manifest))
    return lake


@pytest.mark.parametrize("name", list(EDITS))
@pytest.mark.parametrize("kind", [None, "other"])
def test_a_hand_edit_is_one_line_naming_the_key_from_sync(
    synced: tuple[Path, SimulatorAPI], tmp_path: Path, name: str, kind: str | None
) -> None:
    key, edit = EDITS[name]
    base, api = synced
    lake = _edited(base, tmp_path, edit)
    with fast_client(api) as client, pytest.raises(ConfigurationError) as caught:
        itf.sync(lake, client=client, kind=kind)
    message = str(caught.value)
    assert "\n" not in message and key in message, message


@pytest.mark.parametrize("name", list(EDITS))
def test_a_hand_edit_is_a_problem_of_check(
    synced: tuple[Path, SimulatorAPI], tmp_path: Path, name: str
) -> None:
    key, edit = EDITS[name]
    report = itf.check_lake(_edited(synced[0], tmp_path, edit))
    assert not report.healthy
    assert any(key in p for p in report.problems), report.problems
