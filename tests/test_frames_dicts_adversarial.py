"""Parsed records through NDJSON and DuckDB (``frames._dicts``): odd Python values, odd
iterables and record counts, each giving exactly the careful path's result."""

from __future__ import annotations

import copy
import enum
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _assembly, _dicts, _input
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

HISTORY = generate_history(6, seed=7)
CAREFUL = NdjsonReader(use_sql=False)
#: The fast route whatever the input's size (a few records go the careful way by default).
FAST = NdjsonReader(min_records=0)


class _Number(enum.IntEnum):
    SEVEN = 7


class _Flag(enum.IntFlag):
    ONE = 1


class _Word(enum.StrEnum):
    DONE = "succeeded"


class _Shown(dict):  # type: ignore[type-arg]
    """A dict whose ``items()`` shows another status than its storage holds."""

    def items(self) -> Any:
        return [(k, "paused" if k == "status" else v) for k, v in super().items()]


def _job(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(HISTORY[0]), **changes}


def _with_task(key: str, value: Any) -> dict[str, Any]:
    job = _job()
    job["tasks"][0][key] = value
    return job


def _shown_task() -> dict[str, Any]:
    job = _job()
    job["tasks"][0] = _Shown(job["tasks"][0])
    return job


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_job(id=_Number.SEVEN), id="IntEnum job id"),
        pytest.param(_with_task("id", _Flag.ONE), id="IntFlag task id"),
        pytest.param(_with_task("error", _Word.DONE), id="str Enum task error"),
        pytest.param(_job(status=_Word.DONE, metadata={"n": _Number.SEVEN}), id="enums elsewhere"),
        pytest.param(_Shown(_job()), id="dict subclass items()"),
        pytest.param(_shown_task(), id="dict subclass task"),
    ],
)
def test_values_that_only_compare_equal_to_their_json_go_the_careful_way(record: Any) -> None:
    """An enum equals the number or text orjson writes for it, and a dict subclass's
    storage (what orjson writes) may differ from its ``items()`` (what the careful path
    reads): neither text stands for the record."""
    records = [record, HISTORY[1]]
    assert_same(through_sql(records), itf.to_frames(records, _reader=CAREFUL))


def _raising(error: BaseException) -> Iterator[dict[str, Any]]:
    yield from HISTORY[:3]
    raise error


def _reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ndjson")]


def test_an_error_of_the_records_iterable_surfaces_as_itself() -> None:
    """A RuntimeError whose text says "interrupted" (a dropped download, say) is the
    caller's error, not a Ctrl-C: only DuckDB's own interruption is turned into one."""
    with pytest.raises(RuntimeError, match="connection interrupted"):
        itf.to_frames(_raising(RuntimeError("connection interrupted")), _reader=FAST)
    assert _reader_threads() == []


def test_ctrl_c_while_records_are_written_stops_the_reader() -> None:
    with pytest.raises(KeyboardInterrupt):
        itf.to_frames(
            _raising(KeyboardInterrupt()), _reader=NdjsonReader(block_bytes=1, min_records=0)
        )
    assert _reader_threads() == []


def test_a_record_of_more_rows_than_a_line_holds_keeps_input_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record (an array, a page envelope) opens to more than ``LINE_ROWS`` rows (2**20;
    4 here): its rows must not take the numbers of the records after it, which would put
    them out of order and let the wrong duplicate win."""
    for module in (_dicts, _assembly, _input):
        monkeypatch.setattr(module, "LINE_ROWS", 4)
    many = [copy.deepcopy(HISTORY[i % len(HISTORY)]) for i in range(6)]
    for k, job in enumerate(many):
        job["id"] = f"job_many{k}"
    later = copy.deepcopy(many[5])
    later["status"] = "failed"  # the same updated_at: the later record wins
    page = {"meta": {"page": 2}, "data": copy.deepcopy(many)}
    for records in ([many, HISTORY[1], later], [page, HISTORY[1], later]):
        fast = through_sql(records, block_bytes=1)
        assert_same(fast, itf.to_frames(records, _reader=CAREFUL))
        ids = [f"job_many{k}" for k in range(5)] + [HISTORY[1]["id"], "job_many5"]
        assert list(fast.jobs["job_id"]) == ids
        assert fast.jobs["status"].iloc[-1] == "failed"


@pytest.mark.parametrize("block_bytes", [1, 32 * 2**20])
def test_strict_names_the_problem_the_careful_path_names(block_bytes: int) -> None:
    """strict=True stops at the first problem: a record that cannot be written as JSON
    (a NaN) is converted with the lines around it, not after every other one, so a
    later record's problem does not come first."""
    records = copy.deepcopy(HISTORY)
    records[1]["x"] = float("nan")
    records[1]["tasks"][0]["progress"] = "lots"
    records[4]["tasks"][0]["progress"] = "abc"  # SQL leaves its line
    with pytest.raises(itf.SchemaError) as careful:
        itf.to_frames(records, strict=True, _reader=CAREFUL)
    with pytest.raises(itf.SchemaError) as fast:
        through_sql(records, strict=True, block_bytes=block_bytes)
    assert str(fast.value) == str(careful.value)
    assert records[1]["id"] in str(fast.value)
