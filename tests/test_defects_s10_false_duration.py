"""Found by the unseeded property test test_ndjson_fast_path_equals_careful_path in the
final fresh-clone run of session 10.

The same job twice: first with a probe duration of 42.968, then with ``false``. Alone,
the second line gave NA plus a problem on both paths; after the first, the careful path
gave 0.0. Cause: Arrow's type inference takes a bool after a float as 0 or 1
(``pa.array([1.5, False])`` is ``[1.5, 0]``), so the float column's fast route let it
through."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history


def _pair(value: Any) -> list[dict[str, Any]]:
    job = generate_history(1, seed=3)[0]
    probe = next(t for t in job["tasks"] if t["kind"] == "probe")
    probe["output"] = {"kind": "video", "duration": 42.968, "fps": 30.0}
    later = json.loads(json.dumps(job))
    out = next(t for t in later["tasks"] if t["kind"] == "probe")["output"]
    out["duration"] = value
    out["fps"] = value
    return [job, later]


@pytest.mark.parametrize("value", [False, True])
@pytest.mark.parametrize("route", ["careful", "duckdb", "dicts"])
def test_a_bool_after_a_real_number_is_na_with_a_problem(value: bool, route: str) -> None:
    jobs = _pair(value)
    data = "".join(json.dumps(j) + "\n" for j in jobs).encode()
    if route == "dicts":
        frames = itf.to_frames(jobs)
    else:
        frames = itf.to_frames(data, _reader=NdjsonReader(use_sql=route == "duckdb"))
    # One job ID twice: the later line wins, so one probe row with the bool.
    probe = frames.tasks[frames.tasks["kind"] == "probe"]
    assert len(probe) == 1
    assert probe["output_duration_seconds"].isna().all()
    assert probe["output_fps"].isna().all()
    assert frames.jobs["media_duration_seconds"].isna().all()
    cols = set(frames.problems["column"])
    assert {"output_duration_seconds", "output_fps"} <= cols
    raw = frames.problems.loc[frames.problems["column"] == "output_fps", "raw_value"]
    assert (raw == json.dumps(value)).all() or (raw == str(value).lower()).all()


def test_a_float_column_with_real_numbers_only_keeps_them() -> None:
    job = _pair(12.5)
    frames = itf.to_frames(job[1:], _reader=NdjsonReader(use_sql=False))
    probe = frames.tasks[frames.tasks["kind"] == "probe"]
    assert probe["output_duration_seconds"].tolist() == [12.5]
    assert frames.problems.empty
