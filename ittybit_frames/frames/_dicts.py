"""Parsed records (what the client returns) the fast way: written back to NDJSON.

The careful path (:mod:`._careful`) costs one Python object per value; DuckDB's reader
(:mod:`._ndjson`) takes NDJSON bytes in C. Parsed records therefore go to NDJSON again
(orjson, one call per record, ~1/10 of the careful path's time) and take the NDJSON
route, in pieces: each piece is made while DuckDB reads the one before.

A record goes this way only when its JSON text stands for it exactly: it holds only the
exact built-in types of JSON (tuples read as lists on both paths) and no NaN or
infinity (told cheaply from ``marshal``'s bytes), or else its text, read again, is it
type for type (``==`` would take an enum for its value). That rules out what JSON
cannot say or orjson would say otherwise: NaN and infinities (orjson writes null),
integers beyond 64 bits, non-text keys, sets, text subclasses, enums, dates, lone
surrogates, nesting deeper than orjson's limit. ``Mapping`` records and numpy scalars
are written as the careful path reads them (:func:`._values.plain`), and are then
compared with the original like the rest.
Envelopes of one record are written whole: their lines are opened as NDJSON lines are
(one around a job of a documented shape the fast way), as the careful path opens them;
pages of records (which SQL leaves) are opened here. Every other
record (an array, a value of no JSON type...) keeps its line number with an empty line
and goes the careful way, so that rows keep input order and the result is the careful
path's (``tests/test_frames_properties.py`` checks it).
"""

from __future__ import annotations

import itertools
import marshal
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import orjson

from ittybit_frames.frames._input import held, opened
from ittybit_frames.frames._values import LINE_ROWS, Problems

__all__ = ["Serialised"]

_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_BLANK = b"\n"


#: How many values :func:`_default` was asked about (by any thread): a record during
#: whose writing this grew holds a type JSON has not, and is read back to be checked.
_asked = [0]


def _default(value: Any) -> Any:
    """What orjson does not write itself: a ``Mapping`` as a dict, a numpy scalar as its
    number (as ``plain`` reads them); anything else refused (the record goes careful)."""
    _asked[0] += 1
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError


#: ``marshal`` writes a float as one of these type bytes and its binary double,
#: little-endian: a NaN or an infinity ends in 0x7f or 0xff (the exponent's top bits)
#: after a byte of 0xf0 or more (its low bits).
_FLOAT_TYPES = (ord("g"), ord("g") | 0x80)


def _finite(raw: bytes) -> bool:
    """Whether ``marshal`` output holds no NaN or infinity (a byte pattern that is one
    may also come by chance from other values: that record is then checked the slow
    way)."""
    for last in (0x7F, 0xFF):
        at = raw.find(last, 8)
        while at >= 0:
            if raw[at - 8] in _FLOAT_TYPES and raw[at - 1] >= 0xF0:
                return False
            at = raw.find(last, at + 1)
    return True


def _marshal_ok() -> bool:
    """Whether this Python's ``marshal`` writes floats as :func:`_finite` reads them."""
    shown = all(not _finite(marshal.dumps([v])) for v in (math.nan, -math.nan, math.inf, -math.inf))
    return shown and _finite(marshal.dumps([0.5, -1e300, 2**62, "\x7f\xff"]))


_MARSHAL_OK = _marshal_ok()


def _marshalled(record: Any) -> bytes | None:
    """``marshal``'s bytes of a record (C, ~2x orjson's writing), or None when it holds
    a type other than the exact built-in ones (and byte buffers: numpy values)."""
    if not _MARSHAL_OK:
        return None
    try:
        return marshal.dumps(record)
    except (ValueError, RecursionError):
        return None


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _same(read: Any, value: Any) -> bool:
    """Whether ``read`` (the record's text read back) is ``value`` as the careful path
    reads it, type for type: ``==`` alone would let an enum pass as its number or text
    (orjson writes an enum's value unasked), and would compare a dict subclass by its
    storage, which orjson writes, not by the ``items()`` the careful path reads."""
    kind = type(value)
    if kind in _SCALARS:
        return type(read) is kind and bool(read == value)
    if kind is list or kind is tuple:
        return type(read) is list and len(read) == len(value) and all(map(_same, read, value))
    if isinstance(value, Mapping):
        pairs = list(value.items())
        return (
            type(read) is dict
            and len(read) == len(pairs)
            and all(type(k) is str and k in read and _same(read[k], v) for k, v in pairs)
        )
    return isinstance(value, np.generic) and _same(read, value.item())


def _pages(record: dict[str, Any]) -> bool:
    """Whether a dict may be (or hold) an envelope of a page of records: SQL leaves
    those, and the careful path, reading its line, could number more rows than a line
    has (see :meth:`Serialised.pieces`); it is opened here instead. So is a dict whose
    ``data`` (or its ``data``...) is another ``Mapping`` or a tuple: the careful path
    opens only a dict's or a list's, while their JSON text would be opened."""
    data = record.get("data")
    if data is None:  # most records: no ``data`` (an ABC's isinstance costs more)
        return False
    while type(data) is dict:
        data = data.get("data")
    return type(data) is list or isinstance(data, Mapping | tuple)


def _text(record: Any) -> bytes | None:
    """The record's NDJSON line, or None when that line would not stand for it exactly.
    A dict is opened (an envelope, an error body) as its line is; another ``Mapping``
    never is, so it is written only when its line would not be opened either."""
    if type(record) is dict and _pages(record):
        return None
    if type(record) is not dict and (
        not isinstance(record, Mapping) or "id" not in record or "data" in record
    ):
        return None
    try:
        asked = _asked[0]
        text = orjson.dumps(record, default=_default, option=_OPTIONS)
        raw = _marshalled(record)
        if raw is not None and asked == _asked[0] and _finite(raw):
            # Only the exact built-in types JSON has (and tuples, read as lists on
            # both paths), and no NaN or infinity: the text is the record. A faster
            # check than reading the text back, which it spares most records.
            return text
        read = orjson.loads(text)
        # Exact built-in types and numpy scalars (written as their item(), which the
        # careful path reads too): == is exact. Other types: compared type for type.
        exact = read == record if raw is not None else _same(read, record)
        return text if exact else None
    except (TypeError, ValueError, RecursionError):
        return None


#: Records are written this many at a time (see :func:`_texts`).
_BATCH = 128


def _batch_texts(batch: list[Any]) -> list[bytes | None] | None:
    """The lines of a batch of records when every one is a dict (no page) of the exact
    built-in types JSON has, as :func:`_text` tells of each: one ``marshal`` call and
    one look at its bytes for all of them (per record, those were about half the
    writing's time); a record whose own bytes may hold a NaN or an infinity has None,
    for :func:`_text` to decide. None when any record is not of those types."""
    for record in batch:
        if type(record) is not dict or _pages(record):
            return None
    try:
        asked = _asked[0]
        dumps = orjson.dumps
        texts: list[bytes | None] = [
            dumps(record, default=_default, option=_OPTIONS) for record in batch
        ]
    except (TypeError, ValueError, RecursionError):
        return None
    if asked != _asked[0]:
        return None
    raw = _marshalled(batch)
    if raw is None:
        return None
    if not _finite(raw):
        # Maybe by chance (~2 % of batches of the older history): each record's own
        # bytes tell, and its line is kept when they show no NaN or infinity.
        return [
            text if (own := _marshalled(record)) is not None and _finite(own) else None
            for record, text in zip(batch, texts, strict=True)
        ]
    return texts


def _texts(batch: list[Any]) -> list[bytes | None]:
    """Each record's line (:func:`_text`), the batch at once where it can be."""
    texts = _batch_texts(batch)
    if texts is None:
        return [_text(record) for record in batch]
    return [
        _text(record) if text is None else text for record, text in zip(batch, texts, strict=True)
    ]


class Serialised:
    """Records -> NDJSON pieces of about ``piece_bytes``; the records that must go the
    careful way are kept in ``careful[i]`` (``i``: their piece) with their row numbers
    (``line * LINE_ROWS + k``, as NDJSON's), to be converted with the lines SQL leaves
    in that piece (in row order, as the careful path would meet them). ``records``: as
    :func:`._input.each_record` hands them (a generator's already held as handed: taken
    through it twice, a list's records were copied and compared as a generator's)."""

    def __init__(
        self, records: Iterable[Any], p: Problems, piece_bytes: int, most_bytes: int = 0
    ) -> None:
        self.careful: list[list[tuple[int, Any]]] = [[]]
        self._records = records
        self._p = p
        self._piece_bytes = piece_bytes
        self._most_bytes = max(most_bytes, piece_bytes)

    def pieces(self) -> Iterator[bytes]:
        """The NDJSON, piece by piece; a record of no exact line leaves an empty one,
        and its records (an array's, say) are kept with their row numbers."""
        texts: list[bytes] = []
        size = line = 0
        piece_bytes = self._piece_bytes
        records = iter(self._records)
        for batch in iter(lambda: list(itertools.islice(records, _BATCH)), []):
            for record, written in zip(batch, _texts(batch), strict=True):
                line += 1
                text = written
                if text is None:
                    text, line = self._kept(record, line)
                texts.append(text)
                size += len(text)
                if size >= piece_bytes:
                    self.careful.append([])
                    yield b"".join(texts)
                    texts, size = [], 0
                    # Each piece twice the last, up to ``most_bytes``: DuckDB starts on
                    # a small first piece, and each later block costs its fixed share once.
                    piece_bytes = min(2 * piece_bytes, self._most_bytes)
        if texts:
            yield b"".join(texts)

    def _kept(self, record: Any, line: int) -> tuple[bytes, int]:
        """A record kept for the careful way: its empty lines, and its last line's number."""
        found = opened(held(record), self._p)  # kept while more are pulled
        self.careful[-1] += ((line * LINE_ROWS + k, r) for k, r in enumerate(found))
        # More rows than a line numbers (an array of millions): the lines after it are
        # its too, so that the next record's rows still come after.
        spare = max(len(found) - 1, 0) // LINE_ROWS
        return _BLANK * (1 + spare), line + spare
