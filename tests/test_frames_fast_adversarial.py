"""The NDJSON fast path against the careful one on inputs its property tests do not
draw: each case is a line edited as text, read both ways (and from dicts)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

JOBS = generate_history(4, seed=3)
LINES = [json.dumps(job) for job in JOBS]
#: A job line with a task holding input and output files (codecs included).
LINE = next(line for line in LINES if '"codecs": {"video": "' in line)


def _edit(old: str, new: str, line: str = LINE) -> str:
    """``line`` with the first ``old`` (a regular expression) replaced by ``new``."""
    edited, count = re.subn(old, new, line, count=1)
    assert count == 1, old
    return edited


def _same_both_ways(line: str) -> itf.JobFrames:
    """The careful path's frames of ``line`` between two clean lines, checked equal to
    the fast path's (DuckDB must have read them)."""
    data = "\n".join([LINES[0], line, LINES[-1]]).encode() + b"\n"
    careful = itf.to_frames(data, _reader=NdjsonReader(use_sql=False))
    assert_same(through_sql(data), careful)
    return careful


#: A key twice in one object, at every depth the fast path reads: the careful path
#: (Python's and orjson's parsers) keeps the last value, DuckDB's reader the first.
KEY_TWICE = {
    "job status": (r'"status": "succeeded"', '"status": "failed", "status": "succeeded"'),
    "job id": (r'"object": "job"', '"object": "job", "id": "job_other"'),
    "job kind": (r'"kind": "(video|image|audio)"', r'"kind": "animation", "kind": "\1"'),
    "job stamp": (r"\}$", ', "created_at": 5}'),
    "job tasks": (r"\}$", ', "tasks": []}'),
    "job options": (r'"options": \{"format"', '"options": {"x": 1}, "options": {"format"'),
    "job error": (r'"error": null', '"error": "boom", "error": null'),
    "job input": (r'"input": "https', '"input": null, "input": "https'),
    "task progress": (r'"progress": 100', '"progress": 100, "progress": 50'),
    "task id": (r'"id": "task_', '"id": "task_x", "id": "task_'),
    "input url": (r'"url": "https', '"url": "other", "url": "https'),
    "output width": (r'"width": (\d+), "height"', r'"width": 1, "width": \1, "height"'),
    "output codec": (r'"video": "(\w+)"', r'"video": "vp9", "video": "\1"'),
    # The same key, once written with an escape.
    "job status, escaped": (
        r'"status": "succeeded"',
        r'"status": "succeeded", "st\\u0061tus": "x"',
    ),
    "output width, escaped": (
        r'"width": (\d+), "height"',
        r'"w\\u0069dth": 1, "width": \1, "height"',
    ),
}


_KEY_TWICE_COSTS = pytest.mark.xfail(
    strict=True,
    reason="not fixed, by choice: DuckDB's reader keeps the first of a key written twice "
    "(json_structure shows it once), the careful path the last; the exact check (json_keys "
    "over every object, per line) made to_frames on NDJSON 1.55x slower (3.72 s against "
    "2.11-2.47 s on 100,000 jobs), for input no API version sends",
)


@_KEY_TWICE_COSTS
@pytest.mark.parametrize("case", KEY_TWICE)
def test_a_key_twice_in_one_object_is_read_as_the_careful_path_reads_it(case: str) -> None:
    old, new = KEY_TWICE[case]
    _same_both_ways(_edit(old, new))


@_KEY_TWICE_COSTS
def test_a_key_twice_in_an_envelope_is_read_as_the_careful_path_reads_it() -> None:
    job = json.loads(LINE)
    other = dict(job, status="failed")
    for line in (
        '{"data": ' + json.dumps(other) + ', "data": ' + LINE + "}",
        '{"data": ' + _edit(r'"status": "succeeded"', '"status": "x", "status": "succeeded"') + "}",
    ):
        _same_both_ways(line)


@st.composite
def lines_with_a_key_twice(draw: st.DrawFn) -> str:
    """A simulated job line with one key of one of its objects (the job, a task, an
    input or output file, codecs) written twice: another value first or last."""
    job = copy.deepcopy(draw(st.sampled_from(JOBS)))
    objects: list[dict[str, Any]] = [job, *job["tasks"]]
    for task in job["tasks"]:
        for name in ("input", "output"):
            if isinstance(task.get(name), dict):
                objects.append(task[name])
                if isinstance(task[name].get("codecs"), dict):
                    objects.append(task[name]["codecs"])
    target = draw(st.sampled_from([o for o in objects if o]))
    key = draw(st.sampled_from(sorted(target)))
    other = draw(st.sampled_from([None, 1, 2.5, "x", "failed", "video", 1_700_000_000_000]))
    items = list(target.items())
    if draw(st.booleans()):  # the other value first
        target.clear()
        target["__twice__"] = None
        target.update(items)
    else:
        target["__twice__"] = None
    return json.dumps(job).replace('"__twice__": null', json.dumps({key: other})[1:-1])


@_KEY_TWICE_COSTS
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines_with_a_key_twice())
def test_any_key_twice_reads_as_the_careful_path_reads_it(line: str) -> None:
    _same_both_ways(line)
