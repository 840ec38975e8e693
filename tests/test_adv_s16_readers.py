"""Adversarial pass (session 16) over NDJSON read by several DuckDB connections at once
(``frames/_ndjson.py``: ``readers``, ``_scan_with``; commit 255151b).

Every result is compared with the careful path (``NdjsonReader(use_sql=False)``). Reads
are ordered with Events and Barriers (never sleeps), each wait bounded so that a
missed hand-over fails the test instead of hanging it. After every test no ``ndjson``
reader thread may be left alive.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import math
import threading
import types
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson, _ndjson_blocks, to_frames_in_parts
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same
from tests.test_frames_readers import Meeting, observed

CAREFUL = _ndjson.NdjsonReader(use_sql=False)
READ = _ndjson._read
WAIT = 30  # seconds: a hand-over that never comes fails the test, it does not hang it


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ndjson") and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_reader_thread_left() -> Iterator[None]:
    assert not _reader_threads()
    yield
    assert not _reader_threads(), "a reader thread outlived its scan"


def _fast(data: Any, workers: int | None, **knobs: Any) -> itf.JobFrames:
    knobs.setdefault("min_lines", 0)
    knobs.setdefault("min_records", 0)
    return itf.to_frames(data, workers=workers, _reader=_ndjson.NdjsonReader(**knobs))


def _careful(data: Any) -> itf.JobFrames:
    return itf.to_frames(data, _reader=CAREFUL)


def _nan_progress(line: bytes) -> bytes:
    at = line.index(b'"progress":') + len(b'"progress":')
    end = min(i for i in (line.find(b",", at), line.find(b"}", at)) if i >= 0)
    return line[:at] + b"NaN" + line[end:]


def _mixed(history: list[dict[str, Any]], count: int = 120) -> bytes:
    """NDJSON of every kind of line: clean jobs, envelopes, a page, an older shape,
    broken lines, blank lines, a NaN, a trailing comma, bad UTF-8, an error body, a
    duplicate, values that are no object."""
    lines = [orjson.dumps(j) for j in history[:count]]
    lines[3] = orjson.dumps({"meta": {"page": 1}, "data": history[3]})
    lines[7] = orjson.dumps({"meta": {"page": 2}, "data": [history[7], history[200]]})
    lines[11] = b""
    lines[12] = b"   \t"
    lines[20] = b"{broken"
    lines[25] = _nan_progress(lines[25])
    lines[30] = lines[30].replace(b'"tasks"', b'"steps"', 1)
    lines[33] = lines[33].replace(b'"created_at"', b'"created"', 1)
    lines[40] = b'{"message": "rate limited", "code": 429}'
    lines[44] = b"[1, 2]"
    lines[50] = b"null"
    lines[55] = lines[55][:-1] + b",}"
    lines[60] = lines[60].replace(b'"id":"', b'"id":"\xff', 1)
    lines[65] = lines[64]
    lines[70] = b'"just text"'
    lines[75] = lines[75][:-1] + b',"x_extra":{"deep":[1,2,{"a":null}]}}'
    return b"\n".join(lines) + b"\n"


def _clean(history: list[dict[str, Any]], count: int) -> bytes:
    return b"".join(orjson.dumps(j) + b"\n" for j in history[:count])


def _firsts(data: bytes, block_bytes: int) -> list[int]:
    """The first line number of each block ``scan`` cuts (block_bytes below 4 MB)."""
    return [int(block[3][0]) for block in _ndjson_blocks.blocks_of(data, block_bytes)]


# --------------------------------------------------------------------------------------
# How many readers, threads each, and what every count of workers gives
# --------------------------------------------------------------------------------------


def test_reader_counts_for_odd_worker_counts() -> None:
    most = _ndjson.MAX_READERS
    assert _ndjson.readers(most + 1) == (most, 1)
    assert _ndjson.readers(16) == (most, 16 // most)
    assert _ndjson.readers(3) == (3, 1)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="workers"):
            itf.to_frames(b'{"id": "a"}\n', workers=bad)
        with pytest.raises(ValueError, match="workers"):
            to_frames_in_parts([b'{"id": "a"}\n'], workers=bad)


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 5, 16])
def test_every_worker_count_equals_the_careful_path(
    history: list[dict[str, Any]], workers: int
) -> None:
    """Blocks of a few lines, every kind of line, any number of workers; the connections
    used are at most ``readers`` many, each configured with its share of threads."""
    data = _mixed(history)
    seen: dict[int, int] = {}
    lock = threading.Lock()

    def watched(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        with lock:
            seen[id(con)] = int(threads)
        return READ(con, queries, lines, rows)

    fast = _fast(data, workers, block_bytes=12_000, read=watched)
    assert_same(fast, _careful(data))
    count, each = _ndjson.readers(workers)
    assert 1 <= len(seen) <= count
    assert set(seen.values()) == {each}


@pytest.mark.parametrize("workers", [1, 3, 4])
def test_one_line_a_block(history: list[dict[str, Any]], workers: int) -> None:
    """block_bytes=1: every line its own block (blank ones too)."""
    data = _mixed(history, count=80)
    assert_same(_fast(data, workers, block_bytes=1), _careful(data))


# --------------------------------------------------------------------------------------
# Reads finishing in any order
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_reads_ending_in_reverse_order_keep_line_order(
    history: list[dict[str, Any]], workers: int
) -> None:
    """Within each window of ``workers`` blocks the last one read ends first, the first
    last: the blocks still come back in line order, the frames the careful path's."""
    lines = [orjson.dumps(j) for j in history[:96]]
    lines[9] = orjson.dumps({"meta": {}, "data": history[9]})
    lines[17] = b"{broken"
    lines[42] = lines[42].replace(b'"created_at"', b'"created"', 1)
    data = b"\n".join(lines) + b"\n"
    block_bytes = 4 * 2900
    firsts = _firsts(data, block_bytes)
    assert len(firsts) > 3 * workers
    index = {first: i for i, first in enumerate(firsts)}
    done = [threading.Event() for _ in firsts]
    order: list[int] = []
    lock = threading.Lock()

    def reversed_read(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        i = index[int(rows[0])]
        after = i + 1
        if after < len(firsts) and after // workers == i // workers:
            assert done[after].wait(WAIT), f"block {after} was not read while {i} waited"
        try:
            return READ(con, queries, lines, rows)
        finally:
            with lock:
                order.append(i)
            done[i].set()

    fast = _fast(data, workers, block_bytes=block_bytes, read=reversed_read)
    assert_same(fast, _careful(data))
    assert sorted(order) == list(range(len(firsts)))  # every block read (share stays high)
    assert order[:workers] == list(range(workers))[::-1]
    assert list(fast.jobs["job_id"]) == list(_careful(data).jobs["job_id"])


def test_at_most_four_reads_at_once_on_sixteen_workers(history: list[dict[str, Any]]) -> None:
    """workers=16: four readers meet (a barrier), never a fifth read at once, never two
    reads on one connection."""
    data = _clean(history, 120)
    most = _ndjson.MAX_READERS
    watched = Meeting(most, timeout=WAIT)
    fast = _fast(data, 16, block_bytes=10_000, read=watched)
    assert watched.most == most
    assert_same(fast, _careful(data))


# --------------------------------------------------------------------------------------
# Errors while other blocks are read; stopping early
# --------------------------------------------------------------------------------------


class _Tracked:
    """A ``read`` that records its connections, raises ``error`` in block ``failing``
    (once the block after it is being read), and holds that next block until it has."""

    def __init__(
        self, data: bytes, block_bytes: int, failing: int, error: BaseException, *, overlap: bool
    ) -> None:
        self.overlap = overlap  # more than one reader: the next block is read meanwhile
        self.firsts = _firsts(data, block_bytes)
        self.failing = failing
        self.error = error
        self.cons: set[Any] = set()
        self.started: list[int] = []
        self.next_started = threading.Event()
        self.raised = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        i = self.firsts.index(int(rows[0]))
        with self.lock:
            self.cons.add(con)
            self.started.append(i)
        if self.overlap and i == self.failing + 1:
            self.next_started.set()
            assert self.raised.wait(WAIT)
        if i == self.failing:
            if self.overlap and self.failing + 1 < len(self.firsts):
                assert self.next_started.wait(WAIT), "the next block was not read meanwhile"
            self.raised.set()
            raise self.error
        return READ(con, queries, lines, rows)

    def assert_closed(self) -> None:
        assert self.cons
        for con in self.cons:
            with pytest.raises(duckdb.ConnectionException):
                con.execute("SELECT 1")


@pytest.mark.parametrize(("workers", "failing"), [(1, 0), (2, 0), (3, 2), (4, 1), (4, 5)])
def test_an_error_in_one_read_reaches_the_caller_and_closes_everything(
    history: list[dict[str, Any]], workers: int, failing: int
) -> None:
    data = _clean(history, 60)
    read = _Tracked(data, 6000, failing, ValueError("read broke"), overlap=workers > 1)
    with pytest.raises(ValueError, match="read broke"):
        _fast(data, workers, block_bytes=6000, read=read)
    read.assert_closed()
    assert failing in read.started


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RuntimeError("Query interrupted"), KeyboardInterrupt),
        (KeyboardInterrupt(), KeyboardInterrupt),
        (RuntimeError("something else"), RuntimeError),
        (duckdb.IOException("disk"), duckdb.IOException),
    ],
)
def test_an_interrupted_read_is_a_keyboard_interrupt(
    history: list[dict[str, Any]], error: BaseException, expected: type[BaseException]
) -> None:
    data = _clean(history, 60)
    read = _Tracked(data, 6000, 2, error, overlap=True)
    with pytest.raises(expected) as caught:
        _fast(data, 3, block_bytes=6000, read=read)
    if expected is RuntimeError:
        assert "something else" in str(caught.value)
    read.assert_closed()


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_closing_the_scan_after_its_first_block(
    history: list[dict[str, Any]], workers: int
) -> None:
    """The consumer stops after one block: the reads in flight end, no new one starts,
    the connections are closed and the reader threads gone."""
    data = _clean(history, 80)
    cons: set[Any] = set()
    calls = [0]
    lock = threading.Lock()

    def counted(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        with lock:
            cons.add(con)
            calls[0] += 1
        return READ(con, queries, lines, rows)

    blocks = _ndjson.scan(data, 3000, workers, read=counted)
    first = next(blocks)
    assert len(first.jobs) + len(first.left) >= 1
    blocks.close()
    assert not _reader_threads()
    assert calls[0] <= _ndjson.readers(workers)[0] + 1 < len(_firsts(data, 3000))
    for con in cons:
        with pytest.raises(duckdb.ConnectionException):
            con.execute("SELECT 1")


def test_a_strict_problem_stops_reads_in_flight(history: list[dict[str, Any]]) -> None:
    """strict=True: the first block's problem raises while three later blocks are
    being read; the error is the careful path's, everything is closed."""
    lines = [orjson.dumps(j) for j in history[:60]]
    lines[1] = b"{broken"
    data = b"\n".join(lines) + b"\n"
    read = _Tracked(data, 6000, failing=10**6, error=AssertionError(), overlap=True)
    with pytest.raises(itf.SchemaError) as careful:
        itf.to_frames(data, strict=True, _reader=CAREFUL)
    with pytest.raises(itf.SchemaError) as fast:
        itf.to_frames(
            data,
            strict=True,
            workers=4,
            _reader=_ndjson.NdjsonReader(block_bytes=6000, read=read, min_lines=0),
        )
    assert str(fast.value) == str(careful.value)
    read.assert_closed()


def test_parts_that_raise_midway(history: list[dict[str, Any]]) -> None:
    """to_frames_in_parts over parts whose iterable fails after a few: the caller gets
    that error (not a hang), the readers are gone."""

    def parts() -> Iterator[bytes | list[Any]]:
        for k in range(0, 100, 10):
            if k == 60:
                raise OSError("the walk broke")
            yield _clean(history[k:], 10)

    with pytest.raises(OSError, match="the walk broke"):
        to_frames_in_parts(
            parts(), workers=3, piece_bytes=1, _reader=_ndjson.NdjsonReader(min_lines=0)
        )


def test_records_that_raise_midway(history: list[dict[str, Any]]) -> None:
    """Parsed records from a generator that fails while earlier pieces are read."""

    def records() -> Iterator[dict[str, Any]]:
        for k, job in enumerate(history):
            if k == 150:
                raise OSError("records broke")
            yield job

    with pytest.raises(OSError, match="records broke"):
        _fast(records(), 4, block_bytes=20_000)


# --------------------------------------------------------------------------------------
# Kinds of input
# --------------------------------------------------------------------------------------


def _huge_job(history: list[dict[str, Any]], tasks: int) -> dict[str, Any]:
    job = copy.deepcopy(history[5])
    task = job["tasks"][0]
    job["id"] = "job_huge"
    job["tasks"] = [{**task, "id": f"task_huge{k}"} for k in range(tasks)]
    return job


def _odd_inputs(history: list[dict[str, Any]]) -> dict[str, tuple[bytes, tuple[int, ...]]]:
    """Input name -> (NDJSON, the block sizes it is cut at)."""
    one = orjson.dumps(history[0])
    body = _mixed(history, 80)
    bad_block = _clean(history, 6) + b"{x\n" * 30 + b"[\n" * 10 + _clean(history[6:], 6)
    huge = orjson.dumps(_huge_job(history, 400)) + b"\n"
    return {
        "one line": (one + b"\n", (1, 5000)),
        "one line, no newline": (one, (1, 5000)),
        "no final newline": (body.rstrip(b"\n"), (7000,)),
        "BOM": (b"\xef\xbb\xbf" + body, (7000,)),
        "CRLF": (body.replace(b"\n", b"\r\n"), (7000,)),
        "blank lines only": (b"\n \n\t\n\n", (1, 5000)),
        "a block of bad lines": (bad_block, (200, 5000)),
        "a huge line among small ones": (
            _clean(history, 6) + huge + _clean(history[6:], 6),
            (3000,),
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "one line",
        "one line, no newline",
        "no final newline",
        "BOM",
        "CRLF",
        "blank lines only",
        "a block of bad lines",
        "a huge line among small ones",
    ],
)
def test_odd_inputs(history: list[dict[str, Any]], name: str) -> None:
    """One line, no trailing newline, a BOM, CRLF ends, only blank lines, a block of
    only bad lines, a line far larger than a block."""
    data, sizes = _odd_inputs(history)[name]
    expected = _careful(data)
    for block_bytes in sizes:
        assert_same(_fast(data, 3, block_bytes=block_bytes), expected)


def test_64_bit_offsets_in_every_block(history: list[dict[str, Any]]) -> None:
    """large_block=1: every block's lines as a LargeStringArray, read at once."""
    data = _mixed(history, 80)
    assert_same(_fast(data, 3, block_bytes=7000, large_block=1), _careful(data))


def test_one_long_line_read_whole(history: list[dict[str, Any]]) -> None:
    """One JSON object of more than ``min_bytes`` (read as NDJSON of one line) by four
    readers: all but one idle, the same frames."""
    data = orjson.dumps(_huge_job(history, 600))
    assert len(data) > 100_000
    fast = itf.to_frames(data, workers=4, _reader=_ndjson.NdjsonReader(min_bytes=100_000))
    assert_same(fast, _careful(data))
    assert len(fast.tasks) == 600


def test_reads_refused_every_other_block(history: list[dict[str, Any]]) -> None:
    """A read that leaves every other block (None) to the careful path."""
    data = _mixed(history)

    def every_other(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        table = READ(con, queries, lines, rows)
        return None if int(rows[0]) % 2 else table

    assert_same(_fast(data, 3, block_bytes=5000, read=every_other), _careful(data))


# --------------------------------------------------------------------------------------
# Input mostly of an older shape: SQL skipped, tried again every _RETRY_EVERY blocks
# --------------------------------------------------------------------------------------


def _older_then_current(history: list[dict[str, Any]], older: int, current: int) -> bytes:
    lines = [orjson.dumps(j).replace(b'"tasks"', b'"steps"', 1) for j in history[:older]]
    lines += [orjson.dumps(j) for j in history[older : older + current]]
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_mostly_older_shape_equals_the_careful_path_and_skips_sql(
    history: list[dict[str, Any]], workers: int
) -> None:
    lines = [orjson.dumps(j).replace(b'"tasks"', b'"steps"', 1) for j in history[:90]]
    for k in (5, 37, 38, 71):
        lines[k] = orjson.dumps(history[k])  # a few of the current shape between
    data = b"\n".join(lines) + b"\n"
    reads: list[int] = []
    counted = observed(lambda con, lines, rows: reads.append(int(rows[0])))
    fast = _fast(data, workers, block_bytes=1, read=counted)
    assert_same(fast, _careful(data))
    assert len(reads) < len(_firsts(data, 1)) // 2  # SQL was skipped
    assert 1 in reads  # block 0 is always tried


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_sql_is_used_again_once_the_input_is_of_the_current_shape(
    history: list[dict[str, Any]], workers: int
) -> None:
    """30 blocks of an older shape, then 60 of the current one: once a retry has found
    SQL taking lines again (and its result is known, ``readers`` blocks later), the
    blocks after it are read by SQL. Was a defect (fixed): a skipped block counted
    as a share of 0, so after a good retry only every (readers + 1)-th block was read
    again; with readers + 1 dividing _RETRY_EVERY (1 or 3 workers) SQL never came back
    for more than 1/2 or 1/4 of the blocks."""
    older = 30
    data = _older_then_current(history, older, 60)
    reads: set[int] = set()
    counted = observed(lambda con, lines, rows: reads.add(int(rows[0])))
    fast = _fast(data, workers, block_bytes=1, read=counted)
    assert_same(fast, _careful(data))
    firsts = _firsts(data, 1)  # one line a block: block i is line i + 1
    count = _ndjson.readers(workers)[0]
    retry = -(-older // _ndjson._RETRY_EVERY) * _ndjson._RETRY_EVERY  # first retry after
    known = retry + count + 1  # the first block that can know the retry's share
    unread = [i for i, first in enumerate(firsts) if i >= known and first not in reads]
    assert not unread, f"blocks of the current shape left unread by SQL: {unread}"


# --------------------------------------------------------------------------------------
# Parsed records (written to NDJSON pieces)
# --------------------------------------------------------------------------------------


class _Job(OrderedDict):  # a Mapping that is no dict: written through _default
    pass


def _awkward_records(history: list[dict[str, Any]]) -> list[Any]:
    records: list[Any] = copy.deepcopy(history[:160])
    records[4]["tasks"][0]["progress"] = math.nan  # goes the careful way
    records[9] = [copy.deepcopy(history[200]), copy.deepcopy(history[201])]  # an array
    records[14] = {"meta": {"page": 3}, "data": copy.deepcopy(history[202:205])}  # a page
    records[19] = {"meta": {"x": 1}, "data": copy.deepcopy(history[19])}  # envelope of one
    records[23] = _Job(copy.deepcopy(history[23]))
    records[27]["tasks"][0]["progress"] = np.int64(50)  # numpy scalar
    records[31]["x_big"] = 2**70  # beyond 64 bits
    records[36] = {"message": "oops", "code": "bad"}  # an error body
    records[40] = 17
    records[45]["tasks"] = tuple(records[45]["tasks"])
    records[50] = copy.deepcopy(history[49])  # a duplicate
    records[55]["tasks"][0]["progress"] = "abc"
    records[60]["x_set"] = {1, 2}  # no JSON type
    return records


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_parsed_records_with_careful_ones_between(
    history: list[dict[str, Any]], workers: int
) -> None:
    records = _awkward_records(history)
    reads: list[int] = []
    counted = observed(lambda con, lines, rows: reads.append(len(lines)))
    fast = _fast(records, workers, block_bytes=12_000, read=counted)
    assert len(reads) > 2 * workers
    assert_same(fast, _careful(records))


def test_two_conversions_at_once_from_two_threads(history: list[dict[str, Any]]) -> None:
    """Two callers convert at once (records through ``_default``, NDJSON), each with
    several readers: each gets the careful path's frames."""
    records = _awkward_records(history)
    data = _mixed(history)
    expected = {"records": _careful(records), "ndjson": _careful(data)}
    got: dict[str, Any] = {}
    start = threading.Barrier(2, timeout=WAIT)

    def convert(name: str, value: Any) -> None:
        try:
            start.wait()
            got[name] = _fast(value, 2, block_bytes=6000)
            assert_same(got[name], expected[name])
        except BaseException as exc:  # handed to the test thread
            got[name] = exc

    callers = [
        threading.Thread(target=convert, args=("records", records)),
        threading.Thread(target=convert, args=("ndjson", data)),
    ]
    for t in callers:
        t.start()
    for t in callers:
        t.join(WAIT * 4)
        assert not t.is_alive()
    for name, value in got.items():
        if isinstance(value, BaseException):
            raise AssertionError(name) from value


def test_strict_names_the_careful_problem_with_pieces_made_ahead() -> None:
    """strict=True with parsed records: a job's problem in the first piece comes
    before an error body 5,200 records on (past the careful path's first chunk of
    5,000, in the third piece). Was a defect (fixed: strict reads pieces with one
    reader): with several readers the pieces were written up to ``readers`` blocks
    ahead, and writing the third piece opened the error body (``Serialised._kept`` ->
    ``opened`` -> ``Problems.add``) before the first block was converted, so its
    problem was named first."""
    records: list[Any] = generate_history(5400, seed=5)
    records[5]["tasks"][0]["progress"] = "abc"
    records[5200] = [{"message": "boom", "code": "late"}]
    piece = sum(len(orjson.dumps(r)) for r in records[:2500])
    with pytest.raises(itf.SchemaError) as careful:
        itf.to_frames(records, strict=True, _reader=CAREFUL)
    assert "abc" in str(careful.value)
    for workers in (1, 2):
        reader = _ndjson.NdjsonReader(block_bytes=piece, min_records=0)
        with pytest.raises(itf.SchemaError) as fast:
            itf.to_frames(records, strict=True, workers=workers, _reader=reader)
        assert str(fast.value) == str(careful.value), f"workers={workers}"


def test_strict_in_parts_names_the_careful_problem(history: list[dict[str, Any]]) -> None:
    """to_frames_in_parts, strict: a bad line in the first piece, a list part holding an
    error body two pieces on. Was a defect widened by 255151b (fixed: strict reads
    pieces with one reader): the pieces were made up to ``readers`` ahead of the
    conversion and ``_Pieces.pieces`` reports the error body while making its piece.
    (One piece on, it is still wrong, as before 255151b: not fixed.)"""
    records = copy.deepcopy(history[:300])
    records[5]["tasks"][0]["progress"] = "abc"

    def parts() -> list[bytes | list[Any]]:
        out: list[bytes | list[Any]] = [
            b"".join(orjson.dumps(r) + b"\n" for r in records[k : k + 100])
            for k in range(0, 300, 100)
        ]
        out.insert(2, [{"message": "boom", "code": "late"}])
        return out

    with pytest.raises(itf.SchemaError) as careful:
        to_frames_in_parts(parts(), strict=True, piece_bytes=1, _reader=CAREFUL)
    assert "abc" in str(careful.value)
    for workers in (1, 2):
        with pytest.raises(itf.SchemaError) as fast:
            to_frames_in_parts(
                parts(),
                strict=True,
                workers=workers,
                piece_bytes=1,
                _reader=_ndjson.NdjsonReader(min_lines=0),
            )
        assert str(fast.value) == str(careful.value), f"workers={workers}"


def test_parts_of_bytes_and_lists_equal_the_careful_path(history: list[dict[str, Any]]) -> None:
    """to_frames_in_parts: NDJSON parts with lists of records between (the careful
    way), small pieces, three readers."""
    records = copy.deepcopy(history[:240])
    records[38]["x_big"] = 2**70  # in a list part: no NDJSON for it
    records[34]["tasks"][0]["progress"] = "abc"
    parts: list[bytes | list[Any]] = []
    for k in range(0, 240, 20):
        parts.append(b"".join(orjson.dumps(r) + b"\n" for r in records[k : k + 17]))
        parts.append(records[k + 17 : k + 20])
    fast = to_frames_in_parts(
        parts, workers=3, piece_bytes=9000, _reader=_ndjson.NdjsonReader(min_lines=0)
    )
    assert_same(fast, to_frames_in_parts(parts, piece_bytes=9000, _reader=CAREFUL))
    assert_same(fast, _careful(records))


# --------------------------------------------------------------------------------------
# Ctrl-C pressed twice: the second while the reads in flight are waited for
# --------------------------------------------------------------------------------------


class _JoinInterrupted(cf.ThreadPoolExecutor):
    """A pool whose shutdown is cut short by a (second) Ctrl-C while it waits."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=cancel_futures)
        if wait:
            raise KeyboardInterrupt


def test_a_second_ctrl_c_while_reads_are_waited_for(
    history: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first Ctrl-C reaches the caller while block 1 is inside a DuckDB query; a
    second one ends the wait for it. Was a defect (not new; fixed): ``scan`` then closed
    the connections while that query ran, DuckDB refused (``ResourceInUseException``),
    and that error replaced the KeyboardInterrupt the caller pressed; the connections
    after the busy one were not closed at all."""
    monkeypatch.setattr(_ndjson, "cf", types.SimpleNamespace(ThreadPoolExecutor=_JoinInterrupted))
    data = _clean(history, 40)
    firsts = _firsts(data, 6000)
    holding = threading.Event()
    let_go = threading.Event()

    def hold() -> int:
        holding.set()
        assert let_go.wait(WAIT)
        return 1

    def read(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        i = firsts.index(int(rows[0]))
        if i == 0:
            assert holding.wait(WAIT)
            raise KeyboardInterrupt  # the first Ctrl-C, as the caller gets it
        if i == 1:
            con.create_function("hold", hold, [], "BIGINT", side_effects=True)
            con.execute("SELECT hold()").fetchall()
        return READ(con, queries, lines, rows)

    try:
        with pytest.raises(KeyboardInterrupt):
            _fast(data, 3, block_bytes=6000, read=read)
    finally:
        let_go.set()
        for thread in _reader_threads():
            thread.join(WAIT)
