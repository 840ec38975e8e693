"""JSON text with sorted keys, one value or many at once (orjson, stdlib as fallback)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from typing import Any

import numpy as np
import orjson

__all__ = [
    "TooDeep",
    "has_wide_digits",
    "json_many",
    "json_text",
    "loads_exact",
    "number_of",
]


class TooDeep(ValueError):
    """JSON text nested deeper than the parsers read (orjson stops at 1,024 levels,
    the stdlib near Python's recursion limit)."""


_JSON_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def number_of(value: decimal.Decimal) -> Any:
    """A ``Decimal`` as the number JSON would give (int or float); NaN stays itself."""
    if not value.is_finite():
        return value
    return int(value) if value == value.to_integral_value() else float(value)


def _default(value: Any) -> Any:
    """A value JSON has no type for: a finite ``Decimal`` as its number, a datetime
    (pandas' too) as ISO-8601 text, a numpy scalar as its Python value, else its repr."""
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return number_of(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        item = value.item()
        return item if type(item) is not type(value) else repr(value)
    return repr(value)


def _non_finite(value: Any) -> bool:
    """Whether a NaN or infinity is in ``value`` (orjson would write it as null)."""
    if type(value) is float:
        return not math.isfinite(value)
    if type(value) is dict:
        return any(_non_finite(v) for v in value.values())
    if type(value) is list:
        return any(_non_finite(v) for v in value)
    return False


def _text_keys(value: Any) -> Any:
    """``value`` with every object key as text (keys of mixed types cannot be sorted)."""
    if isinstance(value, dict):
        return {str(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_keys(v) for v in value]
    return value


def _stdlib(value: Any) -> str:
    """The stdlib's text: NaN and infinities as the tokens Python (and DuckDB) read back;
    keys that are not text as their ``str``."""
    try:
        return json.dumps(value, sort_keys=True, default=_default, separators=(",", ":"))
    except TypeError:
        value = _text_keys(value)
        return json.dumps(value, sort_keys=True, default=_default, separators=(",", ":"))


def json_text(value: Any) -> str:
    """JSON text with sorted keys; falls back to the stdlib for what orjson refuses
    and for NaN and infinities (``NaN``, ``Infinity``, which orjson writes as null)."""
    try:
        out = orjson.dumps(value, default=_default, option=_JSON_OPTS)
    except TypeError:
        return _stdlib(value)
    if b"null" in out and _non_finite(value):
        return _stdlib(value)
    return out.decode()


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
        out = orjson.dumps(mixed, default=_default, option=_JSON_OPTS)
    except TypeError:
        return [json_text(v) for v in values]
    if b"null" in out and _non_finite(values):
        return [json_text(v) for v in values]
    parts = out[1 : -len(_SPLIT)].split(_SPLIT)
    if len(parts) != len(values):  # a value holds the separator itself, in a list
        return [json_text(v) for v in values]
    return parts


#: A run of 20 digits or more: maybe an integer of 2**64 or beyond, which orjson reads
#: as a float. Looked for as 20 zeros in the text with every digit made a zero (a byte
#: translation and a substring search, ~8x faster than the regex ``[0-9]{20}``).
_WIDE_DIGITS = b"0" * 20
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def has_wide_digits(data: bytes | str) -> bool:
    """Whether ``data`` has a run of 20 digits or more (see :func:`loads_exact`)."""
    raw = data.encode(errors="surrogatepass") if isinstance(data, str) else data
    return _WIDE_DIGITS in raw.translate(_DIGITS_TO_ZERO)


def loads_exact(data: bytes | str) -> Any:
    """Parse JSON (orjson checks it; raises ``orjson.JSONDecodeError``, or
    :class:`TooDeep`), keeping integers of any width exact: a text with a long run of
    digits is read again by the stdlib, as the careful path keeps such integers."""
    try:
        value = orjson.loads(data)
        return json.loads(data) if has_wide_digits(data) else value
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise TooDeep("nested too deeply to read (over 1,000 levels)") from None
        raise
    except RecursionError:
        raise TooDeep("nested too deeply to read (over 1,000 levels)") from None
