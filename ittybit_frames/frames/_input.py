"""What the caller handed over: NDJSON bytes, a JSON array, an envelope, or dicts.

NDJSON is told apart from one JSON document (an array, an object, an envelope spread
over lines); everything that is not NDJSON is read whole and cut into chunks of records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ittybit_frames.frames._values import Problems

__all__ = ["CHUNK", "as_ndjson", "chunks", "parse_lines"]

#: Records converted together on the careful path.
CHUNK = 5000
_NOT_SPACE = re.compile(rb"\S")


def as_ndjson(records: Any) -> bytes | None:
    """The bytes of ``records`` if it is NDJSON text, else None."""
    if not isinstance(records, bytes | bytearray | memoryview | str):
        return None
    data = records.encode() if isinstance(records, str) else bytes(records)
    start = _NOT_SPACE.search(data)
    head = data[start.start() : start.start() + 1] if start else b""
    if head == b"[":
        return None
    if head == b"{":
        first = data.find(b"\n")
        # One object, or an envelope spread over lines, is one JSON document.
        if first < 0 or not _NOT_SPACE.search(data, first):
            return None
        try:
            orjson.loads(data[:first])
        except orjson.JSONDecodeError:
            return None  # a pretty-printed document, not one object per line
    return data


def chunks(records: Any) -> Iterator[list[Any]]:
    """Job records in lists of at most ``CHUNK``, whatever form (not NDJSON) they came in."""
    if isinstance(records, bytes | bytearray | memoryview | str):
        try:
            records = orjson.loads(records)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"records are not valid JSON or NDJSON: {exc}") from None
    if isinstance(records, dict):
        records = records["data"] if isinstance(records.get("data"), list) else [records]
    if not isinstance(records, Iterable):
        raise TypeError("records must be job dicts, a JSON array, or NDJSON bytes/text")
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def parse_lines(lines: list[tuple[int, bytes]], p: Problems) -> tuple[list[Any], list[int]]:
    """(line number, bytes) -> the records and their line numbers; blank lines are
    skipped, an invalid one is reported by number."""
    records: list[Any] = []
    numbers: list[int] = []
    for n, line in lines:
        if not line or line.isspace():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            p.add(
                None,
                None,
                "record",
                f"line {n} is not valid JSON; skipped",
                line[:200].decode(errors="replace").rstrip("\r\n"),
            )
            continue
        numbers.append(n)
    return records, numbers
