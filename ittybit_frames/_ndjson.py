"""NDJSON straight to Arrow, in C, for the records that need no care.

``frames._Chunk`` turns parsed records into columns in Python; it handles every API
generation and records every oddity, at the price of one Python object per JSON value.
For NDJSON bytes, this module lets DuckDB's JSON reader (multi-threaded C++) do the
common case instead: every line is parsed, checked and flattened in SQL, and a line goes
this way only when every value in it is of the documented current shape, where the
careful path would take it unchanged and record nothing. Any other line (an older field
name, a string where a number belongs, an unknown key, a timestamp in seconds, invalid
JSON...) is handed back, by line number, to the careful path. The two paths therefore
give the same rows; ``tests/test_frames_properties.py`` checks that they do.

Free-form objects (``options``, ``metadata``) leave SQL as JSON text; their distinct
values are re-serialised with sorted keys in Python (a handful of values, typically).
DuckDB's parser is more lenient than JSON (NaN, Infinity, trailing commas): a line that
shows any of these goes the careful way, where it is reported as invalid.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames import _FILE_KEYS, _json_many
from ittybit_frames.vocabulary import (
    FILE_FIELDS,
    JOB_FIELDS,
    JOB_KIND_WORDS,
    MS_MAX,
    MS_MIN,
    OBJECT_TAGS,
    STATUS_WORDS,
    TASK_FIELDS,
    TASK_KIND_WORDS,
    current,
)

__all__ = ["FastBlock", "scan", "unscanned"]

# The fields of the current API: every known one but the older aliases.
JOB_KEYS = current(JOB_FIELDS)
TASK_KEYS = current(TASK_FIELDS)
OUTPUT_KEYS = ("object", *current(FILE_FIELDS))

# DuckDB's parser accepts trailing commas, which JSON (and orjson) does not: such a line
# goes the careful way, where it is reported. (NaN/Infinity, which it also accepts, show
# as DOUBLE in a line's structure and fail the checks below.)
_TRAILING_COMMA = r",\s*[\]}]"

_INT = frozenset({"UBIGINT", "BIGINT", "NULL"})
_NUMBER = _INT | {"DOUBLE"}
_TEXT = frozenset({"VARCHAR", "NULL"})
_STAMPS = ("created_at", "started_at", "finished_at", "updated_at")
_FREE_FORM = frozenset({"options", "metadata"})
_OUTPUT_TYPES = {
    "object": _TEXT,
    "url": _TEXT,
    "kind": _TEXT,
    "format": _TEXT,
    "width": _INT,
    "height": _INT,
    "duration": _NUMBER,
    "filesize": _INT,
    "bitrate": _INT,
    "fps": _NUMBER,
}


def _shape() -> str:
    """The json_transform structure: typed leaves, JSON text for free-form values.
    Integers are read as DOUBLE (exact below 2**53; checked) so that none overflows to
    NULL unseen."""
    stamps = dict.fromkeys(_STAMPS, "DOUBLE")
    output: dict[str, Any] = dict.fromkeys(("url", "kind", "format"), "VARCHAR")
    output |= dict.fromkeys(("width", "height", "filesize", "bitrate"), "DOUBLE")
    output |= {"duration": "DOUBLE", "fps": "DOUBLE"}
    output["codecs"] = {"video": "VARCHAR", "audio": "VARCHAR"}
    task: dict[str, Any] = dict.fromkeys(("id", "object", "kind", "status"), "VARCHAR")
    task |= {"progress": "DOUBLE", "input": {"url": "VARCHAR"}, "output": output}
    task |= {"options": "JSON", "error": "JSON", **stamps}
    job: dict[str, Any] = dict.fromkeys(
        ("id", "object", "kind", "status", "input", "output"), "VARCHAR"
    )
    job |= {"options": "JSON", "metadata": "JSON", "error": "JSON", **stamps, "tasks": [task]}
    return json.dumps(job)


def _query(check_valid: bool) -> str:
    return f"""
SELECT r, hash(json_structure(line)) AS st, json_transform(line, '{_shape()}') AS j
FROM src {"WHERE json_valid(line)" if check_valid else ""}
"""


# --------------------------------------------------------------------------------------
# Which lines are of the documented shape: their JSON structure (DuckDB's json_structure,
# with array elements merged and clashing types shown as "JSON"), checked once per
# distinct structure, then their values, checked column-wise. Structures are compared by
# a 64-bit hash; a collision between a good and a bad one is not guarded against.
# --------------------------------------------------------------------------------------
def _leaf(value: Any, allowed: frozenset[str]) -> bool:
    """A structure leaf (a type name) of one of the allowed types."""
    return type(value) is str and value in allowed


def _error_shape_ok(s: Any) -> bool:
    if type(s) is dict:
        return s.keys() <= {"kind", "message"} and all(_leaf(v, _TEXT) for v in s.values())
    return _leaf(s, _TEXT)


def _file_ok(s: Any, types: dict[str, frozenset[str]] | None) -> bool:
    if s == "NULL":
        return True
    if type(s) is not dict:
        return False
    if types is None:  # an input: only its url is read
        return s.keys() <= _FILE_KEYS and all(
            _leaf(v, _TEXT) if k == "url" else _leaf(v, _TEXT | _INT) for k, v in s.items()
        )
    codecs = s.get("codecs", "NULL")
    codecs_ok = codecs == "NULL" or (
        type(codecs) is dict
        and codecs.keys() <= {"video", "audio"}
        and all(_leaf(v, _TEXT) for v in codecs.values())
    )
    return codecs_ok and all(
        k in types and _leaf(v, types[k]) for k, v in s.items() if k != "codecs"
    )


def _task_shape_ok(s: Any) -> bool:
    if s == "NULL":  # an empty list (a null element is caught by value)
        return True
    if type(s) is not dict or not s.keys() <= _TASK_KEYSET:
        return False
    for key, value in s.items():
        if key == "options":
            continue
        ok = (
            _error_shape_ok(value)
            if key == "error"
            else _file_ok(value, None)
            if key == "input"
            else _file_ok(value, _OUTPUT_TYPES)
            if key == "output"
            else _leaf(value, _INT)
            if key in _STAMPS or key == "progress"
            else _leaf(value, _TEXT)
        )
        if not ok:
            return False
    return True


def _job_shape_ok(text: str) -> bool:
    s = json.loads(text)
    if type(s) is not dict or not s.keys() <= _JOB_KEYSET:
        return False
    tasks = s.get("tasks")
    if type(tasks) is not list or not _task_shape_ok(tasks[0]):
        return False
    for key, value in s.items():
        if key in _FREE_FORM or key == "tasks":
            continue
        ok = (
            _error_shape_ok(value)
            if key == "error"
            else _leaf(value, _INT)
            if key in _STAMPS
            else _leaf(value, _TEXT)
        )
        if not ok:
            return False
    return True


_JOB_KEYSET = frozenset(JOB_KEYS)
_TASK_KEYSET = frozenset(TASK_KEYS)


class FastBlock:
    """The lines of one block that SQL could take whole, and the ones it left."""

    def __init__(
        self, jobs: pa.Table, tasks: pa.Table, parent: np.ndarray, left: list[tuple[int, bytes]]
    ) -> None:
        self.jobs = jobs  # clean jobs, in line order, with column `r` (line number)
        self.tasks = tasks  # their tasks, in (line, task index) order
        self.parent = parent  # each task's row in `jobs`
        self.left = left  # (line number, line) for the careful path

    @staticmethod
    def careful(left: list[tuple[int, bytes]]) -> FastBlock:
        """A block whose every line goes the careful way."""
        return FastBlock(pa.table({}), pa.table({}), np.empty(0, np.int64), left)


#: Blocks this large (one huge line) need Arrow's 64-bit string offsets.
_LARGE_BLOCK = 2**31


def _lines(data: bytes, pos: int, stop: int) -> tuple[Any, np.ndarray]:
    """The lines of ``data[pos:stop]`` as an Arrow string array over the same memory (no
    copy), and their offsets into ``data``. Each line keeps its newline, which JSON
    parsers skip as whitespace."""
    ends = []
    find = data.find
    at = pos
    while at < stop:
        nl = find(b"\n", at, stop)
        at = stop if nl < 0 else nl + 1
        ends.append(at)
    offsets = np.array([pos, *ends], dtype=np.int64)
    buffer = pa.py_buffer(data).slice(pos, stop - pos)
    if stop - pos < _LARGE_BLOCK:
        relative = pa.py_buffer((offsets - pos).astype(np.int32))
        return pa.StringArray.from_buffers(len(ends), relative, buffer), offsets
    # One line of 2 GiB or more in this block: 64-bit offsets.
    relative = pa.py_buffer(offsets - pos)
    return pa.LargeStringArray.from_buffers(len(ends), relative, buffer), offsets


def _as_table(relation: Any) -> pa.Table:
    # Newer DuckDB calls it to_arrow_table, older fetch_arrow_table; accept both.
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    table: pa.Table = fetch()
    return table


def scan(data: bytes, block_bytes: int, threads: int | None = None) -> Iterator[FastBlock]:
    """Blocks of at most ``block_bytes`` (whole lines), each split into what SQL took
    and what it left for the careful path. Line numbers start at 1.

    DuckDB reads the next block (in a helper thread; it releases the GIL) while this
    one is checked and converted here and by the caller."""
    import concurrent.futures as cf  # noqa: PLC0415

    import duckdb  # noqa: PLC0415

    # In memory, and never a download: the JSON functions are built in.
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    queries = (_query(check_valid=False), _query(check_valid=True))
    try:
        with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ndjson") as reader:
            pending: tuple[cf.Future[pa.Table | None] | None, tuple[Any, ...]] | None = None
            share = 1.0  # of the lines of the last block seen that SQL took
            for i, (lines, offsets, rows) in enumerate(_blocks(data, block_bytes)):
                # Input mostly of an older shape (say, a whole export from an old API
                # version) skips DuckDB, trying it again every few blocks.
                use_sql = share >= _MIN_SHARE or i % _RETRY_EVERY == 0
                future = reader.submit(_read, con, queries, lines, rows) if use_sql else None
                # While DuckDB reads: the trailing commas it would let through.
                lenient = pc.match_substring_regex(lines, _TRAILING_COMMA) if use_sql else None
                if pending is not None:
                    block = _scan_block(_result(pending[0]), data, *pending[1])
                    share = len(block.jobs) / max(len(pending[1][1]), 1)
                    yield block
                pending = (future, (offsets, rows, lenient))
            if pending is not None:
                yield _scan_block(_result(pending[0]), data, *pending[1])
    finally:
        con.close()


def _blocks(data: bytes, block_bytes: int) -> Iterator[tuple[pa.Array, np.ndarray, np.ndarray]]:
    first_line, pos, end = 1, 0, len(data)
    while pos < end:
        stop = data.find(b"\n", min(pos + block_bytes, end) - 1)
        stop = end if stop < 0 else stop + 1
        lines, offsets = _lines(data, pos, stop)
        yield lines, offsets, np.arange(first_line, first_line + len(lines), dtype=np.int64)
        first_line += len(lines)
        pos = stop


_BATCH_LINES = 1024
#: Below this share of a block's lines taken by SQL, the next blocks skip it...
_MIN_SHARE = 0.05
#: ...but every this many blocks it is tried again.
_RETRY_EVERY = 8


def _result(future: Any) -> pa.Table | None:
    return None if future is None else future.result()


def unscanned(data: bytes) -> Iterator[FastBlock]:
    """Every line left for the careful path (the reference the fast path must equal)."""
    lines, offsets = _lines(data, 0, len(data))
    rows = np.arange(1, len(lines) + 1, dtype=np.int64)
    yield FastBlock.careful(_left(data, offsets, rows, set()))


def _read(con: Any, queries: tuple[str, str], lines: pa.Array, rows: np.ndarray) -> pa.Table | None:
    """One pass of DuckDB over the lines (in batches, so that every thread has work).
    The first query trusts every line to be JSON; only if one is not does the second,
    which skips invalid lines, run."""
    import duckdb  # noqa: PLC0415

    try:
        lines.validate(full=True)  # UTF-8; the careful path reports a line that is not
    except pa.ArrowInvalid:
        return None
    source = pa.Table.from_batches(
        pa.table({"r": rows, "line": lines}).to_batches(max_chunksize=_BATCH_LINES)
    )
    con.register("src", source)
    try:
        table = None
        for query in queries:
            # Any DuckDB error here comes from the data (a mistake in the query would
            # send every line the careful way, which the tests would see).
            with contextlib.suppress(duckdb.Error):
                table = _as_table(con.sql(query))
                break
        if table is not None:
            table = _mark_shapes(con, table, lines, int(rows[0]) if len(rows) else 0)
    finally:
        con.unregister("src")
    if table is None:
        return None  # JSON that defeats the reader: the careful path reports it
    got = table["r"].to_numpy()
    if len(got) > 1 and not bool(np.all(got[1:] > got[:-1])):
        table = table.take(pc.sort_indices(table["r"]))
    return table


def _mark_shapes(con: Any, table: pa.Table, lines: pa.Array, first: int) -> pa.Table:
    """Replace each line's structure hash by whether that structure is the documented
    one. Structures are few: each distinct one is fetched (from one of its lines) and
    checked once, in Python."""
    hashes = _whole(table["st"]).to_numpy(zero_copy_only=False)
    distinct, where = np.unique(hashes, return_index=True)
    sample = lines.take(pa.array(table["r"].to_numpy()[where] - first))
    con.register("sample", pa.table({"i": np.arange(len(sample)), "line": sample}))
    try:
        texts = con.sql("SELECT json_structure(line) FROM sample ORDER BY i").fetchall()
    finally:
        con.unregister("sample")
    good = distinct[[_job_shape_ok(text) for (text,) in texts]]
    shape_ok = pc.is_in(table["st"], value_set=pa.array(good, type=pa.uint64()))
    return table.set_column(table.schema.get_field_index("st"), "st", shape_ok)


def _whole(array: Any) -> Any:
    """One array for a column (without a copy when it is in one chunk already)."""
    if isinstance(array, pa.ChunkedArray):
        return array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    return array


def _storage(array: Any) -> Any:
    """Plain values of a column DuckDB may export as an extension type (JSON)."""
    array = _whole(array)
    return array.storage if isinstance(array, pa.ExtensionArray) else array


_JOB_COLUMNS = (
    ("id", "job_id"),
    ("object", "tag"),
    ("kind", "kind"),
    ("status", "status"),
    ("input", "input_url"),
    ("output", "output_url"),
    ("options", "options"),
    ("metadata", "metadata"),
    ("error", "error"),
    *((c, c) for c in _STAMPS),
)
_TASK_COLUMNS = (
    ("id", "task_id"),
    ("object", "tag"),
    ("kind", "kind"),
    ("status", "status"),
    ("progress", "progress"),
    ("options", "options"),
    ("error", "error"),
    *((c, c) for c in _STAMPS),
)
_OUTPUT_COLUMNS = (
    ("url", "output_url"),
    ("kind", "output_kind"),
    ("format", "output_format"),
    ("width", "output_width"),
    ("height", "output_height"),
    ("duration", "output_duration_seconds"),
    ("filesize", "output_filesize_bytes"),
    ("bitrate", "output_bitrate"),
    ("fps", "output_fps"),
)
_TASK_INTS = (
    "progress",
    "output_width",
    "output_height",
    "output_filesize_bytes",
    "output_bitrate",
    *_STAMPS,
)


def _columns(struct: Any, pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {alias: _storage(pc.struct_field(struct, name)) for name, alias in pairs}


def _flatten(read: pa.Table, lenient: Any, first: int) -> tuple[pa.Table, pa.Table]:
    """DuckDB's nested rows -> a jobs table and a tasks table (with helper columns)."""
    j = _whole(read["j"])
    jobs = pa.table(
        {
            "r": read["r"],
            "st": read["st"],
            "lenient": lenient.take(pa.array(read["r"].to_numpy() - first)),
            **_columns(j, _JOB_COLUMNS),
        }
    )
    lists = pc.struct_field(j, "tasks")
    parent = pc.list_parent_indices(lists).to_numpy()
    t = pc.list_flatten(lists)
    output = pc.struct_field(t, "output")
    codecs = pc.struct_field(output, "codecs")
    starts = lists.offsets.to_numpy()[:-1].astype(np.int64)
    tasks = pa.table(
        {
            "r": read["r"].take(pa.array(parent, type=pa.int64())),
            "task_index": pa.array(np.arange(len(t), dtype=np.int64) - starts[parent]),
            "missing": pc.is_null(t),
            "input_url": _storage(pc.struct_field(pc.struct_field(t, "input"), "url")),
            **_columns(t, _TASK_COLUMNS),
            **_columns(output, _OUTPUT_COLUMNS),
            **_columns(codecs, (("video", "output_codec_video"), ("audio", "output_codec_audio"))),
        }
    )
    return jobs, tasks


def _scan_block(
    read: pa.Table | None,
    data: bytes,
    offsets: np.ndarray,
    rows: np.ndarray,
    lenient: pa.Array | None,
) -> FastBlock:
    """Which lines DuckDB's rows may stand for, and those rows as jobs and tasks."""
    if read is None:
        return FastBlock.careful(_left(data, offsets, rows, set()))
    jobs, tasks = _flatten(read, lenient, int(rows[0]))
    jobs, ints_ok = _integers(jobs, _STAMPS)
    job_checks = [
        pc.invert(jobs["lenient"]),
        jobs["st"],
        ints_ok,
        _values_ok(jobs, "job_id", JOB_KIND_WORDS),
    ]
    tasks, ints_ok = _integers(tasks, _TASK_INTS)
    task_checks = [
        pc.invert(tasks["missing"]),
        ints_ok,
        _values_ok(tasks, "task_id", TASK_KIND_WORDS),
        *(
            pc.or_kleene(pc.is_null(tasks[c]), pc.is_finite(tasks[c]))
            for c in ("output_duration_seconds", "output_fps")
        ),
    ]
    jobs, ok = _errors(jobs)
    job_checks.append(ok)
    tasks, ok = _errors(tasks)
    task_checks.append(ok)
    jobs, ok = _free_form(jobs, ("options", "metadata"))
    job_checks.append(ok)
    tasks, ok = _free_form(tasks, ("options",))
    task_checks.append(ok)
    # A job goes the fast way only with every one of its tasks.
    task_ok = _all(*task_checks)
    bad_parents = pc.unique(tasks["r"].filter(pc.invert(task_ok)))
    job_checks.append(pc.invert(pc.is_in(jobs["r"], value_set=bad_parents)))
    jobs = jobs.filter(_all(*job_checks)).drop_columns(["st", "lenient", "tag"])
    tasks = tasks.filter(pc.is_in(tasks["r"], value_set=_whole(jobs["r"])))
    tasks = tasks.drop_columns(["missing", "tag"])
    job_rows = jobs["r"].to_numpy()
    parent = np.searchsorted(job_rows, tasks["r"].to_numpy())
    left = [] if len(job_rows) == len(rows) else _left(data, offsets, rows, set(job_rows.tolist()))
    return FastBlock(jobs, tasks, parent, left)


def _integers(table: pa.Table, columns: tuple[str, ...]) -> tuple[pa.Table, pa.Array]:
    """Integer columns read as DOUBLE -> int64. A value that is not whole, or is 2**53 or
    more (not exact as a double, and past any real value here), marks its row for the
    careful path."""
    checks = []
    for name in columns:
        values = table[name]
        exact = pc.and_(pc.less(pc.abs(values), 2.0**53), pc.equal(pc.floor(values), values))
        checks.append(pc.or_kleene(pc.is_null(values), exact))
        kept = pc.if_else(exact, values, pa.scalar(None, pa.float64())).cast(pa.int64())
        table = table.set_column(table.schema.get_field_index(name), name, kept)
    return table, _all(*checks)


def _left(
    data: bytes, offsets: np.ndarray, rows: np.ndarray, taken: set[int]
) -> list[tuple[int, bytes]]:
    """(line number, line) of the lines not taken, for the careful path."""
    return [
        (r, data[offsets[i] : offsets[i + 1]])
        for i, r in enumerate(rows.tolist())
        if r not in taken
    ]


def _all(*masks: Any) -> pa.Array:
    """Element-wise AND, a null counting as false."""
    out = None
    for mask in masks:
        m = pc.fill_null(mask, False)
        out = m if out is None else pc.and_(out, m)
    return out


def _values_ok(table: pa.Table, id_col: str, kinds: dict[str, str]) -> pa.Array:
    """Values the careful path would take unchanged, recording nothing."""
    ids = table[id_col]
    checks = [
        pc.not_equal(ids, ""),
        pc.is_in(table["kind"], value_set=pa.array(list(kinds), pa.string())),
        pc.is_in(table["status"], value_set=pa.array(list(STATUS_WORDS), pa.string())),
        pc.or_kleene(
            pc.is_null(table["tag"]),
            pc.is_in(table["tag"], value_set=pa.array(sorted(OBJECT_TAGS), pa.string())),
        ),
    ]
    for name in _STAMPS:
        column = table[name]
        checks.append(
            pc.or_kleene(
                pc.is_null(column),
                pc.and_(pc.greater_equal(column, MS_MIN), pc.less(column, MS_MAX)),
            )
        )
    if "progress" in table.column_names:
        progress = table["progress"]
        checks.append(
            pc.or_kleene(
                pc.is_null(progress),
                pc.and_(pc.greater_equal(progress, 0), pc.less_equal(progress, 100)),
            )
        )
    return _all(*checks)


def _distinct_values(column: Any) -> tuple[pa.Array, list[Any], list[int]]:
    """A column of JSON texts -> its dictionary indices, the parsed distinct values, and
    the positions of the distinct texts orjson refuses (NaN, say; their value is None).
    One orjson call for all of them in the common case."""
    encoded = _whole(column).dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    refused: list[int] = []
    try:
        values = orjson.loads("[" + ",".join(distinct) + "]")
    except orjson.JSONDecodeError:
        values = []
        for i, text in enumerate(distinct):
            try:
                values.append(orjson.loads(text))
            except orjson.JSONDecodeError:
                refused.append(i)
                values.append(None)
    return encoded.indices, values, refused


def _rows_fine(indices: pa.Array, bad: list[int]) -> pa.Array:
    """Rows whose distinct value is not among ``bad``."""
    return pc.invert(pc.is_in(indices, value_set=pa.array(bad, indices.type)))


def _errors(table: pa.Table) -> tuple[pa.Table, pa.Array]:
    """The ``error`` JSON text -> error_kind, error_message; plus which rows are fine
    (null, a string, or an object of text ``kind``/``message``)."""
    indices, values, bad = _distinct_values(table["error"])
    kinds: list[str | None] = []
    messages: list[str | None] = []
    for i, value in enumerate(values):
        if type(value) is str:
            kinds.append(None)
            messages.append(value)
        elif (
            type(value) is dict
            and value.keys() <= {"kind", "message"}
            and all(v is None or type(v) is str for v in value.values())
        ):
            kinds.append(value.get("kind"))
            messages.append(value.get("message"))
        else:
            bad.append(i)
            kinds.append(None)
            messages.append(None)
    at = table.schema.get_field_index("error")
    table = table.remove_column(at)
    table = table.add_column(at, "error_message", pa.array(messages, pa.string()).take(indices))
    table = table.add_column(at, "error_kind", pa.array(kinds, pa.string()).take(indices))
    return table, _rows_fine(indices, bad)


def _free_form(table: pa.Table, columns: tuple[str, ...]) -> tuple[pa.Table, pa.Array]:
    """JSON text with sorted keys, made once per distinct value; a value orjson refuses
    (NaN, say) marks its row for the careful path."""
    ok: Any = pa.array(np.ones(len(table), dtype=bool))
    for name in columns:
        indices, values, bad = _distinct_values(table[name])
        column = pa.array(_json_many(values), type=pa.string()).take(indices)
        table = table.set_column(table.schema.get_field_index(name), name, column)
        if bad:
            ok = pc.and_(ok, _rows_fine(indices, bad))
    return table, ok
