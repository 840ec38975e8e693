"""Which texts are ISO-8601 timestamps of the forms the NDJSON fast path takes, told by
their bytes (numpy over fixed-width rows) rather than a regular expression.

The forms are ``YYYY-MM-DDTHH:MM:SS``, then a fraction of 1 to 3 digits or none, then
``Z`` or an offset ``+HH:MM`` / ``-HH:MM``: exactly the texts :data:`ISO_PATTERN` matches.
Each form has a length of its own (20, 22-25, 27-29 bytes), so a text's length says
which layout it must have. The texts of one length are gathered into one buffer (an
Arrow take), seen as a matrix of that many byte columns, and every byte is compared with
its layout's bounds in one pass: about 2x faster than RE2 (31 ms against 66-79 ms on
600,000 texts), on what was the fast path's largest cost on ISO input.
``tests/test_frames_isoform.py`` checks the two agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["ISO_PATTERN", "iso_texts"]

#: The forms taken, as a regular expression (the reference :func:`iso_texts` equals).
ISO_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)

_DIGIT, _SIGN = "D", "S"


def _layouts() -> dict[int, str]:
    """Each form's layout by its length: ``D`` a digit, ``S`` a sign, else that byte."""
    base = "DDDD-DD-DDTDD:DD:DD"
    out: dict[int, str] = {}
    for fraction in ("", ".D", ".DD", ".DDD"):
        for zone in ("Z", "SDD:DD"):
            layout = base + fraction + zone
            out[len(layout)] = layout
    return out


_LAYOUTS = _layouts()


def _bounds(layout: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Per byte of ``layout``: the lowest byte allowed, how far above it the highest
    is, and where the signs are (``+`` to ``-`` takes in ``,``, ruled out apart)."""
    low = {_DIGIT: "0", _SIGN: "+"}
    high = {_DIGIT: "9", _SIGN: "-"}
    lo = np.array([ord(low.get(c, c)) for c in layout], dtype=np.uint8)
    hi = np.array([ord(high.get(c, c)) for c in layout], dtype=np.uint8)
    return lo, hi - lo, [i for i, c in enumerate(layout) if c == _SIGN]


_BOUNDS = {length: _bounds(layout) for length, layout in _LAYOUTS.items()}


def _rows_fit(rows: np.ndarray, length: int) -> np.ndarray:
    """Which rows of a byte matrix (one text per row) have the layout of ``length``:
    each byte within its bounds (one pass over the matrix; below the lowest wraps
    round to a large byte)."""
    lo, span, signs = _BOUNDS[length]
    wrong = (rows - lo) > span
    for i in signs:
        wrong[:, i] |= rows[:, i] == ord(",")
    fit = np.ones(len(rows), dtype=bool)
    # Few bytes are wrong: found in the flat matrix (a reduction along each short row
    # costs numpy more than the whole comparison).
    fit[np.flatnonzero(wrong.ravel()) // length] = False
    return fit


def iso_texts(text: Any) -> pa.BooleanArray:
    """For each text (an Arrow string array, not chunked), whether it is an ISO-8601
    timestamp of a form taken (:data:`ISO_PATTERN`); null texts are not (their length
    reads as 0, so none is among the rows looked at)."""
    lengths = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False)
    out = np.zeros(len(text), dtype=bool)
    for length in _LAYOUTS:
        at = np.flatnonzero(lengths == length)
        if not len(at):
            continue
        some = text.take(pa.array(at)) if len(at) < len(text) else text
        width = np.int64 if pa.types.is_large_string(some.type) else np.int32
        offsets = np.frombuffer(some.buffers()[1], dtype=width)[some.offset :]
        start = int(offsets[0])
        data = np.frombuffer(some.buffers()[2], dtype=np.uint8)
        # Arrow keeps the texts end to end: rows of one length make a matrix.
        rows = data[start : start + len(at) * length].reshape(len(at), length)
        out[at] = _rows_fit(rows, length)
    return pa.array(out)
