"""The exactness check of parsed records written to NDJSON (``frames._dicts``), against
the values a cheaper check would let through: the ones orjson writes unasked (without
calling ``default``: UUIDs, ``orjson.Fragment``, enums whatever their ``repr``) and NaNs
of any bit pattern (orjson writes them all as ``null``). Session 12 looked for a check
cheaper than ``marshal``'s walk (orjson alone with its ``default`` counted, the stdlib's
encoder with ``allow_nan=False``, ``repr``); each misses one of these. Each must leave its
record's line empty, and the frames must be the careful path's, in a batch of others."""

from __future__ import annotations

import copy
import enum
import struct
import uuid
from typing import Any

import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _dicts
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

#: More than one batch, so that the odd record sits among others written at once.
HISTORY = generate_history(_dicts._BATCH + 20, seed=12)
CAREFUL = NdjsonReader(use_sql=False)


class _Plain(enum.Enum):
    """An enum shown as its value, as a ``repr``-based check would read a value."""

    DONE = "succeeded"

    def __repr__(self) -> str:
        return repr(self.value)


def _nan(bits: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


#: NaNs and infinities of every sign, with the least and the most payload.
NON_FINITE = [
    _nan(0x7FF0000000000001),
    _nan(0x7FFFFFFFFFFFFFFF),
    _nan(0xFFF0000000000001),
    _nan(0xFFFFFFFFFFFFFFFF),
    _nan(0x7FF8000000000000),
    _nan(0x7FF0000000000000),
    _nan(0xFFF0000000000000),
]


def _odd(where: str, value: Any) -> Any:
    """A copy of the history's first job with ``value`` put at ``where``."""
    job = copy.deepcopy(HISTORY[0])
    task = job["tasks"][0]
    if where == "job id":
        job["id"] = value
    elif where == "status":
        job["status"] = value
    elif where == "metadata":
        job["metadata"] = {"n": value}
    elif where == "task id":
        task["id"] = value
    else:
        task.setdefault("output", {})[where] = value
    return job


ODD = [
    pytest.param("job id", uuid.UUID(int=5), id="UUID job id"),
    pytest.param("metadata", uuid.UUID(int=7), id="UUID in metadata"),
    pytest.param("task id", orjson.Fragment(b'"task_x"'), id="Fragment task id"),
    pytest.param("metadata", orjson.Fragment(b'{"a": 1}'), id="Fragment in metadata"),
    pytest.param("status", _Plain.DONE, id="Enum shown as its value"),
    *(
        pytest.param(where, value, id=f"{where} {struct.pack('<d', value).hex()}")
        for value in NON_FINITE
        for where in ("duration", "metadata")
    ),
]


@pytest.mark.parametrize(("where", "value"), ODD)
def test_a_value_orjson_writes_unasked_gets_no_line(where: str, value: Any) -> None:
    record = _odd(where, value)
    assert orjson.dumps(record)  # orjson writes it, and calls no default for it
    assert _dicts._text(record) is None
    batch = [copy.deepcopy(HISTORY[i]) for i in range(1, 5)]
    batch.insert(2, record)
    batch_texts = _dicts._batch_texts(batch)
    if type(value) is float:  # NaN or infinity: each record's bytes are looked at
        assert batch_texts is not None and batch_texts[2] is None
        kept = [_dicts._text(r) for i, r in enumerate(batch) if i != 2]
        assert batch_texts[:2] + batch_texts[3:] == kept
    else:  # a type marshal refuses: the batch is written record by record
        assert batch_texts is None
    texts = _dicts._texts(batch)
    assert texts[2] is None
    assert all(text is not None for i, text in enumerate(texts) if i != 2)


@pytest.mark.parametrize(("where", "value"), ODD)
def test_a_value_orjson_writes_unasked_gives_the_careful_paths_frames(
    where: str, value: Any
) -> None:
    """In the first batch and in the second (a piece break between them)."""

    def records() -> list[Any]:
        made = copy.deepcopy(HISTORY)
        made[3] = _odd(where, value)
        made[_dicts._BATCH + 3] = _odd(where, value)
        made[_dicts._BATCH + 3]["status"] = "failed"
        return made

    expected = itf.to_frames(records(), _reader=CAREFUL)
    for block_bytes in (150_000, 32 * 2**20):  # 150 kB: pieces break between the two
        assert_same(through_sql(records(), block_bytes=block_bytes), expected)
