"""Parsed records written a batch at a time (``frames._dicts``), in pieces that grow:
the same frames as the careful path on records of every odd kind, wherever they sit in
a batch or a piece."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.frames import _dicts
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.frames._values import Problems
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

HISTORY = generate_history(12, seed=11) + generate_history(12, seed=12, generation="older")
CAREFUL = NdjsonReader(use_sql=False)

#: Values that need care somewhere (or not), put anywhere in a record.
ODD_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    2**70,
    -(2**64),
    np.int64(5),
    np.float64(1.5),
    np.bool_(True),
    False,
    True,
    42.968,
    OrderedDict({"a": 1}),
    ("x", 2),
    "text",
    None,
]
#: Where: a key of the job, of a task, of a task's output or input, of the codecs;
#: known keys and unknown ones.
PLACES = [
    ("job", "progress"),
    ("job", "unknown_key"),
    ("task", "progress"),
    ("task", "unknown_key"),
    ("output", "duration"),
    ("output", "width"),
    ("output", "unknown_key"),
    ("input", "duration"),
    ("codecs", "video"),
    ("codecs", "unknown_key"),
]


def _target(job: dict[str, Any], where: str) -> dict[str, Any] | None:
    if where == "job":
        return job
    tasks = job.get("tasks") or job.get("steps") or []
    if not tasks or not isinstance(tasks[0], dict):
        return None
    task: dict[str, Any] = tasks[0]
    if where == "task":
        return task
    found = task.setdefault(where if where != "codecs" else "output", {})
    if where == "codecs" and isinstance(found, dict):
        found = found.setdefault("codecs", {})
    return found if isinstance(found, dict) else None


def _odd(records: list[Any], change: tuple[Any, ...]) -> None:
    """One change to ``records`` in place (jobs are opened envelopes where they are)."""
    kind, at = change[0], change[1] % len(records)
    job = records[at].get("data", records[at]) if isinstance(records[at], dict) else None
    if not isinstance(job, dict):
        return
    if kind == "value":
        (where, key), value = (
            PLACES[change[2] % len(PLACES)],
            ODD_VALUES[change[3] % len(ODD_VALUES)],
        )
        target = _target(job, where)
        if target is not None:
            target[key] = value
    elif kind == "ordered":
        records[at] = OrderedDict(records[at])
    elif kind == "tuple tasks" and isinstance(job.get("tasks"), list):
        job["tasks"] = tuple(job["tasks"])
    elif kind == "ordered task" and isinstance(job.get("tasks"), list) and job["tasks"]:
        job["tasks"][0] = OrderedDict(job["tasks"][0])
    elif kind == "shared":
        records[(at + 1) % len(records)] = records[at]
    elif kind == "shared task" and job.get("tasks"):
        other = records[(at + 1) % len(records)]
        if isinstance(other, dict) and isinstance(other.get("tasks"), list) and other["tasks"]:
            other["tasks"][0] = job["tasks"][0]


CHANGES = st.tuples(
    st.sampled_from(["value", "ordered", "tuple tasks", "ordered task", "shared", "shared task"]),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(1, len(HISTORY)),
    changes=st.lists(CHANGES, max_size=6),
    batch=st.sampled_from([1, 2, 3, 128]),
)
def test_batched_writing_equals_the_careful_path(
    count: int, changes: list[tuple[Any, ...]], batch: int
) -> None:
    """Records with odd values at any depth (NaN, infinities, integers beyond 64 bits,
    numpy scalars, a bool after a float, unknown keys), ``Mapping`` jobs and tasks,
    tuples of tasks, the same dict twice: a batch holding any of them is written record
    by record, and the frames are the careful path's, in small and growing pieces."""
    records = copy.deepcopy(HISTORY[:count])
    for change in changes:
        _odd(records, change)
    expected = itf.to_frames(copy.deepcopy(records), _reader=CAREFUL)
    old = _dicts._BATCH
    _dicts._BATCH = batch
    try:
        got = through_sql(records, must_read=False, block_bytes=4096)
    finally:
        _dicts._BATCH = old
    assert_same(got, expected)


def test_a_batch_with_one_record_that_needs_care_is_written_record_by_record() -> None:
    """The batch's one ``marshal`` sees the NaN: each record's own bytes are then looked
    at, and every other record keeps the line already written, the NaN's record none
    (it goes the careful way)."""
    records = copy.deepcopy(HISTORY[:5])
    assert _dicts._batch_texts(records) == [_dicts._text(r) for r in records]
    records[2]["progress"] = math.nan
    batch = _dicts._batch_texts(records)
    assert batch is not None and batch[2] is None
    assert batch[:2] + batch[3:] == [_dicts._text(r) for i, r in enumerate(records) if i != 2]
    texts = _dicts._texts(records)
    assert texts[2] is None
    assert all(t is not None for i, t in enumerate(texts) if i != 2)
    records[2]["progress"] = np.int64(3)  # written as its number, read back to check
    assert _dicts._batch_texts(records) is None
    assert _dicts._texts(records)[2] == _dicts._text(records[2]) is not None


def _pieces(most_bytes: int, monkeypatch: Any) -> list[bytes]:
    monkeypatch.setattr(_dicts, "_BATCH", 4)
    records = [copy.deepcopy(HISTORY[i % len(HISTORY)]) for i in range(400)]
    return list(_dicts.Serialised(records, Problems(False), 2000, most_bytes).pieces())


def test_pieces_grow_to_the_most_bytes_and_hold_the_same_lines(monkeypatch: Any) -> None:
    """The first piece small (DuckDB starts early), each next twice the last up to the
    cap (fewer blocks, each costing its fixed share once); the same lines in the end."""
    flat, growing = _pieces(0, monkeypatch), _pieces(64_000, monkeypatch)
    assert b"".join(flat) == b"".join(growing)
    assert len(growing) < len(flat) / 4
    assert len(growing[0]) < 2000 + 4 * max(map(len, b"".join(flat).splitlines(True)))
    assert max(map(len, growing[:-1])) >= 64_000


def test_a_numpy_integer_among_the_codecs_gives_the_same_problems_on_both_routes() -> None:
    """Found by the property above (on main too, before session 11a): a codec given as
    ``numpy.int64(5)`` is a problem ("not text") on the careful path, none on the fast
    route (written as 5, as a plain 5 is, which is no problem on either route)."""
    job = copy.deepcopy(HISTORY[0])
    job["tasks"][0].setdefault("output", {}).setdefault("codecs", {})["video"] = np.int64(5)
    careful = itf.to_frames([copy.deepcopy(job)], _reader=CAREFUL)
    assert_same(through_sql([job], must_read=False), careful)
