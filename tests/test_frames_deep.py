"""Values nested close to the parsers' limits (orjson reads 1,024 levels, Python's own
recursion stops near 1,000): one such record is one problem row on every input form,
never a RecursionError that loses the whole input. Near 1,000 levels with an integer
beyond 64 bits (read again by the stdlib), or a free-form value re-written by the fast
path, raised RecursionError; past 1,024 levels the line was 'not valid JSON'."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history

HISTORY = generate_history(1100, seed=2)
FAST = NdjsonReader(min_lines=10)


def _deep_line(depth: int, wide: bool) -> str:
    job = {**HISTORY[1], "id": "job_deep", "metadata": None}
    if wide:
        job["big"] = 10**30
    text = json.dumps(job)
    return text.replace('"metadata": null', '"metadata": ' + "[" * depth + "]" * depth)


def _lines(jobs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(job) + "\n" for job in jobs)


def _envelope_line(depth: int, wide: bool) -> str:
    """The deep value in an envelope's meta, around a job of the documented shape."""
    meta: dict[str, Any] = {"m": None, **({"n": 10**30} if wide else {})}
    text = json.dumps({"data": {**HISTORY[1], "id": "job_deep"}, "meta": meta})
    return text.replace('"m": null', '"m": ' + "[" * depth + "]" * depth)


FORMS: dict[str, Callable[[int, bool], str]] = {
    "ndjson": lambda d, w: _lines(HISTORY[:3]) + _deep_line(d, w) + "\n" + _lines(HISTORY[3:6]),
    "ndjson, fast path": lambda d, w: (
        _lines(HISTORY[:600]) + _deep_line(d, w) + "\n" + _lines(HISTORY[600:])
    ),
    "json array": lambda d, w: "[" + json.dumps(HISTORY[0]) + "," + _deep_line(d, w) + "]",
    "envelope lines, fast path": lambda d, w: (
        _lines(HISTORY[:600]) + _envelope_line(d, w) + "\n" + _lines(HISTORY[600:])
    ),
}


@pytest.mark.parametrize("depth", [995, 1030])
@pytest.mark.parametrize("wide", [False, True], ids=["", "wide int"])
@pytest.mark.parametrize("form", list(FORMS))
def test_a_too_deep_record_is_one_problem_row(form: str, wide: bool, depth: int) -> None:
    text = FORMS[form](depth, wide)
    frames = itf.to_frames(text, _reader=FAST)
    assert "job_deep" not in set(frames.jobs["job_id"])
    assert len(frames.jobs) == {"ndjson": 6, "json array": 1}.get(form, 1100)
    [problem] = frames.problems["problem"].tolist()
    assert "nested too deeply" in problem


def test_a_lone_too_deep_document_is_one_problem_row() -> None:
    frames = itf.to_frames(_deep_line(1030, wide=False))
    assert frames.jobs.empty
    [problem] = frames.problems["problem"].tolist()
    assert "nested too deeply" in problem
