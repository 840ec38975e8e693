"""What the caller handed over: NDJSON bytes, a JSON array, an envelope, or dicts.

NDJSON is told apart from one JSON document (an array, an object, an envelope spread
over lines); everything that is not NDJSON is read whole and cut into chunks of records.
A UTF-8 byte order mark is skipped. Envelopes (``{"meta", "data", "links"}``, a list
page or one object; an event whose ``data`` is the task) are opened wherever they
appear, also as NDJSON lines: their records are the rows, and the envelope's other
fields go with each record, in ``extra`` under ``envelope``. An API error body is a
problem, not a row.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from ittybit_frames.frames._jsontext import TooDeep, loads_exact
from ittybit_frames.frames._values import LINE_ROWS, Problems

__all__ = [
    "CHUNK",
    "ArrayElements",
    "OneLine",
    "chunks",
    "document",
    "each_record",
    "held",
    "opened",
    "parse_lines",
    "read_input",
    "records_of",
]

#: Records converted together on the careful path.
CHUNK = 5000
_NOT_SPACE = re.compile(rb"\S")
_BOM = b"\xef\xbb\xbf"
#: Keys of an API error body (``{kind, message}``, ``{message}``, ``{meta, error}``).
_ERROR_BODY = frozenset({"kind", "type", "code", "message", "error", "meta", "links"})


#: Byte order marks of the other Unicode encodings JSON text may come in, longest first
#: (the UTF-32 LE mark starts with the UTF-16 LE one).
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


#: Without a mark: where the first character's zero bytes are (``0``) and are not.
_ZERO_PATTERNS = {
    "000x": "utf-32-be",
    "x000": "utf-32-le",
    "0x0x": "utf-16-be",
    "x0x0": "utf-16-le",
}


def _wide_encoding(data: bytes) -> tuple[int, str] | None:
    """(mark length, encoding) of UTF-16/32 text, told by its byte order mark or, without
    one, by where the zero bytes of its first (ASCII) character are (RFC 4627)."""
    for mark, encoding in _WIDE_BOMS:
        if data.startswith(mark):
            return len(mark), encoding
    head = data[:4]
    if len(head) < 4 or 0 not in head:
        return None
    zeros = "".join("0" if b == 0 else "x" for b in head)
    found = _ZERO_PATTERNS.get(zeros)
    return None if found is None else (0, found)


def _text(records: Any) -> bytes:
    """UTF-8 bytes of the records' text, a byte order mark dropped; UTF-16 and UTF-32
    text is decoded (a text that does not decode is a ``ValueError``)."""
    data = records.encode(errors="surrogatepass") if isinstance(records, str) else bytes(records)
    if data.startswith(_BOM):
        return data[len(_BOM) :]
    wide = _wide_encoding(data)
    if wide is None:
        return data
    skip, encoding = wide
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"records look like {encoding.upper()} text but do not decode: {exc}"
        ) from None
    return text.encode(errors="surrogatepass")


def _parses(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


_GZIP = b"\x1f\x8b"
#: Gzip layers opened at most (text is never gzip-compressed more than twice or so).
_GZIP_LAYERS = 4
_BYTES = bytes | bytearray | memoryview


def _opened_source(records: Any) -> Any:
    """A path (``os.PathLike``; a ``str`` stays text) or an open file read whole, and
    gzip-compressed bytes decompressed (every member); anything else as it is."""
    if isinstance(records, os.PathLike):
        path = Path(records)
        if path.is_dir():
            raise ValueError(
                f"{path} is a folder: pass a file of job payloads (a lake's folder is read "
                "with read_parquet)"
            )
        records = path.read_bytes()  # a missing file: OSError naming it
    elif not isinstance(records, _BYTES | str) and callable(getattr(records, "read", None)):
        records = _read_handle(records)
    if isinstance(records, str) and records[:1] == "\x1f" and records[1:2] in _GZIP_AS_TEXT:
        raise ValueError(_binary_please("are gzip-compressed bytes decoded as text"))
    # A .gz file fetched with ``Content-Encoding: gzip`` and kept so: gzip inside gzip.
    for _ in range(_GZIP_LAYERS):
        if not (isinstance(records, _BYTES) and bytes(records[:2]) == _GZIP):
            break
        try:
            records = gzip.decompress(records)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"records look gzip-compressed but do not decompress ({exc}); "
                "pass the whole file, or its text"
            ) from None
    return records


#: The gzip mark's second byte decoded as Latin-1 or as Windows-1252 (which decode any
#: byte, so gzip bytes read through them come out as text that is no JSON).
_GZIP_AS_TEXT = ("\x8b", "\u2039")


def _read_handle(handle: Any) -> Any:
    """An open file read whole; a text-mode handle of bytes that are not its encoding's
    text (gzip, UTF-16...) is a one-line ``ValueError`` instead of the decoder's."""
    try:
        return handle.read()
    except UnicodeDecodeError as exc:
        what = f"are not {exc.encoding.upper()} text ({exc.reason})"
        if bytes(exc.object[:2]) == _GZIP:
            what = "are gzip-compressed"
        raise ValueError(_binary_please(f"were opened as text but {what}")) from None


def _binary_please(what: str) -> str:
    return (
        f"records {what}: open the file in binary mode (open(path, 'rb')) or pass its "
        "path (bytes are read gzip-compressed or not, as UTF-8, UTF-16 or UTF-32)"
    )


class OneLine(bytes):
    """One JSON object on one line of ``one_line`` bytes or more (a job with a huge task
    list): read as NDJSON where SQL takes it, else as the :func:`document` it is."""


def read_input(records: Any, *, one_line: int | None = None) -> tuple[bytes | None, Any]:
    """``(bytes, None)`` if ``records`` is NDJSON text, else ``(None, records)`` (text
    that is one JSON document is parsed, unless it is a :class:`OneLine`). A path or an
    open file is read first, and gzip bytes decompressed."""
    if isinstance(records, str):
        _refuse_a_file_name(records)
    records = _opened_source(records)
    if not isinstance(records, _BYTES | str):
        return None, records
    data = _text(records)
    start = _NOT_SPACE.search(data)
    if start is None:
        return data, None  # nothing: no records
    first = data.find(b"\n", start.start())
    if first < 0 or not _NOT_SPACE.search(data, first):
        if one_line is not None and len(data) >= one_line and data[start.start()] == ord("{"):
            return OneLine(data), None
        return document(data)  # one line: one document
    # A first line that is JSON by itself: NDJSON. Else one document spread over lines
    # (pretty-printed), if it parses whole; else NDJSON with a bad first line, which
    # the careful path reports while the other lines are read.
    if _parses(data[start.start() : first]):
        return data, None
    try:
        return None, loads_exact(data)
    except (orjson.JSONDecodeError, TooDeep):
        return _array_lines(data) or data, None


def _refuse_a_file_name(text: str) -> None:
    """A ``str`` that is one line and no JSON (``to_frames("export.ndjson")``) is one
    ``ValueError`` line saying that a file is read from a path."""
    if len(text) > 4096:  # (no copy of a long text made to look at it)
        return
    line = text.strip().lstrip("\ufeff")
    if not line or "\n" in line or line[0] in '[{"':
        return
    if _parses(line.encode(errors="surrogatepass")):
        return
    raise ValueError(
        f"records {text!r} are a str, which is read as JSON text, and not valid JSON: "
        f"to read the file of that name, pass pathlib.Path({text!r})"
    )


def document(data: bytes) -> tuple[bytes | None, Any]:
    """One JSON document (a bare value, ``null``, a number, text, is one record, which
    is reported as no object, as the same NDJSON line would be); an array of which an
    element is not JSON, as NDJSON of its elements."""
    try:
        value = loads_exact(data)
    except TooDeep:
        return _array_lines(data) or data, None  # read as lines: a problem row each
    except orjson.JSONDecodeError as exc:
        lines = _array_lines(data)
        if lines is not None:
            return lines, None
        raise ValueError(
            f"records are not valid JSON or NDJSON: {exc}; pass a JSON array or object, "
            "or NDJSON (one record a line)"
        ) from None
    return None, value if type(value) in (list, dict) else [value]


class ArrayElements(bytes):
    """NDJSON made of a JSON array's elements, one a line: its line n is the array's
    element n, and problems name it so."""


#: A JSON string whole, or a bracket or comma outside strings.
_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.S)


def _array_lines(data: bytes) -> ArrayElements | None:
    """A JSON array text that did not parse, as NDJSON of its top-level elements (found
    by its brackets, commas and strings alone), so that an element that is not JSON
    (``NaN``...) is judged alone, as an NDJSON line is; None when the text is no array
    whose brackets close at its end (then no element is guessed at)."""
    start = _NOT_SPACE.search(data)
    if start is None or data[start.start()] != ord("["):
        return None
    depth, begin, elements = 0, start.start() + 1, []
    for match in _STRUCTURE.finditer(data, start.start()):
        mark = match.group()
        if mark[0] in b"[{":
            depth += 1
        elif mark[0] in b"]}":
            depth -= 1
            if depth == 0:
                elements.append(data[begin : match.start()])
                if _NOT_SPACE.search(data, match.end()):
                    return None  # more after the array: no array
                break
        elif mark == b"," and depth == 1:
            elements.append(data[begin : match.start()])
            begin = match.end()
    else:
        return None  # never closed: cut short
    # JSON text has line breaks only between its tokens: each element on one line.
    lines = [e.replace(b"\r", b" ").replace(b"\n", b" ").strip() for e in elements]
    return ArrayElements(b"\n".join(lines) + b"\n")


def _is_envelope(value: dict[str, Any]) -> bool:
    data = value.get("data")
    return type(data) in (list, dict) and "tasks" not in value and "steps" not in value


#: Envelopes opened inside envelopes (or arrays) at most this deep; deeper, a record.
_MAX_NESTING = 8


def _opens(value: Any) -> bool:
    """Whether an element of a list or NDJSON line is itself a container of records:
    an array, or an object that is no job (an envelope, an error body)."""
    return type(value) is list or (type(value) is dict and ("data" in value or "id" not in value))


def _with_envelope(record: Any, rest: dict[str, Any]) -> Any:
    """A record with its envelope's other fields (an envelope of its own, or a key of
    that name, kept inside it)."""
    if type(record) is not dict:
        return record
    if "envelope" in record:
        rest = {**rest, "envelope": record["envelope"]}
    return {**record, "envelope": rest}


def records_of(value: Any, p: Problems, depth: int = 0, *, page: bool = False) -> list[Any]:
    """The records one parsed value stands for: an envelope's (its other fields with
    each record), an array's elements, or the value itself; none for an error body.
    Arrays and envelopes inside them are opened too, but an empty array among a
    ``page``'s elements (an envelope's ``data``) is a record, which the conversion
    reports as no object: opened, it stood for nothing, dropped without a word."""
    if depth > _MAX_NESTING:
        return [value]
    if type(value) is list:
        return [
            r
            for v in value
            for r in (records_of(v, p, depth + 1) if _opens(v) and not _listed(v, page) else [v])
        ]
    if type(value) is not dict:
        return [value]
    if _is_envelope(value):
        data = value["data"]
        rest = {k: v for k, v in value.items() if k != "data"}
        listed = records_of(data, p, depth + 1, page=True)
        return [_with_envelope(r, rest) for r in listed] if rest else listed
    if "id" not in value and value.keys() <= _ERROR_BODY and value.keys() & {"message", "error"}:
        p.add(None, None, "record", "an API error answer, not a job; skipped", value)
        return []
    return [value]


def _listed(value: Any, page: bool) -> bool:
    return page and type(value) is list and not value


def each_record(records: Any, p: Problems) -> Iterable[Any]:
    """The records handed over, one by one (not NDJSON; containers not yet opened),
    or a ``TypeError`` saying what to pass instead."""
    if isinstance(records, Mapping):
        records = [dict(records)]  # one record, opened once, as any record is (opened)
    if not isinstance(records, Iterable) or isinstance(records, str | bytes):
        raise TypeError(
            "records must be job dicts, a JSON array, NDJSON bytes/text, or a path or open "
            "file of them"
        )
    if hasattr(records, "columns") and hasattr(records, "to_dict"):
        raise TypeError(
            "records is a DataFrame (iterating it gives column names): pass "
            "frame.to_dict('records'), or the payloads the frame was made from"
        )
    if iter(records) is records:
        # One-shot (a generator): it may hand the same object again, changed, while the
        # ones before wait in a chunk; each is taken as it was when handed over.
        return _as_handed(records)
    return records


def _as_handed(records: Iterator[Any]) -> Iterator[Any]:
    """A generator's records as they were when handed over. Each gets its own top level;
    the first, and every one after the generator is seen to recycle its containers
    (it hands the previous record, or a container of it, again), get their own dicts and
    lists all the way down (:func:`held`; ~1/3 of the careful path's time per record,
    so only where needed). Seen: the record, its task list or first task, an envelope's
    ``data`` or its first record handed again (see :func:`_inner`). A generator that
    recycles only objects deeper down, and only after its first record, is not seen."""
    previous: Any = None
    first, recycling = True, False
    for record in records:
        recycling = recycling or (not first and _recycles(record, previous))
        previous = record
        yield held(record) if first or recycling else _own(record)
        first = False


def _recycles(record: Any, previous: Any) -> bool:
    if record is previous:
        return True
    before = _inner(previous)
    return any(a is b for a in _inner(record) for b in before)


def _inner(record: Any) -> tuple[Any, ...]:
    """The containers a recycling generator refills under a fresh record: a job's task
    list and its first task, an envelope's ``data`` and its first record, a list page's
    first record (a few identity checks a record, not a walk)."""
    if type(record) is list:
        return (record[0],) if record and type(record[0]) in (dict, list) else ()
    if type(record) is not dict:
        return ()
    found: tuple[Any, ...] = ()
    for key in ("tasks", "data"):
        value = record.get(key)
        if type(value) in (list, dict):
            found += (value,)
            if type(value) is list and value and type(value[0]) in (dict, list):
                found += (value[0],)
    return found


def held(record: Any) -> Any:
    """A record with its own dicts and lists all the way down (other values shared), so
    that a generator recycling its containers cannot change it once handed over. Past
    Python's recursion limit only its top level is its own."""
    try:
        return _copied(record)
    except RecursionError:
        return _own(record)


def _copied(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    return value


def _own(record: Any) -> Any:
    """A record's own top level (a dict or list handed over again, changed, stays as
    it was); the values inside are shared, as a row buffer's reassigned values are."""
    kind = type(record)
    return dict(record) if kind is dict else list(record) if kind is list else record


def opened(record: Any, p: Problems) -> list[Any]:
    """The job records one record handed over stands for (an array's or envelope's)."""
    return records_of(record, p) if _opens(record) else [record]


def chunks(records: Any, p: Problems) -> Iterator[list[Any]]:
    """Job records in lists of at most ``CHUNK``, whatever form (not NDJSON) they came in."""
    batch = []
    for record in each_record(records, p):
        batch.extend(opened(record, p))
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def parse_lines(lines: list[tuple[int, bytes]], p: Problems) -> tuple[list[Any], list[int]]:
    """(line number, bytes) -> the records and their row numbers (``line *
    LINE_ROWS + k`` for the k-th record of a line); blank lines are skipped, an
    invalid one is reported by number."""
    records: list[Any] = []
    numbers: list[int] = []
    for n, line in lines:
        if not line or line.isspace():
            continue
        try:
            value = loads_exact(line)
        except (TooDeep, orjson.JSONDecodeError) as exc:
            why = exc if isinstance(exc, TooDeep) else "not valid JSON"
            raw = line[:200].decode(errors="replace").rstrip("\r\n")
            p.add(None, None, "record", f"{p.place(n)} is {why}; skipped", raw)
            continue
        found = records_of(value, p)
        records += found
        numbers += range(n * LINE_ROWS, n * LINE_ROWS + len(found))
    return records, numbers
