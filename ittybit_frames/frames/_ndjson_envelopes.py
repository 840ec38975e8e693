"""The fields of a single-object envelope beside ``data`` (``{"meta", "data", "links"}``),
read by the NDJSON fast path (:mod:`._ndjson`) as the careful path keeps them: in
``extra``, under ``envelope``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa

from ittybit_frames.frames._jsontext import (
    TooDeep,
    has_wide_digits,
    json_many,
    json_text,
    loads_exact,
)
from ittybit_frames.frames._ndjson_groups import text_span

__all__ = ["envelope_extras"]


def _bytes_of(lines: pa.Array) -> bytes:
    """The text of all ``lines`` (each ends in its newline), in one piece."""
    if len(lines) == 0:
        return b""
    start, end = text_span(lines)
    data: bytes = lines.buffers()[2].slice(start, end - start).to_pybytes()
    return data


def envelope_extras(rests: list[str], lines: pa.Array) -> tuple[list[Any], list[bool]]:
    """Each envelope's fields beside ``data`` (``rests``: JSON text of each envelope
    without it; ``lines``: the envelopes) as ``extra`` JSON text (None when there are
    none), and whether they are JSON (DuckDB takes NaN, orjson not; the job in ``data``
    is checked as a job line is). Parsed as :func:`loads_exact` parses each whole line
    (integers kept exact when the line has a long run of digits); one orjson call for
    all of them when no line has."""
    values: list[Any] = []
    fine: list[bool] = []
    if not has_wide_digits(_bytes_of(lines)):
        with contextlib.suppress(orjson.JSONDecodeError):
            values = orjson.loads("[" + ",".join(rests) + "]")
            fine = [True] * len(rests)
    if len(values) != len(rests):
        values, fine = [], []
        for rest, line in zip(rests, lines.to_pylist(), strict=True):
            try:
                # orjson checks it; the stdlib reads it again when the whole line has
                # a long run of digits, as loads_exact reads the line.
                value = loads_exact(rest)
                if has_wide_digits(line) and not has_wide_digits(rest):
                    value = json.loads(rest)
            except (orjson.JSONDecodeError, TooDeep, RecursionError):
                values.append({})
                fine.append(False)
                continue
            values.append(value)
            fine.append(True)
    wrapped = [{"envelope": value} if value else None for value in values]
    try:
        texts_out = iter(json_many([w for w in wrapped if w is not None]))
    except RecursionError:  # one nested past Python's limit (its group let it through)
        texts_out = _each_written(wrapped, fine)
    return [None if w is None else next(texts_out) for w in wrapped], fine


def _each_written(wrapped: list[Any], fine: list[bool]) -> Iterator[Any]:
    """:func:`json_text` of each value that is not None, one by one; one nested too
    deeply for it marks its envelope not fine (the careful path reads that line)."""
    for i, value in enumerate(wrapped):
        if value is None:
            continue
        try:
            yield json_text(value)
        except RecursionError:
            fine[i] = False
            yield None
