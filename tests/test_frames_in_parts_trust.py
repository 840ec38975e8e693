"""to_frames_in_parts: line numbers run on across careful pieces; Python's cyclic GC is
paused while it converts, not while it waits for the next part (a listing walked for
minutes would keep the caller's whole process, its other threads too, without it)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import to_frames_in_parts
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history

HISTORY = generate_history(60, seed=11)


def _parts(states: list[bool]) -> Iterator[bytes]:
    """NDJSON parts of 20 jobs; each time the next one is asked for, whether the GC
    is on is noted (this is where a real walk waits for the network)."""
    for start in range(0, len(HISTORY), 20):
        states.append(gc.isenabled())
        jobs = HISTORY[start : start + 20]
        yield b"".join(orjson.dumps(j, option=orjson.OPT_APPEND_NEWLINE) for j in jobs)
    states.append(gc.isenabled())


@pytest.mark.parametrize(
    "reader", [NdjsonReader(use_sql=False), NdjsonReader(min_lines=1)], ids=["careful", "fast"]
)
def test_the_gc_is_on_while_the_next_part_is_awaited(reader: NdjsonReader) -> None:
    assert gc.isenabled()
    states: list[bool] = []
    frames = to_frames_in_parts(_parts(states), piece_bytes=1, _reader=reader)
    assert len(frames.jobs) == len(HISTORY)
    assert states == [True] * 4
    assert gc.isenabled()
    assert frames.jobs["job_id"].tolist() == itf.to_frames(HISTORY).jobs["job_id"].tolist()


def test_a_caller_who_turned_the_gc_off_keeps_it_off() -> None:
    gc.disable()
    try:
        states: list[bool] = []
        to_frames_in_parts(_parts(states), piece_bytes=1)
        assert states == [False] * 4 and not gc.isenabled()
    finally:
        gc.enable()


def test_careful_pieces_are_numbered_on_so_input_order_and_the_last_record_hold() -> None:
    # Each careful piece was numbered from line 1 again: the jobs of three pieces came
    # out interleaved, and of two records of one job the earlier could win.
    changed = {**HISTORY[5], "status": "failed"}
    states: list[bool] = []
    parts = [*_parts(states), orjson.dumps(changed, option=orjson.OPT_APPEND_NEWLINE)]
    frames = to_frames_in_parts(parts, piece_bytes=1, _reader=NdjsonReader(use_sql=False))
    whole = itf.to_frames(b"".join(parts), _reader=NdjsonReader(use_sql=False))
    assert frames.jobs["job_id"].tolist() == whole.jobs["job_id"].tolist()
    assert sorted(frames.jobs["job_id"]) == sorted(j["id"] for j in HISTORY)
    assert frames.jobs.set_index("job_id").loc[HISTORY[5]["id"], "status"] == "failed"
