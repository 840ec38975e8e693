"""NDJSON read by several DuckDB connections at once (``frames/_ndjson.py``, ``readers``):
the blocks come back in line order whichever reader finishes first, a connection reads
one block at a time, and input smaller than a block per reader is cut so that each has
one."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.machine import usable_cores
from tests.test_frames_properties import assert_same

#: A DuckDB pass over a block, as ``NdjsonReader(read=...)`` takes it.
Read = Callable[[Any, Any, Any, Any], Any]


def observed(note: Callable[[Any, Any, Any], None]) -> Read:
    """``_ndjson._read`` that first tells ``note`` of each read (its connection, lines
    and line numbers), one read at a time."""
    lock = threading.Lock()

    def read(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        with lock:
            note(con, lines, rows)
        return _ndjson._read(con, queries, lines, rows)

    return read


class Meeting:
    """``_ndjson._read`` whose first ``count`` reads wait for each other (a barrier:
    BrokenBarrierError unless they run at the same time), that fails when a connection
    reads two blocks at once, and that counts the reads (``calls``) and the most at once
    (``most``)."""

    def __init__(self, count: int, timeout: float = 120) -> None:
        self._count = count
        self._meet = threading.Barrier(count, timeout=timeout)
        self._lock = threading.Lock()
        self._busy: set[int] = set()
        self.most = 0
        self.calls = 0

    def __call__(self, con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        with self._lock:
            assert id(con) not in self._busy, "a connection read two blocks at once"
            self._busy.add(id(con))
            self.most = max(self.most, len(self._busy))
            self.calls += 1
            first = self.calls <= self._count
        try:
            if first:
                self._meet.wait()
            return _ndjson._read(con, queries, lines, rows)
        finally:
            with self._lock:
                self._busy.discard(id(con))


def test_threads_are_shared_out_between_readers() -> None:
    most = _ndjson.MAX_READERS
    assert _ndjson.readers(1) == (1, 1)  # workers=1: one block at a time, one thread
    assert _ndjson.readers(2) == (2, 1)
    assert _ndjson.readers(most) == (most, 1)
    assert _ndjson.readers(3 * most) == (most, 3)  # more threads than readers: shared
    assert _ndjson.readers(None) == _ndjson.readers(usable_cores())


def _mixed(history: list[dict[str, Any]]) -> bytes:
    """NDJSON of every kind of line: clean jobs, an envelope, an older alias, a broken
    line and a NaN, spread over the blocks."""
    lines = [orjson.dumps(j) for j in history]
    lines[3] = orjson.dumps({"meta": {"page": 1}, "data": history[3]})
    lines[120] = lines[120].replace(b'"created_at"', b'"created"', 1)
    lines[250] = b"{broken"
    lines[380] = lines[380].replace(b'"progress":100', b'"progress":NaN', 1)
    return b"\n".join(lines) + b"\n"


def test_a_first_block_read_last_still_comes_first(history: list[dict[str, Any]]) -> None:
    """The first block's reading waits until a later one's has ended: the frames are
    still the careful path's, rows in line order."""
    data = _mixed(history)
    later_done = threading.Event()
    read = _ndjson._read

    def first_last(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        if rows[0] == 1:
            assert later_done.wait(timeout=120), "no other block was read meanwhile"
            return read(con, queries, lines, rows)
        table = read(con, queries, lines, rows)
        later_done.set()
        return table

    reader = _ndjson.NdjsonReader(block_bytes=50_000, read=first_last, min_lines=0)
    fast = itf.to_frames(data, workers=3, _reader=reader)
    careful = itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))
    assert later_done.is_set()
    assert_same(fast, careful)
    assert len(fast.jobs) == len(history) - 2  # the broken line and the NaN one
    assert len(fast.problems) >= 2


@pytest.mark.parametrize("workers", [2, 3])
def test_readers_read_at_once_each_on_a_connection_of_its_own(
    history: list[dict[str, Any]], workers: int
) -> None:
    """The first reads meet (a barrier: they run at the same time), no connection is
    used by two reads at once, and never more reads run than there are readers."""
    data = _mixed(history)
    watched = Meeting(workers)
    reader = _ndjson.NdjsonReader(block_bytes=40_000, read=watched, min_lines=0)
    fast = itf.to_frames(data, workers=workers, _reader=reader)
    assert watched.most == workers and watched.calls > 2 * workers
    assert_same(fast, itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False)))


def test_input_of_less_than_a_block_per_reader_is_cut_between_them() -> None:
    """Bytes smaller than a block for each reader are cut into a block each (not
    smaller than ``_MIN_SHARED_BLOCK``), so that no reader waits while another reads
    it all; with one worker they stay one block."""
    from ittybit_frames.simulator import generate_history

    jobs = generate_history(4000, seed=3)
    data = b"".join(orjson.dumps(j) + b"\n" for j in jobs)
    assert 2 * _ndjson._MIN_SHARED_BLOCK < len(data) < _ndjson.NdjsonReader().block_bytes
    sizes: list[int] = []
    measured = observed(lambda con, lines, rows: sizes.append(len(lines)))
    for workers in (1, 2, 3):
        sizes.clear()
        # (3 workers: a third of the input is below the least block, cut at it.)
        expected = min(workers, -(-len(data) // _ndjson._MIN_SHARED_BLOCK))
        frames = itf.to_frames(data, workers=workers, _reader=_ndjson.NdjsonReader(read=measured))
        assert len(sizes) == expected and sum(sizes) == len(jobs), (workers, sizes)
        assert len(frames.jobs) == len(jobs) and frames.problems.empty


def test_parsed_records_read_by_several_readers_equal_the_careful_path(
    history: list[dict[str, Any]],
) -> None:
    """Parsed records (written to NDJSON piece by piece) read by three readers."""
    records = copy.deepcopy(history) * 3
    records[10] = {**records[10], "id": "nan-job", "tasks": [{**records[10]["tasks"][0]}]}
    records[10]["tasks"][0]["progress"] = math.nan
    reads: list[int] = []
    counted = observed(lambda con, lines, rows: reads.append(len(lines)))
    reader = _ndjson.NdjsonReader(block_bytes=20_000, read=counted, min_records=0)
    fast = itf.to_frames(records, workers=3, _reader=reader)
    careful = itf.to_frames(records, _reader=_ndjson.NdjsonReader(use_sql=False))
    assert len(reads) > 3
    assert_same(fast, careful)


def test_connections_are_made_only_for_blocks_read_at_once(
    history: list[dict[str, Any]],
) -> None:
    """One block: one connection, however many readers; many blocks: never more
    connections than readers (each made when a read finds none free)."""
    data = _mixed(history)
    seen: list[int] = []
    recorded = observed(lambda con, lines, rows: seen.append(id(con)))
    one = _ndjson.NdjsonReader(read=recorded, min_lines=0)
    itf.to_frames(data, workers=4, _reader=one)
    assert len(seen) == 1
    seen.clear()
    many = _ndjson.NdjsonReader(block_bytes=30_000, read=recorded, min_lines=0)
    assert_same(
        itf.to_frames(data, workers=2, _reader=many),
        itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False)),
    )
    assert len(seen) > 10 and len(set(seen)) <= 2
