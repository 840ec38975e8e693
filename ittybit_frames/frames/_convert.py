"""``to_frames``: job payloads of any form -> :class:`JobFrames`.

Pure: no network, no files. NDJSON goes block by block through DuckDB (the fast path,
:mod:`._ndjson`), the lines it leaves through the careful path (:mod:`._careful`) in
chunks. Parsed records (dicts as the client returns them, or the records of one JSON
document) are written back to NDJSON where their text stands for them exactly and take
the same route (:mod:`._dicts`); the others go the careful way. A small input (fewer
than ``NdjsonReader.min_lines`` lines and ``min_bytes`` bytes, or ``min_records``
records) goes the careful way whole: DuckDB's start would cost more than it saves. One
JSON object on one line of ``min_bytes`` or more (a job with a huge task list) is read
as NDJSON where SQL takes it. The parts are then
joined, put in input order, de-duplicated and given their durations
(:mod:`._assembly`). Arrow tables are finally converted to pandas with the dtypes
declared in :mod:`ittybit_frames.schema`.

``to_frames_in_parts`` takes the same way for NDJSON handed over part by part as it
comes (``read_jobs``: a listing walked, jobs fetched by ID): each piece of about 2 MB is
read while the next parts are on their way, so that only the last piece and the final
assembly are left when the last part comes. The rows are those of ``to_frames`` on the
joined input; problems come piece by piece (as they come block by block there).

Nothing is dropped silently: a value that cannot be used becomes NA plus a row in
``problems``; a field this version does not know lands in the ``extra`` JSON column.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from ittybit_frames.frames import _careful
from ittybit_frames.frames._assembly import (
    assemble_read,
    dedupe,
    finish,
    in_input_order,
)
from ittybit_frames.frames._container import JobFrames
from ittybit_frames.frames._dicts import Serialised
from ittybit_frames.frames._input import (
    CHUNK,
    ArrayElements,
    OneLine,
    chunks,
    document,
    each_record,
    opened,
    parse_lines,
    read_input,
)
from ittybit_frames.frames._ndjson import FastBlock, NdjsonReader, unscanned_pieces
from ittybit_frames.frames._values import LINE_ROWS, MISSING, Problems
from ittybit_frames.memory import conversion_pool
from ittybit_frames.schema import JOBS, PROBLEMS, TASKS
from ittybit_frames.vocabulary import parse_when

__all__ = ["to_frames", "to_frames_in_parts"]

_Parts = tuple[list[pa.Table], list[pa.Table]]
#: Parsed records are written to NDJSON in pieces, the first of about this size, each
#: next twice the last up to the reader's block size (see _dicts).
_PIECE_BYTES = 8 * 2**20
#: NDJSON handed over in parts (a listing walked) is read in pieces of about this size:
#: each while the next parts are still on their way, so that little is left after the
#: last one (about a tenth of a second's work at most).
_PART_PIECE_BYTES = 2 * 2**20


#: Why a record is skipped that is nested too deeply for Python's recursion, or holds
#: text that is no Unicode (a lone surrogate); as JSON text, neither is read either
#: (orjson stops at 1024 levels, and refuses lone surrogates).
_TOO_DEEP = "nested too deeply to convert (hundreds of levels); skipped"
_NOT_UNICODE = "holds text that is not valid Unicode (a lone surrogate); skipped"


def _build(records: list[Any], rows: Any, p: Problems) -> tuple[pa.Table, pa.Table]:
    """``_careful.build``, with a record nested too deeply for it, or with a lone
    surrogate in a text, made a problem row (the rest of its chunk converted as usual)."""
    mark = len(p.rows)
    try:
        return _careful.build(records, rows, p)
    except (RecursionError, UnicodeEncodeError):
        del p.rows[mark:]
    numbers = range(rows, rows + len(records)) if isinstance(rows, int) else rows
    parts = []
    for record, number in zip(records, numbers, strict=True):
        mark = len(p.rows)
        try:
            parts.append(_careful.build([record], [number], p))
        except RecursionError:
            del p.rows[mark:]
            p.add(None, None, "record", _TOO_DEEP, MISSING)
        except UnicodeEncodeError:
            del p.rows[mark:]
            p.add(None, None, "record", _NOT_UNICODE, record)  # its text escapes them
    if not parts:
        return _careful.build([], 0, p)
    return pa.concat_tables(t[0] for t in parts), pa.concat_tables(t[1] for t in parts)


def _build_records(records: Any, p: Problems) -> _Parts:
    job_parts, task_parts, row = [], [], 0
    for chunk in chunks(records, p):
        jobs_t, tasks_t = _build(chunk, row, p)
        row += len(chunk)
        job_parts.append(jobs_t)
        task_parts.append(tasks_t)
    return job_parts, task_parts


def _build_ndjson(data: bytes, p: Problems, threads: int | None, reader: NdjsonReader) -> _Parts:
    """NDJSON: DuckDB takes the lines of the documented shape, the careful path the rest."""
    return _build_blocks(reader.blocks(data, threads), p)


#: A job's tasks weigh one job per this many (a job of 200,000 tasks: 50,000 jobs).
_TASKS_A_JOB = 4


def _weight(record: Any) -> int:
    """How many jobs a record handed over stands for, roughly: a page's or an array's
    length, a job with a huge task list its tasks' share, else one."""
    if type(record) is dict:
        tasks = record.get("tasks", record.get("steps"))
        record = record.get("data")
        if type(tasks) is list and type(record) is not list:
            return max(1, len(tasks) // _TASKS_A_JOB)
    return len(record) if type(record) is list else 1


def _at_least(records: Any, p: Problems, count: int) -> tuple[list[Any], Iterable[Any] | None]:
    """The records taken until they stand for ``count`` jobs, and all of them again (the
    taken ones, then the rest), or None when they ran out first."""
    taken: list[Any] = []
    rest = iter(each_record(records, p))
    weight = 0
    while weight < count:
        record = next(rest, _END)
        if record is _END:
            return taken, None
        taken.append(record)
        weight += _weight(record)
    return taken, itertools.chain(taken, rest)


_END = object()


def _build_dicts(records: Any, p: Problems, threads: int | None, reader: NdjsonReader) -> _Parts:
    """Parsed records: written back to NDJSON where the text stands for the record
    exactly (:mod:`._dicts`), and read as NDJSON; the others (and all of them when
    they are few) the careful way."""
    if not reader.use_sql:
        return _build_records(records, p)
    few, records = _at_least(records, p, reader.min_records)
    if records is None:
        return _build_records(few, p)
    serialised = Serialised(records, p, min(_PIECE_BYTES, reader.block_bytes), reader.block_bytes)
    # A strict problem raised while a piece is made must not come before the blocks'
    # before it: pieces are then made one block ahead only.
    blocks = reader.pieces(serialised.pieces(), threads, one_reader=p.strict)
    return _build_blocks(blocks, p, serialised.careful)


def _build_blocks(
    blocks: Iterator[FastBlock], p: Problems, careful: list[list[tuple[int, Any]]] | None = None
) -> _Parts:
    """SQL's rows of each block, and the lines it leaves the careful way. ``careful``
    (parsed records): each block's records that were not written, by row number, which
    join its left lines in row order (where the careful path meets them: with
    ``strict``, the problem it names first is named first)."""
    job_parts: list[pa.Table] = []
    task_parts: list[pa.Table] = []
    try:
        for i, block in enumerate(blocks):
            if len(block.jobs):
                jobs_t, tasks_t = assemble_read(block.jobs, block.tasks, block.parent)
                job_parts.append(jobs_t)
                task_parts.append(tasks_t)
            kept = None if careful is None else careful[i]
            for records, numbers in _left_batches(block.left, kept, p):
                jobs_t, tasks_t = _build(records, numbers, p)
                job_parts.append(jobs_t)
                task_parts.append(tasks_t)
            if careful is not None:
                careful[i] = []  # converted: let them go
    finally:
        # Whatever stops the conversion here (Ctrl-C, a strict problem) stops DuckDB's
        # reader of the next block and closes its connection now, not when the
        # traceback that holds this frame is let go (a notebook keeps it).
        close = getattr(blocks, "close", None)
        if close is not None:
            close()
    return job_parts, task_parts


def _taken_whole(line: OneLine, threads: int | None, reader: NdjsonReader) -> _Parts | None:
    """The rows of one long JSON line (a job with a huge task list) when SQL takes it,
    in C; None when it leaves it (a page envelope, an odd value, no JSON): the line is
    then read as the one document it is, as a shorter one is."""
    blocks = reader.blocks(line, threads)
    try:
        block = next(blocks)
    finally:
        getattr(blocks, "close", lambda: None)()  # DuckDB's reader and connection
    if not len(block.jobs) or any(text.strip() for _, text in block.left):
        return None
    jobs_t, tasks_t = assemble_read(block.jobs, block.tasks, block.parent)
    return [jobs_t], [tasks_t]


def _left_batches(
    lines: list[tuple[int, bytes]], kept: list[tuple[int, Any]] | None, p: Problems
) -> Iterator[tuple[list[Any], list[int]]]:
    """(records, row numbers) of the lines SQL left, ``CHUNK`` lines at a time; with
    ``kept`` records (by row number), all of them at once, joined in row order."""
    if kept is None:
        for start in range(0, len(lines), CHUNK):
            records, numbers = parse_lines(lines[start : start + CHUNK], p)
            if records:
                yield records, numbers
        return
    records, numbers = parse_lines(lines, p)
    joined = sorted([*kept, *zip(numbers, records, strict=True)], key=lambda pair: pair[0])
    for start in range(0, len(joined), CHUNK):
        rows, chunk = zip(*joined[start : start + CHUNK], strict=True)
        yield list(chunk), list(rows)


_DEFAULT_READER = NdjsonReader()


def to_frames(
    records: Any,
    *,
    strict: bool = False,
    as_of: Any = None,
    workers: int | None = None,
    _reader: NdjsonReader = _DEFAULT_READER,
) -> JobFrames:
    """Turn job payloads into typed ``jobs`` and ``tasks`` DataFrames.

    Parameters
    ----------
    records : iterable of mappings, or bytes/str
        Jobs as the client returns them (any ``Mapping``; task lists as any sequence;
        numpy scalars as their numbers), a JSON array, a lone job or task object, an
        envelope (``{"meta", "data": [...] or {...}, "links"}``, an event), or NDJSON
        (whose lines may be envelopes), with or without a UTF-8 byte order mark; or a
        path (``pathlib.Path``; a ``str`` is text) or an open file holding any of these,
        gzip-compressed or not. Every
        documented API generation is accepted (timestamps in ms, s or ISO-8601; old
        field names; every kind and status vocabulary).
    strict : bool, default False
        Raise :class:`~ittybit_frames.SchemaError` at the first problem instead of
        recording it in ``problems``.
    as_of : datetime, str or int, optional
        Give unfinished rows their elapsed-so-far durations up to this instant, and add
        a ``durations_provisional`` column that marks them.
    workers : int, optional
        Threads that read NDJSON and parsed records (default: one per core) in C
        (DuckDB; records are written to NDJSON first); only records with a value of no
        documented shape take the careful path in Python, with the same result.
        (``_reader``, private: how NDJSON is read, see ``NdjsonReader``.)

    Returns
    -------
    JobFrames
        ``jobs`` (one row per distinct job ID; the record updated last wins),
        ``tasks`` (one row per task) and ``problems``.

    Raises
    ------
    SchemaError
        With ``strict=True``, at the first problem.
    ValueError, TypeError
        Text neither NDJSON nor one JSON document; records of no form above.

    Examples
    --------
    >>> frames = to_frames([{"id": "job_1", "kind": "video", "status": "ready",
    ...                      "created_at": 1711900000000, "started_at": 1711900001000,
    ...                      "finished_at": 1711900045000, "tasks": []}])
    >>> frames.jobs.loc[0, ["status", "status_raw", "total_seconds"]].tolist()
    ['succeeded', 'ready', 45.0]
    """

    def build(p: Problems) -> _Parts:
        _check_workers(workers)
        ndjson, parsed = read_input(
            records, one_line=_reader.min_bytes if _reader.use_sql else None
        )
        if isinstance(ndjson, OneLine):
            taken = _taken_whole(ndjson, workers, _reader)
            if taken is not None:
                return taken
            ndjson, parsed = document(bytes(ndjson))  # orjson takes no subclass
        if isinstance(ndjson, ArrayElements):
            p.unit = "element"
        if ndjson is not None:
            return _build_ndjson(ndjson, p, workers, _reader)
        return _build_dicts(parsed, p, workers, _reader)

    return _converted(build, strict, as_of)


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")


def _converted(build: Callable[[Problems], _Parts], strict: bool, as_of: Any) -> JobFrames:
    """The frames of the parts ``build`` converts: joined, put in input order,
    de-duplicated and given their durations."""
    p = Problems(strict)
    as_of_ms = parse_when(as_of)
    gc_was_enabled = gc.isenabled()
    # Millions of small containers are made and dropped here; none forms a cycle, so the
    # cyclic GC would only walk them (and the caller's payloads) again and again.
    gc.disable()
    try:
        # The blocks are read with the system allocator (see memory.py: a sixth of the
        # CPU was the kernel's), the frames handed back made with the caller's pool:
        # with the whole conversion switched, metrics on the frames ran up to 2x slower
        # (bench.metrics, throughput on 300,000 jobs: 0.45 s against 0.19-0.24 s).
        with conversion_pool():
            job_parts, task_parts = build(p)
        if not job_parts:
            empty = _careful.build([], 0, p)
            job_parts, task_parts = (list(t) for t in zip(empty, strict=True))
        jobs_t = pa.concat_tables(job_parts)
        tasks_t = pa.concat_tables(task_parts)
        jobs_t, tasks_t = in_input_order(jobs_t, tasks_t)
        jobs_t, tasks_t = dedupe(jobs_t, tasks_t, p)
        jobs = finish(JOBS, jobs_t, as_of_ms, p, task_level=False)
        tasks = finish(TASKS, tasks_t, as_of_ms, p, task_level=True)
    finally:
        if gc_was_enabled:
            gc.enable()
    problems = pd.DataFrame(p.rows, columns=PROBLEMS.names).astype(PROBLEMS.dtypes())
    stamp = pd.Timestamp(as_of_ms, unit="ms", tz="UTC") if as_of_ms is not None else None
    return JobFrames(jobs, tasks, problems, as_of=stamp)


def to_frames_in_parts(
    parts: Iterable[bytes | list[Any]],
    *,
    strict: bool = False,
    workers: int | None = None,
    piece_bytes: int = _PART_PIECE_BYTES,
    _reader: NdjsonReader = _DEFAULT_READER,
) -> JobFrames:
    """:func:`to_frames` of records handed over part by part as they come (a listing
    walked, jobs fetched), converted while the later parts are still on their way.

    Parameters
    ----------
    parts : iterable of bytes or lists
        NDJSON of whole lines as orjson writes JSON (no byte order mark, no trailing
        commas), or a list of records that could not be written so (an integer beyond
        64 bits, say), which go the careful way in their place.
    strict, workers
        As :func:`to_frames`.
    piece_bytes : int
        The NDJSON is read in pieces of about this many bytes, each while the parts
        after it come (the first holds at least ``NdjsonReader.min_lines`` lines: fewer
        lines in all go the careful way, as :func:`to_frames` sends them).

    Returns
    -------
    JobFrames
        The frames :func:`to_frames` makes of the same records in one input.
    """

    caller_gc = gc.isenabled()

    def build(p: Problems) -> _Parts:
        _check_workers(workers)
        stream = _Pieces(
            _awaited_as_caller(parts, caller_gc),
            p,
            piece_bytes,
            _reader.min_lines if _reader.use_sql else 0,
        )
        pieces = stream.pieces()
        first = next(pieces, None)
        if first is None:
            return [], []
        if not _reader.use_sql or stream.lines < _reader.min_lines:
            careful = unscanned_pieces(itertools.chain([first], pieces))
            return _build_blocks(careful, p, stream.careful)
        blocks = _reader.pieces(itertools.chain([first], pieces), workers, one_reader=p.strict)
        return _build_blocks(blocks, p, stream.careful)

    return _converted(build, strict, None)


def _awaited_as_caller(parts: Iterable[Any], gc_on: bool) -> Iterator[Any]:
    """``parts``, each awaited with the cyclic GC as the caller had it: the conversion
    pauses it (see :func:`_converted`), but a walk waiting on the network for minutes
    must not keep the caller's process (its other threads too) without it."""
    it = iter(parts)
    while True:
        if gc_on:
            gc.enable()
        try:
            part = next(it)
        except StopIteration:
            return
        finally:
            if gc_on:
                gc.disable()
        yield part


class _Pieces:
    """Parts (NDJSON bytes, or lists of records) -> NDJSON pieces of about
    ``piece_bytes`` (the first of at least ``first_lines`` lines). A listed record
    leaves an empty line per record it stands for, and is kept in ``careful[i]`` (``i``:
    its piece) with its row number, as :class:`._dicts.Serialised` keeps those it
    cannot write."""

    def __init__(
        self, parts: Iterable[bytes | list[Any]], p: Problems, piece_bytes: int, first_lines: int
    ) -> None:
        self.careful: list[list[tuple[int, Any]]] = [[]]
        self.lines = 0  # so far
        self._parts = parts
        self._p = p
        self._piece_bytes = piece_bytes
        self._first_lines = first_lines

    def pieces(self) -> Iterator[bytes]:
        held: list[bytes] = []
        size = 0
        for part in self._parts:
            if isinstance(part, bytes):
                held.append(part)
                size += len(part)
                self.lines += part.count(b"\n")
            else:
                for record in part:
                    for found in opened(record, self._p):
                        self.lines += 1
                        self.careful[-1].append((self.lines * LINE_ROWS, found))
                        held.append(b"\n")
                        size += 1
            if size >= self._piece_bytes and self.lines >= self._first_lines:
                self._first_lines = 0
                self.careful.append([])
                yield b"".join(held)
                held, size = [], 0
        if size:
            yield b"".join(held)
