"""Arrow's memory pool during a conversion (frames/_pool.py): the system allocator while
frames are made, the caller's pool back after, a pool the caller chose left alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import ittybit_frames as itf

JOB = {
    "id": "job_1",
    "kind": "video",
    "status": "succeeded",
    "created_at": 1_790_000_000_000,
    "updated_at": 1_790_000_060_000,
    "tasks": [],
}


@pytest.fixture(autouse=True)
def _mimalloc_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    try:
        pool = pa.mimalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no mimalloc: the pool is never switched")
    pa.set_memory_pool(pool)
    yield
    pa.set_memory_pool(pool)


def backend() -> str:
    return str(pa.default_memory_pool().backend_name)


def seen_while_read(seen: list[str], n: int = 3) -> Iterator[dict[str, Any]]:
    """Jobs that note the default pool's backend as the conversion reads them."""
    for i in range(n):
        seen.append(backend())
        yield {**JOB, "id": f"job_{i}"}


def test_the_system_allocator_serves_the_conversion_and_mimalloc_comes_back() -> None:
    seen: list[str] = []
    frames = itf.to_frames(seen_while_read(seen))
    assert len(frames.jobs) == 3
    assert seen == ["system"] * 3
    assert backend() == "mimalloc"


def test_the_callers_pool_comes_back_after_an_error() -> None:
    def broken() -> Iterator[dict[str, Any]]:
        yield JOB
        raise OSError("the caller's source failed")

    with pytest.raises(OSError, match="source failed"):
        itf.to_frames(broken())
    assert backend() == "mimalloc"


def test_a_pool_the_caller_chose_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        chosen = pa.jemalloc_memory_pool()
    except NotImplementedError:
        chosen = pa.system_memory_pool()
    pa.set_memory_pool(chosen)
    seen: list[str] = []
    itf.to_frames(seen_while_read(seen))
    assert set(seen) == {chosen.backend_name} and backend() == chosen.backend_name
    # Chosen through the variable, even naming pyarrow's default: not switched either.
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    seen.clear()
    itf.to_frames(seen_while_read(seen))
    assert seen == ["mimalloc"] * 3 and backend() == "mimalloc"


def test_a_pool_set_during_the_conversion_stays() -> None:
    def sets_its_own() -> Iterator[dict[str, Any]]:
        yield JOB
        pa.set_memory_pool(pa.mimalloc_memory_pool())  # the caller changes its mind
        pa.set_memory_pool(_jemalloc_or_skip())
        yield {**JOB, "id": "job_2"}

    itf.to_frames(sets_its_own())
    assert backend() == "jemalloc"


def _jemalloc_or_skip() -> pa.MemoryPool:
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")


def test_concurrent_conversions_share_one_switch() -> None:
    """The first conversion to end must not put mimalloc back under one still running,
    and the last one to end puts it back (in either order)."""
    inside, release = threading.Event(), threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def slow() -> Iterator[dict[str, Any]]:
        yield JOB
        inside.set()
        assert release.wait(60)  # a guard against a hang, not a timing
        seen.append(backend())
        yield {**JOB, "id": "job_2"}

    def run() -> None:
        try:
            itf.to_frames(slow())
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert inside.wait(60)
    mine: list[str] = []
    itf.to_frames(seen_while_read(mine))  # starts and ends inside the other one
    assert mine == ["system"] * 3
    assert backend() == "system"  # still the other conversion's
    release.set()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert seen == ["system"] and backend() == "mimalloc"


def test_reading_a_lake_puts_the_callers_pool_back(tmp_path: Any) -> None:
    itf.write_parquet(itf.to_frames([JOB]), tmp_path / "lake")
    assert len(itf.read_parquet(tmp_path / "lake").jobs) == 1
    assert backend() == "mimalloc"
