"""Session 11, NDJSON speed on every shape: single-object envelope lines (a tenth of
the older history) are read by SQL, not left for Python, however the envelope is
written, and give exactly what the careful path gives. (A one-pass reading of envelope
lines, tried this session, was no faster than the second query over them: not kept.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import CLEAN_JOBS, assert_same, json_values, through_sql


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
        [],
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


#: Where the word ``data`` may stand in a line besides an envelope's own field: as a
#: key in free-form metadata, as text in a value, as a job's unknown top-level field.
data_elsewhere = st.sampled_from(["metadata key", "metadata text", "job field", "none"])


@st.composite
def lines_with_data_words(draw: st.DrawFn) -> list[str]:
    """Jobs and envelopes written with any spacing around ``:`` and ``,``, with the
    word ``data`` anywhere else in them."""
    lines = [json.dumps(CLEAN_JOBS[0])]
    for _ in range(draw(st.integers(1, 5))):
        job = dict(draw(st.sampled_from(CLEAN_JOBS)))
        where = draw(data_elsewhere)
        if where == "metadata key":
            job["metadata"] = {"data": draw(json_values)}
        elif where == "metadata text":
            job["metadata"] = {"note": '"data": ' + draw(st.text(max_size=3))}
        elif where == "job field":
            job["data"] = draw(json_values)
        colon = draw(st.sampled_from([":", " :", ": ", " :\t"]))
        comma = draw(st.sampled_from([",", ", ", " ,"]))
        text = json.dumps(job, separators=(comma, colon))
        if draw(st.booleans()):
            rest = draw(st.dictionaries(st.sampled_from(["meta", "links", "x"]), json_values))
            fields = [f"{json.dumps(k)}{colon}{json.dumps(v)}" for k, v in rest.items()]
            fields.insert(draw(st.integers(0, len(fields))), f'"data"{colon}{text}')
            text = "{" + comma.join(fields) + "}"
        lines.append(text)
    return lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines_with_data_words())
def test_envelope_written_any_way_with_data_elsewhere_equals_careful_path(lines: list[str]) -> None:
    data = _ndjson_of(lines)
    assert_same(through_sql(data), _careful(data))
