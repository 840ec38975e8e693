"""to_frames_in_parts: records handed over part by part (a listing walked) give the frames
to_frames makes of them in one input, converted piece by piece as the parts come."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import to_frames_in_parts
from ittybit_frames.frames._ndjson import NdjsonReader, _read
from ittybit_frames.simulator import generate_history
from tests.frames_equal import assert_frame_equal

BIG = 123456789012345678901234567890


def _ndjson(jobs: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(j, option=orjson.OPT_APPEND_NEWLINE) for j in jobs)


def _pages(jobs: list[dict[str, Any]], size: int = 10) -> list[bytes | list[Any]]:
    return [_ndjson(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def assert_same(got: itf.JobFrames, want: itf.JobFrames) -> None:
    """Frame for frame, rows in the same order; the same problems (in the order of the
    pieces: as with to_frames' own blocks, those of a later block come after)."""
    assert_frame_equal(got.jobs, want.jobs)
    assert_frame_equal(got.tasks, want.tasks)
    keys = list(got.problems.columns)
    assert_frame_equal(
        got.problems.astype(str).sort_values(keys).reset_index(drop=True),
        want.problems.astype(str).sort_values(keys).reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def jobs() -> list[dict[str, Any]]:
    history = generate_history(300, seed=3)
    history[7]["status"] = "bogus"  # a problem row, from a line SQL leaves
    history[8]["tasks"][0]["progress"] = "half"
    return history


def _counting() -> tuple[NdjsonReader, list[int]]:
    """A reader that reads every input of 10 lines or more with DuckDB, counting blocks."""
    reads: list[int] = []

    def read(*args: Any) -> Any:
        reads.append(len(args[2]))
        return _read(*args)

    return NdjsonReader(read=read, min_lines=10), reads


def test_parts_give_to_frames_result_piece_by_piece(jobs: list[dict[str, Any]]) -> None:
    reader, reads = _counting()
    want = itf.to_frames(_ndjson(jobs), _reader=reader)
    assert len(reads) == 1  # one block when read whole
    reads.clear()
    got = to_frames_in_parts(_pages(jobs), piece_bytes=40_000, _reader=reader)
    assert_same(got, want)
    assert len(reads) > 5 and sum(reads) == len(jobs)  # the pieces route, every line once
    assert len(got.problems) >= 2


def test_a_repeated_page_is_deduplicated_across_pieces(jobs: list[dict[str, Any]]) -> None:
    reader, reads = _counting()
    parts = _pages(jobs)
    updated = copy.deepcopy(jobs[:10])
    for job in updated:
        job["updated_at"] = job.get("updated_at", 0) + 1
    parts = [*parts, _ndjson(updated)]  # the first page again, updated, pieces later
    got = to_frames_in_parts(parts, piece_bytes=40_000, _reader=reader)
    assert_same(got, itf.to_frames(b"".join(parts), _reader=reader))  # type: ignore[arg-type]
    assert len(got.jobs) == len(jobs) and got.jobs["job_id"].is_unique
    assert len(reads) > 5


def test_records_in_a_list_keep_every_digit_in_their_place(jobs: list[dict[str, Any]]) -> None:
    """A job that NDJSON cannot carry (an integer beyond 64 bits) comes as itself in the
    middle of the parts: the careful path takes it, in its place."""
    reader, reads = _counting()
    odd = copy.deepcopy(jobs[150])
    odd["metadata"] = {"big": BIG}
    records = [*jobs[:150], odd, *jobs[151:]]
    parts: list[bytes | list[Any]] = [*_pages(jobs[:150]), [odd], *_pages(jobs[151:])]
    got = to_frames_in_parts(parts, piece_bytes=40_000, _reader=reader)
    assert_same(got, itf.to_frames(records, _reader=NdjsonReader(use_sql=False)))
    assert got.jobs.loc[150, "metadata"] == f'{{"big":{BIG}}}'
    assert len(reads) > 5


def test_few_lines_go_the_careful_way_as_to_frames_sends_them(jobs: list[dict[str, Any]]) -> None:
    reader, reads = _counting()
    few = NdjsonReader(read=reader.read, min_lines=len(jobs) + 1)
    got = to_frames_in_parts(_pages(jobs), piece_bytes=40_000, _reader=few)
    assert reads == []  # fewer lines than min_lines: no DuckDB
    assert_same(got, itf.to_frames(_ndjson(jobs), _reader=few))
    careful = to_frames_in_parts(_pages(jobs), _reader=NdjsonReader(use_sql=False))
    assert_same(careful, got)


def test_no_parts_and_empty_parts_give_empty_frames() -> None:
    for parts in ([], [b""], [b"", []]):
        got = to_frames_in_parts(parts)
        assert_same(got, itf.to_frames(b""))


def test_an_error_of_the_parts_reaches_the_caller_and_stops_the_reader(
    jobs: list[dict[str, Any]],
) -> None:
    reader, reads = _counting()
    before = set(threading.enumerate())

    def failing() -> Iterator[bytes]:
        yield from _pages(jobs)[:20]
        raise KeyboardInterrupt  # as Ctrl-C in the middle of a walk

    with pytest.raises(KeyboardInterrupt):
        to_frames_in_parts(failing(), piece_bytes=20_000, _reader=reader)
    assert reads  # it was reading pieces when the parts failed
    assert [t for t in set(threading.enumerate()) - before if t.is_alive()] == []


def test_workers_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        to_frames_in_parts([b""], workers=0)
