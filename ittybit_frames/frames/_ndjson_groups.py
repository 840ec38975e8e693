"""The NDJSON fast path's first check, on groups of lines: DuckDB reports each line's
JSON structure at ~20 us a line (about half its reading of a block), but the structure
of many lines joined into one JSON array at a fraction of that. A group whose merged
structure is of the documented shape (:func:`._ndjson_shape.group_shape_of`, which says
what the merge may hide and which checks by value catch it) is taken whole; the lines
of any other group are checked one by one, as :mod:`._ndjson` did for every line.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames._ndjson_checks import storage
from ittybit_frames.frames._ndjson_keys import Keys
from ittybit_frames.frames._ndjson_shape import Verdict, group_shape_of

__all__ = ["GROUP_LINES", "as_table", "grouped", "text_span"]


def as_table(relation: Any) -> pa.Table:
    """A DuckDB relation's rows as an Arrow table."""
    # Newer DuckDB calls it to_arrow_table, older fetch_arrow_table; accept both.
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    table: pa.Table = fetch()
    return table


#: Lines whose structure is checked together (see :func:`grouped`). 64 rather than 32:
#: larger groups cost DuckDB's check less (1.27 CPU-s for 100,000 jobs in groups of 32,
#: 1.10 in groups of 128; session 19), and a group that fails sends no more than 64
#: lines to be checked one by one.
GROUP_LINES = 64
#: Groups per batch handed to DuckDB (each of its threads takes batches).
GROUP_BATCH = 16
#: Blocks of this many bytes or more are not grouped (their group texts could outgrow
#: 32-bit offsets).
GROUP_MAX_BYTES = 2**30


def grouped(con: Any, lines: pa.Array) -> tuple[np.ndarray, np.ndarray, bool, Keys]:
    """Which lines a group check takes for jobs of the documented shape, which for
    single-object envelopes around one, whether their timestamps are all positive
    integers, and the key paths their jobs hold. Reporting one structure per line costs
    DuckDB more than parsing it (~20 us a line); the lines are joined ``GROUP_LINES``
    at a time into JSON arrays instead, whose structure is the lines' merged
    (:func:`._ndjson_shape.group_shape_of` says what that check leaves to the checks by
    value). Lines that begin alike are grouped together, so that job lines and envelope
    lines mostly fall in groups of their own. A group that fails (or is no JSON) has its lines
    checked one by one, as before."""
    import duckdb  # noqa: PLC0415

    taken = np.zeros(len(lines), dtype=bool)
    wrapped = np.zeros(len(lines), dtype=bool)
    start, end = text_span(lines)
    if len(lines) < 2 * GROUP_LINES or end - start >= GROUP_MAX_BYTES:
        return taken, wrapped, True, frozenset()
    heads = pc.utf8_slice_codeunits(lines, 0, 8).dictionary_encode()
    if len(heads.dictionary) > 1:
        order = np.argsort(heads.indices.to_numpy(), kind="stable")
        alike = lines.take(pa.array(order))
    else:  # the common case: every line begins alike
        order, alike = np.arange(len(lines)), lines
    starts = np.arange(0, len(lines) + GROUP_LINES, GROUP_LINES).clip(max=len(lines))
    texts = _in_place(alike, starts)
    if texts is None:
        texts = _joined(alike, starts)
    table = pa.table({"g": np.arange(len(texts)), "text": texts})
    con.register("grp", pa.Table.from_batches(table.to_batches(max_chunksize=GROUP_BATCH)))
    try:
        found = None
        for where in ("", "WHERE json_valid(text)"):
            with contextlib.suppress(duckdb.Error):
                found = as_table(con.sql(f"SELECT g, json_structure(text) AS s FROM grp {where}"))
                break
    finally:
        con.unregister("grp")
    if found is None:
        return taken, wrapped, True, frozenset()
    verdicts: dict[str, Verdict] = {}
    numeric = True
    keys: set[Keys] = set()
    for g, text in zip(found["g"].to_pylist(), storage(found["s"]).to_pylist(), strict=True):
        job, envelope, ints, held = verdicts.get(text) or verdicts.setdefault(
            text, group_shape_of(text)
        )
        if job or envelope:
            (taken if job else wrapped)[order[starts[g] : starts[g + 1]]] = True
            numeric = numeric and ints
            keys.add(held)
    return taken, wrapped, numeric, frozenset().union(*keys)


def _joined(lines: pa.Array, starts: np.ndarray) -> pa.Array:
    """Each group's text, ``[`` + its lines joined by commas + ``]``, made by Arrow (two
    copies of the lines): for lines of which one does not end in a newline."""
    groups = pa.ListArray.from_arrays(pa.array(starts, pa.int32()), lines)
    comma, opening, closing, none = (pa.scalar(c, lines.type) for c in (",", "[", "]", ""))
    return pc.binary_join_element_wise(opening, pc.binary_join(groups, comma), closing, none)


#: Each reading thread's buffer for group texts (see :func:`_in_place`), kept from block
#: to block: fresh memory costs the kernel a page fault per 4 KiB, and the texts of a
#: block of 64 MB made afresh twice (by :func:`_joined`) took about a third of the
#: conversion's page faults (``perf record -e page-faults``, session 20). The readers'
#: threads end with their conversion, and their buffers with them.
_SCRATCH = threading.local()


def _scratch(size: int) -> np.ndarray:
    """This thread's group-text buffer, at least ``size`` bytes; made with an eighth to
    spare, so that a block a few lines larger than the last (blocks end at a line's end;
    pieces of records grow) reuses it."""
    buffer: np.ndarray | None = getattr(_SCRATCH, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _SCRATCH.buffer = np.empty(size + size // 8, dtype=np.uint8)
    return buffer


def _in_place(lines: pa.Array, starts: np.ndarray) -> pa.Array | None:
    """The group texts of lines each ending in its newline (every line but maybe the
    input's last), in one copy into this thread's buffer: a group's lines
    as they are, each newline made a comma (the group's last a ``]``), behind a ``[``.
    The same JSON as :func:`_joined`'s ``[line,line]`` (a newline is whitespace). None
    when a line does not end in a newline: :func:`_joined` then makes them."""
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    window = np.frombuffer(lines.buffers()[1], dtype=width)
    offsets = np.asarray(window[lines.offset : lines.offset + len(lines) + 1], dtype=np.int64)
    raw = np.frombuffer(lines.buffers()[2], dtype=np.uint8)
    ends = offsets[1:]
    if not (np.all(ends > offsets[:-1]) and np.all(raw[ends - 1] == ord("\n"))):
        return None
    count = len(starts) - 1
    first, begin = int(offsets[0]), offsets[starts]
    at = begin[:-1] - first + np.arange(count)  # where each group's "[" goes
    size = int(offsets[-1]) - first + count
    out = _scratch(size)
    for g, (lo, hi) in enumerate(zip(begin[:-1].tolist(), begin[1:].tolist(), strict=True)):
        out[at[g] + 1 : at[g] + 1 + hi - lo] = raw[lo:hi]
    out[at] = ord("[")
    line_group = np.repeat(np.arange(count), np.diff(starts))
    newlines = ends - first + line_group  # each newline, moved past its group's "["s
    out[newlines] = ord(",")
    out[newlines[starts[1:] - 1]] = ord("]")
    text_offsets = np.append(at, size).astype(np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(text_offsets), pa.py_buffer(out[:size]))


def text_span(lines: pa.Array) -> tuple[int, int]:
    """Where the text of ``lines`` starts and ends in their data buffer."""
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)
    return int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
