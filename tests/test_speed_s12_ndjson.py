"""Session 12, NDJSON speed: DuckDB reads each block's structures first and then only
the lines of the documented shape; a block whose every such line writes its timestamps
as positive integers (the current API) has them read as numbers, not as text made and
parsed back. Whatever mix of timestamp forms a block holds, and however large an
integer timestamp is, the rows are the careful path's and no line of the documented
shape is left to it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

JOBS = generate_history(6, seed=12)
STAMPS = ("created_at", "started_at", "finished_at", "updated_at")


def _ndjson_of(jobs: list[Any]) -> bytes:
    return b"".join(json.dumps(job).encode() + b"\n" for job in jobs)


def _careful(data: bytes) -> itf.JobFrames:
    return itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))


def _left_lines(data: bytes) -> list[int]:
    """The line numbers the fast path leaves for the careful one."""
    return [r for block in _ndjson.scan(data, 2**20) for r, _ in block.left]


def _with_task_stamp(job: dict[str, Any], value: Any, field: str = "finished_at") -> Any:
    job = copy.deepcopy(job)
    job["tasks"][-1][field] = value
    return job


def _with_job_stamp(job: dict[str, Any], value: Any, field: str = "created_at") -> Any:
    return {**copy.deepcopy(job), field: value}


def _all_stamps(job: dict[str, Any], write: Any) -> Any:
    """The job with each of its and its tasks' timestamps written by ``write``."""
    job = copy.deepcopy(job)
    for record in (job, *job["tasks"]):
        for field in STAMPS:
            if record.get(field) is not None:
                record[field] = write(record[field])
    return job


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


#: One line among lines of integer timestamps, and whether SQL takes it (else the
#: careful path reads it, and names its problem; main's code leaves the same lines).
CASES: dict[str, tuple[Any, bool]] = {
    "task stamp past 64 bits": (_with_task_stamp(JOBS[1], 2**64 + 7), False),
    "task stamp past 63 bits": (_with_task_stamp(JOBS[1], 2**63 + 7), False),
    "job stamp past 63 bits": (_with_job_stamp(JOBS[1], 2**63), False),
    "job stamp just past the range": (_with_job_stamp(JOBS[1], 4_102_444_800_000), False),
    "job stamp at the range's end in seconds": (_with_job_stamp(JOBS[1], 4_102_444_799), True),
    "task stamp in seconds": (_with_task_stamp(JOBS[1], 1_793_620_731), True),
    "negative task stamp": (_with_task_stamp(JOBS[1], -5), False),
    "zero job stamp": (_with_job_stamp(JOBS[1], 0), False),
    "one task stamp as digits in text": (_with_task_stamp(JOBS[1], "1793620731779"), False),
    "every stamp as digits in text": (_all_stamps(JOBS[1], str), True),
    "one task stamp in ISO-8601": (_with_task_stamp(JOBS[1], _iso(1_793_620_731_779)), False),
    "every stamp in ISO-8601": (_all_stamps(JOBS[1], _iso), True),
    "job stamp in ISO-8601": (_with_job_stamp(JOBS[1], "2026-11-02T11:59:01Z"), True),
    "older name with an integer": (
        _with_job_stamp({k: v for k, v in JOBS[1].items() if k != "created_at"}, 1, "created"),
        False,
    ),
    "task stamp a float": (_with_task_stamp(JOBS[1], 1793620731779.5), False),
    "envelope around a job": ({"meta": {"page": 1}, "data": JOBS[1]}, True),
    "envelope around a job of ISO stamps": ({"data": _all_stamps(JOBS[1], _iso)}, True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_timestamp_of_any_form_among_integer_ones_equals_careful_path(name: str) -> None:
    odd, taken = CASES[name]
    data = _ndjson_of([JOBS[0], odd, JOBS[2]])
    assert _left_lines(data) == ([] if taken else [2])
    assert_same(through_sql(data), _careful(data))


def test_the_three_histories_through_sql_equal_careful_path() -> None:
    for generation in ("current", "older", "mix"):
        data = _ndjson_of(generate_history(200, seed=3, generation=generation))
        assert _left_lines(data) == [], generation
        assert_same(through_sql(data), _careful(data))


stamp_values = st.one_of(
    st.none(),
    st.integers(-(2**65), 2**65),
    st.integers(946_684_800, 4_102_444_800),
    st.integers(946_684_800_000, 4_102_444_800_000),
    st.sampled_from(["2026-11-02T11:59:01.779Z", "2026-11-02T11:59:01+02:00", "17936207317"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.sampled_from(STAMPS), stamp_values)))
def test_timestamps_of_any_form_in_any_line_equal_careful_path(
    changes: list[tuple[int, bool, str, Any]],
) -> None:
    jobs = copy.deepcopy(JOBS)
    for at, in_task, field, value in changes:
        if in_task and jobs[at]["tasks"]:
            jobs[at]["tasks"][0][field] = value
        else:
            jobs[at][field] = value
    data = _ndjson_of(jobs)
    assert_same(through_sql(data), _careful(data))
