"""The group check's texts made in place (:func:`._ndjson_groups._in_place`): a group's
lines copied as they are into a reading thread's reused buffer, each newline made a
comma, behind a ``[``. Each test here attacks that: the texts must be the JSON that
joining the lines gives, lines that join into JSON only once their newlines are commas
must still be read as the careful path reads them, a last line without a newline and a
buffer reused by a smaller block must change nothing."""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ittybit_frames.frames import _ndjson_groups
from ittybit_frames.frames._ndjson_blocks import line_array
from ittybit_frames.simulator import generate_history
from tests.test_frames_groups import _careful, group_taken  # noqa: F401  (a fixture)
from tests.test_frames_properties import assert_same, through_sql

CLEAN = generate_history(200, seed=20)


def _ndjson_of(jobs: list[Any]) -> bytes:
    return ("\n".join(json.dumps(job) for job in jobs) + "\n").encode()


def _starts(count: int, size: int = _ndjson_groups.GROUP_LINES) -> np.ndarray:
    return np.arange(0, count + size, size).clip(max=count)


def _parsed(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return "<no JSON>"


class Made:
    """What the spy on ``_in_place`` saw: every text checked against Arrow's join of
    the same lines (its newlines dropped: they are the only bytes that differ)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []  # (thread, buffer id, bytes)
        self.wrong: list[tuple[int, str, str]] = []
        self.buffers: list[weakref.ref[np.ndarray]] = []
        self._lock = threading.Lock()


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Made:
    """Each block whose texts were made in place, by which thread, in which buffer."""
    seen = Made()
    original, scratch = _ndjson_groups._in_place, _ndjson_groups._scratch

    def spy_scratch(size: int) -> np.ndarray:
        buffer = scratch(size)
        with seen._lock:
            if not any(ref() is buffer for ref in seen.buffers):
                seen.buffers.append(weakref.ref(buffer))
        return buffer

    def spy(lines: pa.Array, starts: np.ndarray) -> Any:
        texts = original(lines, starts)
        if texts is None:
            return None
        joined = _ndjson_groups._joined(lines, starts).to_pylist()
        mine = texts.to_pylist()
        buffer = getattr(_ndjson_groups._SCRATCH, "buffer", None)
        with seen._lock:
            seen.calls.append((threading.get_ident(), id(buffer), len(texts.buffers()[2])))
            for g, (a, b) in enumerate(zip(mine, joined, strict=True)):
                if a != b.replace("\n", ""):
                    seen.wrong.append((g, a[:80], b[:80]))
        return texts

    monkeypatch.setattr(_ndjson_groups, "_scratch", spy_scratch)
    monkeypatch.setattr(_ndjson_groups, "_in_place", spy)
    return seen


_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
_LINE = st.one_of(
    _VALUE.map(lambda v: json.dumps(v) + "\n"),
    _VALUE.map(lambda v: " " + json.dumps(v, indent=None) + " \r\n"),
    st.sampled_from(["\n", "   \n", "{\n", "]\n", ",\n", "nul\n"]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_LINE, min_size=1, max_size=40),
    st.integers(1, 7),
    st.binary(max_size=5).filter(lambda b: b"\n" not in b),
)
def test_texts_are_the_json_joining_the_lines_gives(
    lines: list[str], size: int, before: bytes
) -> None:
    """Every group text parses to what Arrow's join of the same lines parses to, or
    neither parses (lines over an offset into their buffer, as a block's are)."""
    data = before + b"\n" + "".join(lines).encode()
    array, _ = line_array(data, len(before) + 1, len(data))
    starts = _starts(len(array), size)
    made = _ndjson_groups._in_place(array, starts)
    assert made is not None
    joined = _ndjson_groups._joined(array, starts)
    assert [_parsed(t) for t in made.to_pylist()] == [_parsed(t) for t in joined.to_pylist()]


def test_a_last_line_without_its_newline_is_joined_by_arrow() -> None:
    data = b'{"a":1}\n{"b":2}'
    array, _ = line_array(data, 0, len(data))
    starts = _starts(len(array), 64)
    assert _ndjson_groups._in_place(array, starts) is None
    assert orjson.loads(_ndjson_groups._joined(array, starts)[0].as_py()) == [{"a": 1}, {"b": 2}]


def test_input_without_a_final_newline_is_read_as_the_careful_path_reads_it(
    group_taken: list[int],  # noqa: F811
) -> None:
    data = _ndjson_of(CLEAN).rstrip(b"\n")
    assert_same(through_sql(data), _careful(data))
    assert sum(group_taken) >= len(CLEAN) - 2 * _ndjson_groups.GROUP_LINES


def test_a_string_split_over_two_lines_is_not_taken_as_one_job(
    group_taken: list[int],  # noqa: F811
    made: Made,
) -> None:
    """Two lines that are no JSON alone, ``{... "kind": "vid`` and ``eo", ...}``: joined
    with a newline between them (Arrow's join) their string holds a raw newline, which
    JSON refuses; with the newline made a comma they are one job of the documented
    shape, and the group check takes their group. (Every line begins with the same 8
    spaces, so that the lines stay in input order and the second half of the string
    is not put in a group of its own.) Each half must still go the careful way,
    reported as invalid, and every other line be read as before."""
    pad = " " * 8
    job = dict(CLEAN[70])
    text = json.dumps(job)
    cut = text.index('"kind": "') + len('"kind": "') + 3
    lines = [pad + json.dumps(j) for j in CLEAN[:70]] + [pad + text[:cut], pad + text[cut:]]
    lines += [pad + json.dumps(j) for j in CLEAN[71:]]
    data = ("\n".join(lines) + "\n").encode()
    fast, careful = through_sql(data), _careful(data)
    assert_same(fast, careful)
    assert made.calls, "the texts were not made in place"
    assert sum(group_taken) >= len(CLEAN) - 2 * _ndjson_groups.GROUP_LINES
    assert job["id"] not in set(fast.jobs["job_id"])
    assert len(fast.jobs) == len(CLEAN) - 1
    assert len(fast.problems) >= 2


def test_a_thread_reuses_its_buffer_from_block_to_block(
    made: Made,
) -> None:
    """Blocks read one after another by the same thread: its buffer, made for one, is
    written over by the next, and every block's rows are still the careful path's."""
    jobs = generate_history(1000, seed=21)
    data = _ndjson_of(jobs)
    assert_same(through_sql(data, block_bytes=len(data) // 6), _careful(data))
    threads = [thread for thread, _, _ in made.calls]
    assert len(threads) >= 4 and len(set(threads)) < len(threads)


def test_the_buffer_grows_for_a_larger_block_and_is_kept_for_a_smaller() -> None:
    """In a thread of its own (this one's buffer may be left by another test)."""
    checks: list[bool] = []

    def run() -> None:
        small = _ndjson_groups._scratch(1000)
        checks.append(len(small) == 1125)
        checks.append(_ndjson_groups._scratch(1100) is small)  # an eighth to spare
        large = _ndjson_groups._scratch(len(small) + 1)
        checks.append(len(large) > len(small))
        checks.append(_ndjson_groups._scratch(5) is large)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert checks == [True] * 4


def test_the_buffer_is_the_threads_own() -> None:
    """Two threads making texts at once each write their own buffer."""
    results: dict[int, list[Any]] = {}
    barrier = threading.Barrier(2)

    def make(seed: int) -> None:
        data = _ndjson_of(generate_history(150, seed=seed))
        array, _ = line_array(data, 0, len(data))
        starts = _starts(len(array), 64)
        barrier.wait()
        texts = _ndjson_groups._in_place(array, starts)
        assert texts is not None
        joined = _ndjson_groups._joined(array, starts)
        results[seed] = [
            orjson.loads(t) == orjson.loads(j)
            for t, j in zip(texts.to_pylist(), joined.to_pylist(), strict=True)
        ]

    workers = [threading.Thread(target=make, args=(seed,)) for seed in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert set(results) == {1, 2}
    assert all(flags and all(flags) for flags in results.values())


def test_duckdb_reads_the_texts_made_in_place() -> None:
    """The texts are valid Arrow strings over the buffer, which DuckDB scans."""
    data = _ndjson_of(CLEAN[:130])
    array, _ = line_array(data, 0, len(data))
    texts = _ndjson_groups._in_place(array, _starts(len(array), 64))
    assert texts is not None
    texts.validate(full=True)
    con = duckdb.connect()
    con.register("t", pa.table({"text": texts}))
    counts = con.sql("SELECT json_array_length(text) FROM t").fetchall()
    assert [c for (c,) in counts] == [64, 64, 2]
