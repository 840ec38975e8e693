"""NDJSON cut into blocks of whole lines for the fast path (:mod:`._ndjson`): each block
an Arrow string array over the input's own memory, one line per element."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["LARGE_BLOCK", "Block", "blocks_of", "line_array", "piece_blocks"]

#: Blocks this large (one huge line) need Arrow's 64-bit string offsets.
LARGE_BLOCK = 2**31


def line_array(
    data: bytes, pos: int, stop: int, large_block: int = LARGE_BLOCK
) -> tuple[Any, np.ndarray]:
    """The lines of ``data[pos:stop]`` as an Arrow string array over the same memory (no
    copy), and their offsets into ``data``. Each line keeps its newline, which JSON
    parsers skip as whitespace. A block of ``large_block`` bytes or more gets 64-bit
    offsets."""
    ends = []
    find = data.find
    at = pos
    while at < stop:
        nl = find(b"\n", at, stop)
        at = stop if nl < 0 else nl + 1
        ends.append(at)
    offsets = np.array([pos, *ends], dtype=np.int64)
    buffer = pa.py_buffer(data).slice(pos, stop - pos)
    if stop - pos < large_block:
        relative = pa.py_buffer((offsets - pos).astype(np.int32))
        return pa.StringArray.from_buffers(len(ends), relative, buffer), offsets
    # One line of 2 GiB or more in this block: 64-bit offsets.
    relative = pa.py_buffer(offsets - pos)
    return pa.LargeStringArray.from_buffers(len(ends), relative, buffer), offsets


#: One block: the bytes its lines are in, the lines, their offsets, their numbers.
Block = tuple[bytes, pa.Array, np.ndarray, np.ndarray]


def blocks_of(
    data: bytes, block_bytes: int, large_block: int = LARGE_BLOCK, taper: int = 0, floor: int = 0
) -> Iterator[Block]:
    """``data`` in blocks of whole lines, each of ``block_bytes`` or a little more (up to
    the end of the line it stops in), line numbers from 1. With ``taper``, a block is
    at most the ``taper``-th part of what is left (but never below ``floor``): the last
    blocks get smaller, so that less is left to check once the reading is done."""
    first_line, pos, end = 1, 0, len(data)
    while pos < end:
        size = min(block_bytes, max(floor, (end - pos) // taper)) if taper else block_bytes
        stop = data.find(b"\n", min(pos + size, end) - 1)
        stop = end if stop < 0 else stop + 1
        lines, offsets = line_array(data, pos, stop, large_block)
        yield data, lines, offsets, np.arange(first_line, first_line + len(lines), dtype=np.int64)
        first_line += len(lines)
        pos = stop


def piece_blocks(pieces: Iterable[bytes], large_block: int = LARGE_BLOCK) -> Iterator[Block]:
    """Each piece of NDJSON (whole lines, each ending in a newline) one block, line
    numbers running on from piece to piece. A piece is made only when the blocks before
    it are being read (see :func:`._ndjson.scan`)."""
    first_line = 1
    for piece in pieces:
        if not piece:
            continue
        lines, offsets = line_array(piece, 0, len(piece), large_block)
        yield piece, lines, offsets, np.arange(first_line, first_line + len(lines), dtype=np.int64)
        first_line += len(lines)
