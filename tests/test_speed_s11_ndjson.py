"""Session 11, NDJSON speed: a single-object envelope line is read by DuckDB in the same
pass as a job line (the job in ``data``, the rest as text), not in a second query over
the envelope lines. Checked here: the histories of every API generation and envelopes
written in ways a text test could miss give exactly what the careful path gives, and
the envelope lines of the documented shape are taken by SQL, not left for Python."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql


def _ndjson_of(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _careful(data: bytes) -> itf.JobFrames:
    return itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))


def _left_lines(data: bytes) -> list[int]:
    """The line numbers the fast path leaves for the careful one."""
    return [r for block in _ndjson.scan(data, 2**20) for r, _ in block.left]


@pytest.mark.parametrize("generation", ["older", "mix"])
def test_generation_history_through_sql_equals_careful_path(generation: str) -> None:
    jobs = generate_history(300, seed=5, generation=generation)
    data = _ndjson_of([json.dumps(job) for job in jobs])
    assert b'"data":' in data.replace(b" ", b"")  # envelopes are among the lines
    assert _left_lines(data) == []  # every line of the documented shapes taken by SQL
    assert_same(through_sql(data), _careful(data))


JOB = generate_history(3, seed=21)[0]


def _envelope(job: dict[str, Any], *, sep: str = ":", key: str = '"data"', **rest: Any) -> str:
    fields = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items()]
    return "{" + ", ".join([*fields, f"{key}{sep}{json.dumps(job)}"]) + "}"


# Each case: the lines (a plain job first, so that the input is mostly of the job
# shape) and the line numbers the fast path must leave for the careful one.
CASES: dict[str, tuple[list[str], list[int]]] = {
    "envelope, spaces around the colon": (
        [json.dumps(JOB), _envelope(JOB, sep=" :  ", meta={"v": 1})],
        [],
    ),
    "envelope, data first": ([json.dumps(JOB), json.dumps({"data": JOB, "links": None})], []),
    "envelope, data key escaped": (
        [json.dumps(JOB), _envelope(JOB, key='"\\u0064ata"', meta={"v": 1})],
        [2],
    ),
    "job with data in its metadata": (
        [json.dumps(JOB), json.dumps({**JOB, "metadata": {"data": {"id": "x"}}})],
        [],
    ),
    "job with the text data in a value": (
        [json.dumps(JOB), json.dumps({**JOB, "metadata": {"note": '"data": {}'}})],
        [],
    ),
    "job with a top-level data field": ([json.dumps(JOB), json.dumps({**JOB, "data": 5})], [2]),
    "envelope with NaN beside data": (
        [json.dumps(JOB), _envelope(JOB).replace("{", '{"m": NaN, ', 1)],
        [2],
    ),
    "envelope around a job with an unknown key": (
        [json.dumps(JOB), _envelope({**JOB, "zz": 1}, meta={})],
        [2],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_envelope_written_any_way_equals_careful_path(name: str) -> None:
    lines, left = CASES[name]
    data = _ndjson_of(lines)
    assert _left_lines(data) == left
    assert_same(through_sql(data), _careful(data))
