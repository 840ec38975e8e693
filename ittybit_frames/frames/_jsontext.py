"""JSON text with sorted keys, one value or many at once (orjson, stdlib as fallback)."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["json_many", "json_text", "loads_exact"]

_JSON_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def json_text(value: Any) -> str:
    """JSON text with sorted keys; falls back to the stdlib for what orjson refuses."""
    try:
        return orjson.dumps(value, option=_JSON_OPTS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


# orjson spends most of a call on its own set-up (about 2.5 us for a small dict, against
# 0.05 us per item inside one list), so many values are written in one call, with a
# separator between them that is split on afterwards.
_SEPARATOR = "\x00ittybit-frames:separator\x00"
_SPLIT = b"," + orjson.dumps(_SEPARATOR) + b","


def json_many(values: list[Any]) -> list[Any]:
    """``json_text`` of each value (as UTF-8 bytes or text, both fine for Arrow)."""
    if not values:
        return []
    mixed = [item for value in values for item in (value, _SEPARATOR)]
    try:
        out = orjson.dumps(mixed, option=_JSON_OPTS)
    except TypeError:
        return [json_text(v) for v in values]
    parts = out[1 : -len(_SPLIT)].split(_SPLIT)
    if len(parts) != len(values):  # a value holds the separator itself, in a list
        return [json_text(v) for v in values]
    return parts


#: A run of 20 digits or more: maybe an integer of 2**64 or beyond, which orjson reads
#: as a float.
_WIDE_DIGITS = re.compile(r"[0-9]{20}")
_WIDE_DIGITS_BYTES = re.compile(_WIDE_DIGITS.pattern.encode())


def loads_exact(data: bytes | str) -> Any:
    """Parse JSON (orjson checks it; raises ``orjson.JSONDecodeError``), keeping
    integers of any width exact: a text with a long run of digits is read again by the
    stdlib, as the careful path keeps such integers."""
    value = orjson.loads(data)
    wide = _WIDE_DIGITS_BYTES.search(data) if isinstance(data, bytes) else _WIDE_DIGITS.search(data)
    return json.loads(data) if wide else value
