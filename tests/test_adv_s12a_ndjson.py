"""Session 12 adversarial pass over the NDJSON fast path's structure-first reading
(commit 92f229c): lines that differ from the documented shape only in a timestamp's
JSON type, as raw text (forms ``json.dumps`` never writes: ``-0``, ``1e3``, ``1.0``),
timestamps of different types in different tasks of one job (DuckDB merges a list's
elements into one structure), envelopes beside, before and between jobs, and blocks cut
so that blocks read with numeric timestamps and blocks read with text ones alternate.
Each gives the careful path's frames; every case passed when written (guards)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

#: A fixed end: the raw timestamp forms below are test IDs, which must not change with the
#: clock (pytest-xdist's workers each collect, and refuse to run when their IDs differ).
END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
JOBS = generate_history(6, seed=12, end=END)


def _careful(data: bytes) -> itf.JobFrames:
    return itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))


def _left_lines(data: bytes, block_bytes: int = 2**20) -> list[int]:
    return [r for block in _ndjson.scan(data, block_bytes) for r, _ in block.left]


def _line(job: Any) -> str:
    return json.dumps(job)


def _stamp_written(text: str) -> str:
    """JOBS[1]'s line with its ``created_at`` written as ``text`` (raw JSON)."""
    line = _line(JOBS[1])
    old = f'"created_at": {JOBS[1]["created_at"]}'
    assert old in line
    return line.replace(old, f'"created_at": {text}', 1)


#: Raw forms of a timestamp, and whether SQL takes the line.
RAW_STAMPS = {
    "-0": False,
    "0": False,
    "1e3": False,
    f"{JOBS[1]['created_at']}.0": False,
    f"{JOBS[1]['created_at'] / 1000}e3": False,
    "true": False,
    "NaN": False,
    str(2**64 - 1): False,
    str(2**64): False,
    str(-(2**63)): False,
    "99999999999999999": False,
    "4102444799999": True,  # the last millisecond in range
    "946684800": True,  # the first second in range, in seconds
}


@pytest.mark.parametrize("text", sorted(RAW_STAMPS))
@pytest.mark.parametrize("where", ["first", "middle", "last", "enveloped"])
def test_a_raw_timestamp_form_among_integer_lines_equals_careful_path(
    text: str, where: str
) -> None:
    odd = _stamp_written(text)
    lines = [_line(JOBS[0]), _line(JOBS[2])]
    if where == "enveloped":
        odd = '{"meta": {"page": 1}, "data": ' + odd + "}"
    lines.insert({"first": 0, "last": 2}.get(where, 1), odd)
    data = ("\n".join(lines) + "\n").encode()
    odd_at = {"first": 1, "last": 3}.get(where, 2)
    assert _left_lines(data) == ([] if RAW_STAMPS[text] else [odd_at])
    assert_same(through_sql(data), _careful(data))


#: A timestamp of each of two tasks of one job: DuckDB merges the task list's
#: elements (UBIGINT with BIGINT shows HUGEINT, with text JSON, with a float DOUBLE).
TASK_PAIRS = {
    "positive and negative": (1_793_620_731_779, -5),
    "positive and past 63 bits": (1_793_620_731_779, 2**63 + 1),
    "past 63 bits and negative": (2**63 + 1, -1),
    "integer and text": (1_793_620_731_779, "1793620731779"),
    "integer and float": (1_793_620_731_779, 1_793_620_731_779.0),
    "integer and ISO-8601": (1_793_620_731_779, "2026-11-02T11:59:01.779Z"),
    "integer and null": (1_793_620_731_779, None),
    "integer and bool": (1_793_620_731_779, True),
}


@pytest.mark.parametrize("name", sorted(TASK_PAIRS))
def test_timestamps_of_two_types_in_two_tasks_equal_careful_path(name: str) -> None:
    first, second = TASK_PAIRS[name]
    job = copy.deepcopy(next(j for j in JOBS if len(j["tasks"]) >= 2))
    job["tasks"][0]["finished_at"] = first
    job["tasks"][-1]["finished_at"] = second
    data = "".join(_line(j) + "\n" for j in (JOBS[0], job, JOBS[2])).encode()
    assert_same(through_sql(data), _careful(data))


def test_envelope_only_blocks_and_jobs_after_envelopes_are_in_line_order() -> None:
    """Envelopes read after the job lines of their block are sorted back into line
    order: a block of envelopes only, envelopes before jobs, numeric and text blocks
    alternating (one ISO-8601 timestamp makes its block read timestamps as text)."""
    history = generate_history(30, seed=4, end=END)
    lines = []
    for i, original in enumerate(history):
        job = original
        if i % 7 == 3:
            job = copy.deepcopy(original)
            job["created_at"] = "2026-11-02T11:59:01.779Z"
        text = _line(job)
        lines.append('{"data": ' + text + ', "links": {"n": ' + str(i) + "}}" if i % 3 else text)
    data = ("\n".join(lines) + "\n").encode()
    careful = _careful(data)
    for block_bytes in (1, 3000, 9000, 2**20):
        assert _left_lines(data, block_bytes) == []
        frames = through_sql(data, block_bytes=block_bytes)
        assert_same(frames, careful)
        assert list(frames.jobs["job_id"]) == [j["id"] for j in history]
