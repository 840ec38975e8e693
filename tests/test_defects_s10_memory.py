"""Session 10's defects in the pool switch (memory.py): a Ctrl-C that lands right after
the switch counted a conversion, before anything could uncount it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import orjson

from ittybit_frames import memory
from ittybit_frames.frames import to_frames_in_parts
from tests.test_frames_pool import JOB, _mimalloc_default, backend  # noqa: F401  (autouse)


def test_a_ctrl_c_right_after_the_switch_counted_a_conversion_does_not_stick() -> None:
    """The interrupt lands on the line after ``enter`` returned (the count is one up): the
    count goes back down, the caller's pool is back, and the next conversion switches and
    puts it back again (before: the count stayed one high for good, so no later
    conversion ever switched)."""
    gen_code = memory.conversion_pool.__wrapped__.__code__  # type: ignore[attr-defined]
    watched = {gen_code, memory._Switch.enter.__code__}
    raised: list[bool] = []  # [False] once enter returned, [True] once interrupted

    def tracer(f: FrameType, ev: str, a: Any) -> Any:
        if f.f_code not in watched:
            return None
        return local

    def local(f: FrameType, ev: str, a: Any) -> Any:
        if f.f_code is memory._Switch.enter.__code__:
            if ev == "return":
                raised.append(False)
            return local
        if ev == "line" and raised == [False]:
            raised[0] = True
            raise KeyboardInterrupt
        return local

    sys.settrace(tracer)
    try:
        try:
            with memory.conversion_pool():
                pass
        except KeyboardInterrupt:
            pass
    finally:
        sys.settrace(None)
    assert raised == [True]  # the interrupt did land after the count went up
    assert backend() == "mimalloc"
    seen: list[str] = []

    def noting() -> Iterator[bytes]:
        seen.append(backend())
        yield orjson.dumps({**JOB, "id": "job_1"}) + b"\n"

    assert to_frames_in_parts(noting()).jobs["job_id"].tolist() == ["job_1"]
    assert seen == ["system"] and backend() == "mimalloc"
