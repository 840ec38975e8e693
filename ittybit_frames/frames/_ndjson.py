"""NDJSON straight to Arrow, in C, for the records that need no care.

The careful path (:mod:`._careful`) turns parsed records into columns in Python; it
handles every API generation and records every oddity, at the price of one Python object
per JSON value. For NDJSON bytes, this module lets DuckDB's JSON reader (multi-threaded
C++) do the common case instead: every line is parsed, checked (in groups of lines
first, :mod:`._ndjson_groups`) and flattened in SQL, and
a line goes this way only when every value in it is of a documented shape
(:mod:`._ndjson_shape`, :mod:`._ndjson_checks`) that is mapped here value by value as
the careful path maps it, recording nothing: current and older field names
(``created``, ``framerate``, one ``codec``), timestamps in ms, s or ISO-8601, every
version's status and kind words, string or object errors, input and output files, and a
single-object envelope around the job (its other fields in ``extra.envelope``). Any
other line (a string where a number belongs, an unknown key, a page envelope, invalid
JSON...) is handed back, by line number, to the careful path. The two paths therefore
give the same rows; ``tests/test_frames_properties.py`` checks that they do.

Free-form objects (``options``, ``metadata``) leave SQL as JSON text; their distinct
values are re-serialised with sorted keys in Python (once per distinct value).
DuckDB's parser is more lenient than JSON (NaN, Infinity, trailing commas): a line that
shows any of these goes the careful way, where it is reported as invalid.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames._ndjson_blocks import LARGE_BLOCK, Block, blocks_of, piece_blocks
from ittybit_frames.frames._ndjson_checks import (
    FastBlock,
    left_lines,
    scan_block,
    storage,
    whole,
)
from ittybit_frames.frames._ndjson_envelopes import envelope_extras
from ittybit_frames.frames._ndjson_groups import as_table
from ittybit_frames.frames._ndjson_groups import grouped as _grouped
from ittybit_frames.frames._ndjson_keys import Keys
from ittybit_frames.frames._ndjson_readers import MAX_READERS, Connections, readers
from ittybit_frames.frames._ndjson_shape import (
    TRAILING_COMMA,
    full_type,
    mixed_query,
    query,
    shape_of,
    transform_query,
)

__all__ = [
    "MAX_READERS",
    "FastBlock",
    "NdjsonReader",
    "readers",
    "scan",
    "unscanned",
    "unscanned_pieces",
]

_BATCH_LINES = 1024
#: Below this share of a block's lines taken by SQL, the next blocks skip it...
_MIN_SHARE = 0.05
#: ...but every this many blocks it is tried again.
_RETRY_EVERY = 8
#: Bytes are cut into blocks of at least this many bytes to give each reader its own.
_MIN_SHARED_BLOCK = 4 * 2**20
#: Blocks get smaller towards the end of the input, but not below this.
_TAPER_FLOOR = 8 * 2**20

#: One DuckDB pass over a block: (connection, queries, lines, line numbers) -> its rows.
Read = Callable[[Any, tuple[str, str], pa.Array, np.ndarray], pa.Table | None]


def _batched(table: pa.Table) -> pa.Table:
    """A table in batches of ``_BATCH_LINES`` rows: DuckDB gives each thread batches."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=_BATCH_LINES))


def _read(con: Any, queries: tuple[str, str], lines: pa.Array, rows: np.ndarray) -> pa.Table | None:
    """DuckDB's passes over the lines (in batches, so that every thread has work): the
    structure of groups of lines (:func:`._ndjson_groups.grouped`), then that of each
    line of a group that was not all of the documented shape, then the values of the
    lines of that shape. The first structure query trusts every line to be JSON; only
    if one is not does the second, which skips invalid lines, run. None when no line is
    of the documented shape; else the rows of the lines read (job lines and envelope
    lines), in line order as DuckDB keeps them (``scan_block`` sorts them if not)."""
    try:
        lines.validate(full=True)  # UTF-8; the careful path reports a line that is not
    except pa.ArrowInvalid:
        return None
    table = _read_lines(con, queries, lines, rows, groups=True)
    if table is _UNALIGNED:
        # A line taken with its group is no JSON on its own. Such a line can leave a
        # bracket open that takes the next lines into one of its values (and ``]}``
        # closes it further down), so the group's structure need not be that of the
        # lines read with it (tests/test_adv_s14_groups.py): the block is checked
        # again, line by line.
        table = _read_lines(con, queries, lines, rows, groups=False)
    return None if table is _UNALIGNED else table


#: What :func:`_read_lines` gives when a line it took with its group is no JSON alone.
_UNALIGNED: Any = object()


def _read_lines(
    con: Any, queries: tuple[str, str], lines: pa.Array, rows: np.ndarray, *, groups: bool
) -> Any:
    """:func:`_read`'s passes, with the group check or without it."""
    first = int(rows[0]) if len(rows) else 0
    if groups:
        jobs, envelopes, numeric, keys = _grouped(con, lines)
    else:
        jobs, envelopes = np.zeros(len(lines), dtype=bool), np.zeros(len(lines), dtype=bool)
        numeric, keys = True, frozenset()
    rest = np.flatnonzero(~(jobs | envelopes))
    if len(rest):
        whole_block = len(rest) == len(lines)
        some = lines if whole_block else lines.take(pa.array(rest))
        hashes = _structures(con, queries, some, rows[rest])
        if hashes is None and not (jobs.any() or envelopes.any()):
            return None  # JSON that defeats the reader: the careful path reports it
        if hashes is not None:
            each, each_envelope, each_numeric, each_keys = _shapes(con, hashes, lines, first)
            jobs |= each
            envelopes |= each_envelope
            numeric = numeric and each_numeric
            keys |= each_keys
    if envelopes.any():
        return _read_mixed(con, lines, rows, jobs, envelopes, numeric, keys)
    if not jobs.any():
        return None
    picked = pa.table({"r": rows, "line": lines, "pick": jobs})
    table = _transformed(con, picked, numeric, keys)
    if table is None:
        return _UNALIGNED
    return table.append_column("extra", pa.nulls(len(table), pa.string()))


def _structures(
    con: Any, queries: tuple[str, str], lines: pa.Array, rows: np.ndarray
) -> pa.Table | None:
    """Each line's number and structure hash (the first query that DuckDB reads)."""
    import duckdb  # noqa: PLC0415

    con.register("src", _batched(pa.table({"r": rows, "line": lines})))
    try:
        for sql in queries:
            # Any DuckDB error here comes from the data (a mistake in the query would
            # send every line the careful way, which the tests would see).
            with contextlib.suppress(duckdb.Error):
                return as_table(con.sql(sql))
    finally:
        con.unregister("src")
    return None


def _transformed(con: Any, picked: pa.Table, numeric: bool, keys: Keys) -> pa.Table | None:
    """The values of the lines picked (only the fields of ``keys`` read, the rest null);
    None when DuckDB refuses one of them: a line taken with its group that is no JSON
    on its own (every line checked alone is JSON: its structure was read)."""
    table = _whole(_refusable(con, "src", picked, transform_query(numeric, keys)), numeric)
    if table is None:
        return None
    readable = _readable(table)
    return table if readable.true_count == len(table) else table.filter(readable)


def _whole(table: pa.Table | None, numeric: bool) -> pa.Table | None:
    """DuckDB's rows with the whole structure's type (fields no line held, and so not
    read, are null: see :mod:`._ndjson_keys`)."""
    if table is None:
        return None
    at = table.schema.get_field_index("j")
    whole_type = full_type(numeric)
    if table.schema.field(at).type == whole_type:
        return table
    return table.set_column(at, "j", table["j"].cast(whole_type))


def _refusable(con: Any, name: str, lines: pa.Table, sql: str) -> pa.Table | None:
    """The rows of ``sql`` over ``lines`` (registered as ``name`` while it runs); None
    when DuckDB refuses the data (a line taken with its group that is no JSON on its
    own)."""
    import duckdb  # noqa: PLC0415

    con.register(name, _batched(lines))
    try:
        return as_table(con.sql(sql))
    except duckdb.InterruptException:
        raise  # Ctrl-C (see _result), not the data
    except duckdb.Error:
        return None
    finally:
        con.unregister(name)


def _readable(table: pa.Table) -> pa.Array:
    """Which rows have a job with a task list: a line ``null``, ``{}``, without a task
    list (or an envelope without ``data``) passes a group's check (see group_shape_of);
    it is left for the careful path."""
    j = whole(table["j"])
    return pc.and_(pc.is_valid(j), pc.is_valid(pc.struct_field(j, "tasks")))


def _shapes(
    con: Any, hashes: pa.Table, lines: pa.Array, first: int
) -> tuple[np.ndarray, np.ndarray, bool, Keys]:
    """Which lines (by position in the block) are jobs of the documented shape, which
    single-object envelopes around one, and whether all of them write their timestamps
    as positive integers. Structures are few: each distinct one is fetched (from one of
    its lines) and checked once, in Python; with the key paths of those of the
    documented shape. (Compared by a 64-bit hash; a collision
    between a good and a bad structure is not guarded against. A key written twice in
    one object is not seen here: DuckDB reads its first value, the careful path its
    last; see ``tests/test_frames_fast_adversarial.py``.)"""
    values = whole(hashes["st"]).to_numpy(zero_copy_only=False)
    at = hashes["r"].to_numpy() - first
    _, where, codes = np.unique(values, return_index=True, return_inverse=True)
    sample = lines.take(pa.array(at[where]))
    con.register("sample", pa.table({"i": np.arange(len(sample)), "line": sample}))
    try:
        texts = con.sql("SELECT json_structure(line) FROM sample ORDER BY i").fetchall()
    finally:
        con.unregister("sample")
    verdicts = [shape_of(text) for (text,) in texts]
    shapes = np.array([v[:3] for v in verdicts], dtype=bool).reshape(-1, 3)
    job, wrapped = shapes[:, 0], shapes[:, 1]
    numeric = bool(np.all(shapes[job | wrapped, 2]))
    jobs = np.zeros(len(lines), dtype=bool)
    envelopes = np.zeros(len(lines), dtype=bool)
    jobs[at] = job[codes.reshape(-1)]
    envelopes[at] = wrapped[codes.reshape(-1)]
    return jobs, envelopes, numeric, frozenset().union(*(v[3] for v in verdicts))


def _read_mixed(
    con: Any,
    lines: pa.Array,
    rows: np.ndarray,
    jobs: np.ndarray,
    envelopes: np.ndarray,
    numeric: bool,
    keys: Keys,
) -> Any:
    """The job lines and the single-object envelope lines around a job of the documented
    shape, read in one pass, in line order: each envelope's job read as a job line is,
    its other fields in ``extra`` (under ``envelope``, as the careful path keeps them).
    :data:`_UNALIGNED` when DuckDB refuses one (see :func:`_transformed`)."""
    pick = jobs.astype(np.int8) + 2 * envelopes.astype(np.int8)
    picked = pa.table({"r": rows, "line": lines, "pick": pick})
    read = _whole(_refusable(con, "src", picked, mixed_query(numeric, keys)), numeric)
    if read is None:
        return _UNALIGNED
    readable = _readable(read)
    if readable.true_count < len(read):
        read = read.filter(readable)
    wrapped = whole(read["env"])
    at = read["r"].filter(wrapped).to_numpy() - int(rows[0])
    rests = storage(read["rest"]).filter(wrapped).to_pylist()
    extras, fine = envelope_extras(rests, lines.take(pa.array(at)))
    st = pc.replace_with_mask(whole(read["st"]), wrapped, pa.array(fine, pa.bool_()))
    extra = pc.replace_with_mask(
        pa.nulls(len(read), pa.string()), wrapped, pa.array(extras, pa.string())
    )
    read = read.set_column(read.schema.get_field_index("st"), "st", st)
    return read.drop_columns(["env", "rest"]).append_column("extra", extra)


def _trailing_commas(lines: pa.Array, look: bool) -> pa.Array:
    """Which lines show a trailing comma (that DuckDB lets through); none if not ``look``."""
    if look:
        return pc.match_substring_regex(lines, TRAILING_COMMA)
    return pa.array(np.zeros(len(lines), dtype=bool))


def _result(future: Any) -> pa.Table | None:
    """DuckDB's reading of a block. Ctrl-C while DuckDB runs a query comes back as
    "Query interrupted": the caller gets the KeyboardInterrupt it pressed, so a sync
    stops cleanly (exit 3). Only DuckDB's errors are looked at: the caller's own (say,
    from the iterable of records being written) stay what they are."""
    if future is None:
        return None
    try:
        result: pa.Table | None = future.result()
    except RuntimeError as exc:
        if "interrupted" in str(exc).lower():
            raise KeyboardInterrupt from exc
        raise
    return result


def scan(
    data: bytes | Iterable[bytes],
    block_bytes: int,
    threads: int | None = None,
    *,
    large_block: int = LARGE_BLOCK,
    read: Read = _read,
    one_reader: bool = False,
) -> Iterator[FastBlock]:
    """Blocks of at most ``block_bytes`` (whole lines), each split into what SQL took
    and what it left for the careful path. Line numbers start at 1. ``data`` may also
    be NDJSON in pieces (each of whole lines): each piece is then one block, made while
    DuckDB reads the one before.

    DuckDB reads the next blocks (in helper threads, :func:`readers` of them, each with
    a connection of its own; it releases the GIL) while this one is checked and
    converted here and by the caller. ``read`` is that one pass of DuckDB over a
    block's lines. ``threads``: the threads that read (default: one per core);
    ``one_reader``: one block read at a time, with all of them (pieces whose making
    may raise a strict problem: made no further ahead than the next block, they raise
    only after the problems of the blocks before)."""
    count, each = readers(threads)
    if one_reader:
        count, each = 1, count * each
    if isinstance(data, bytes):
        # Every reader gets a block of input that is not larger than one.
        per_reader = max(-(-len(data) // count), _MIN_SHARED_BLOCK)
        # The last blocks smaller (see blocks_of): less to check after the reading ends.
        size = min(block_bytes, per_reader)
        blocks = blocks_of(data, size, large_block, taper=count, floor=min(size, _TAPER_FLOOR))
    else:
        blocks = piece_blocks(data, large_block)
    # In memory, and never a download: the JSON functions are built in.
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "threads": each,
    }
    connections = Connections(config)
    try:
        # Pieces are orjson's writing, which has no trailing commas to look for.
        yield from _scan_with(connections, count, blocks, read, commas=isinstance(data, bytes))
    finally:
        connections.close()


def _scan_with(
    connections: Connections, count: int, blocks: Iterator[Block], read: Read, *, commas: bool
) -> Iterator[FastBlock]:
    queries = (query(check_valid=False), query(check_valid=True))

    def reading(lines: pa.Array, rows: np.ndarray) -> pa.Table | None:
        con = connections.take()
        try:
            return read(con, queries, lines, rows)
        finally:
            connections.give(con)

    # Each block is handed to a reader as soon as it is made; the oldest is checked
    # here once as many as there are readers are being read.
    pending: collections.deque[tuple[cf.Future[pa.Table | None] | None, tuple[Any, ...]]]
    pending = collections.deque()
    with cf.ThreadPoolExecutor(max_workers=count, thread_name_prefix="ndjson") as pool:
        try:
            share = 1.0  # of the lines that SQL took of the last block it read
            for i, (data, lines, offsets, rows) in enumerate(blocks):
                # Input mostly of an older shape (say, a whole export from an old API
                # version) skips DuckDB, trying it again every few blocks.
                use_sql = share >= _MIN_SHARE or i % _RETRY_EVERY == 0
                future = pool.submit(reading, lines, rows) if use_sql else None
                # While DuckDB reads: the trailing commas it would let through.
                lenient = _trailing_commas(lines, commas) if use_sql else None
                pending.append((future, (data, offsets, rows, lenient)))
                while len(pending) > count:
                    future, args = pending.popleft()
                    block = scan_block(_result(future), *args)
                    if future is not None:  # a block SQL skipped says nothing of it
                        share = len(block.jobs) / max(len(args[2]), 1)
                    yield block
            while pending:
                future, args = pending.popleft()
                yield scan_block(_result(future), *args)
        except BaseException:
            # An error, Ctrl-C, or the caller stopping early: the reads not started
            # are dropped, and those in flight (which the pool waits for) stopped.
            for future, _ in pending:
                if future is not None:
                    future.cancel()
            connections.interrupt()
            raise


def _fewer_lines(data: bytes, count: int) -> bool:
    """Whether ``data`` has fewer than ``count`` line ends (found one by one, so that a
    large input is not counted through)."""
    at = -1
    for _ in range(count):
        at = data.find(b"\n", at + 1)
        if at < 0:
            return True
    return False


def unscanned(data: bytes) -> Iterator[FastBlock]:
    """Every line left for the careful path (the reference the fast path must equal)."""
    return unscanned_pieces([data])


def unscanned_pieces(pieces: Iterable[bytes]) -> Iterator[FastBlock]:
    """Every line of NDJSON in pieces left for the careful path, line numbers running on
    from piece to piece (as :func:`scan` numbers them)."""
    for data, _, offsets, rows in piece_blocks(pieces):
        yield FastBlock.careful(left_lines(data, offsets, rows, set()))


@dataclass(frozen=True)
class NdjsonReader:
    """How NDJSON bytes are read: the fast path's knobs (tests turn them).

    Attributes
    ----------
    use_sql : bool
        Let DuckDB take the lines of the documented shape; ``False`` sends every line
        the careful way (the reference the fast path must equal).
    block_bytes : int
        NDJSON is read in blocks of at most about this many bytes (whole lines; smaller
        when that gives each reader a block, see :func:`scan`). Each block costs DuckDB
        and the checks here ~40 ms of set-up (queries planned, ~300 Arrow calls): 64 MB
        blocks took less CPU than 32 MB ones at the same peak RSS (session 19).
    large_block : int
        Blocks of this many bytes or more get Arrow's 64-bit string offsets.
    read : callable
        One DuckDB pass over a block's lines (see :func:`scan`).
    min_lines : int
        NDJSON of fewer lines goes the careful way: DuckDB's start (a connection, a
        thread, the queries planned: ~40 ms) costs more than Python takes for it...
    min_bytes : int
        ...unless it holds this many bytes or more (a job with thousands of tasks on
        one line: the careful path takes ~40 ms a megabyte). One JSON object on one
        line this long is read as NDJSON too where SQL takes it.
    min_records : int
        Parsed records: fewer than this many go the careful way (writing them to NDJSON
        for DuckDB costs more than the careful path saves below ~10,000 jobs). A page
        envelope counts its records.
    """

    use_sql: bool = True
    block_bytes: int = 64 * 2**20
    large_block: int = LARGE_BLOCK
    read: Read = _read
    min_lines: int = 1000
    min_bytes: int = 2**20
    min_records: int = 10_000

    def blocks(self, data: bytes, threads: int | None) -> Iterator[FastBlock]:
        """``data`` block by block, each split into what SQL took and what it left."""
        if not self.use_sql or (len(data) < self.min_bytes and _fewer_lines(data, self.min_lines)):
            return unscanned(data)
        return scan(data, self.block_bytes, threads, large_block=self.large_block, read=self.read)

    def pieces(
        self, pieces: Iterable[bytes], threads: int | None, *, one_reader: bool = False
    ) -> Iterator[FastBlock]:
        """NDJSON made piece by piece (each piece one block, made while DuckDB reads the
        ones before), split as :meth:`blocks` splits bytes; ``one_reader``: see
        :func:`scan`."""
        return scan(
            pieces,
            self.block_bytes,
            threads,
            large_block=self.large_block,
            read=self.read,
            one_reader=one_reader,
        )
