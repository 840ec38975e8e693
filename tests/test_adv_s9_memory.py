"""Session 9's adversarial pass over the pool switch (memory.py): nested conversions, a
Ctrl-C from the caller's source, conversions after it, and a caller who picks the system
allocator while a conversion runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import to_frames_in_parts
from tests.test_frames_pool import JOB, _mimalloc_default, backend  # noqa: F401  (autouse)


def job(i: int) -> dict[str, Any]:
    return {**JOB, "id": f"job_{i}"}


def test_a_conversion_inside_a_records_generator_keeps_the_outer_ones_pool() -> None:
    """The caller's generator converts something of its own (a look-up, say): when that
    inner conversion ends, the outer one still runs on the system allocator, and only
    the outer one's end puts mimalloc back."""
    seen: list[str] = []

    def records() -> Iterator[dict[str, Any]]:
        yield job(0)
        inner = itf.to_frames([job(100), job(101)])
        seen.append(backend())  # the inner conversion has ended
        assert len(inner.jobs) == 2
        yield job(1)
        seen.append(backend())

    frames = itf.to_frames(records())
    assert frames.jobs["job_id"].tolist() == ["job_0", "job_1"]
    assert seen == ["system", "system"]
    assert backend() == "mimalloc"


def test_a_ctrl_c_from_the_parts_puts_the_pool_back_and_the_switch_still_works() -> None:
    """A walk Ctrl-C'd while ``to_frames_in_parts`` waits for its next part: the caller's
    pool is back, and the count of running conversions is not left one too high (the
    next conversion switches again and puts mimalloc back again)."""

    def parts() -> Iterator[bytes]:
        yield orjson.dumps(job(0)) + b"\n"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        to_frames_in_parts(parts())
    assert backend() == "mimalloc"
    seen: list[str] = []

    def noting() -> Iterator[bytes]:
        seen.append(backend())
        yield orjson.dumps(job(1)) + b"\n"

    assert to_frames_in_parts(noting()).jobs["job_id"].tolist() == ["job_1"]
    assert seen == ["system"] and backend() == "mimalloc"


def test_a_strict_problem_half_way_through_parts_puts_the_pool_back() -> None:
    def parts() -> Iterator[bytes]:
        yield orjson.dumps(job(0)) + b"\n"
        yield b"{not json\n"

    with pytest.raises(ValueError):
        to_frames_in_parts(parts(), strict=True)
    assert backend() == "mimalloc"


def test_the_system_pool_set_by_the_caller_during_a_conversion_stays() -> None:
    """memory.py: 'a pool the caller set meanwhile stays theirs'. A caller who reads that
    the conversion is faster on the system allocator and picks it for the whole process
    (from its records generator, or another thread during a long walk) keeps it."""

    def records() -> Iterator[dict[str, Any]]:
        yield job(0)
        pa.set_memory_pool(pa.system_memory_pool())  # the caller's own choice, for good
        yield job(1)

    itf.to_frames(records())
    assert backend() == "system"
