"""The NDJSON fast path's value checks: DuckDB's nested rows -> jobs and tasks tables,
and which lines they may stand for.

A line's rows are kept only when every value in it is one the careful path would take
unchanged, recording nothing; a job goes the fast way only with every one of its tasks.
The other lines are handed back, by line number, for the careful path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.frames._isoform import iso_texts
from ittybit_frames.frames._jsontext import TooDeep, json_many, json_text, loads_exact
from ittybit_frames.frames._ndjson_shape import ALIASED_STAMPS, STAMPS
from ittybit_frames.schema import TIMESTAMP
from ittybit_frames.vocabulary import (
    ERROR_KEYS,
    KIND_WORDS,
    MS_MAX,
    MS_MIN,
    S_MAX,
    S_MIN,
    STATUS_WORDS,
)

__all__ = ["FastBlock", "left_lines", "scan_block", "storage", "whole"]


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


def left_lines(
    data: bytes, offsets: np.ndarray, rows: np.ndarray, taken: set[int]
) -> list[tuple[int, bytes]]:
    """(line number, line) of the lines not taken, for the careful path."""
    return [
        (r, data[offsets[i] : offsets[i + 1]])
        for i, r in enumerate(rows.tolist())
        if r not in taken
    ]


def whole(array: Any) -> Any:
    """One array for a column (without a copy when it is in one chunk already)."""
    if isinstance(array, pa.ChunkedArray):
        return array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    return array


def storage(array: Any) -> Any:
    """Plain values of a column DuckDB may export as an extension type (JSON)."""
    array = whole(array)
    return array.storage if isinstance(array, pa.ExtensionArray) else array


_COMMON_COLUMNS = (
    ("object", "tag"),
    ("kind", "kind"),
    ("status", "status"),
)
_JOB_COLUMNS = (
    ("id", "job_id"),
    *_COMMON_COLUMNS,
    ("input", "input_url"),
    ("output", "output_url"),
    ("options", "options"),
    ("metadata", "metadata"),
    ("error", "error"),
    *((c, c) for c in (*STAMPS, *ALIASED_STAMPS.values())),
)
_TASK_COLUMNS = (
    ("id", "task_id"),
    *_COMMON_COLUMNS,
    ("progress", "progress"),
    ("options", "options"),
    ("error", "error"),
    *((c, c) for c in (*STAMPS, *ALIASED_STAMPS.values())),
)
_FILE_COLUMNS = (
    ("object", "object"),
    ("url", "url"),
    ("kind", "kind"),
    ("format", "format"),
    ("width", "width"),
    ("height", "height"),
    ("duration", "duration_seconds"),
    ("filesize", "filesize_bytes"),
    ("bitrate", "bitrate"),
    ("fps", "fps"),
    ("framerate", "framerate"),
    ("codec", "codec"),
)
_FILE_INTS = ("width", "height", "filesize_bytes", "bitrate")
_FILES = ("input", "output")
_TASK_INTS = (
    "progress",
    *(f"{f}_{c}" for f in _FILES for c in _FILE_INTS),
)


def _columns(struct: Any, pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {alias: storage(pc.struct_field(struct, name)) for name, alias in pairs}


def _flatten(read: pa.Table, lenient: Any, first: int) -> tuple[pa.Table, pa.Table]:
    """DuckDB's nested rows -> a jobs table and a tasks table (with helper columns)."""
    j = whole(read["j"])
    jobs = pa.table(
        {
            "r": read["r"],
            "st": read["st"],
            "lenient": lenient.take(pa.array(read["r"].to_numpy() - first)),
            **_columns(j, _JOB_COLUMNS),
            "extra": read["extra"],
        }
    )
    lists = pc.struct_field(j, "tasks")
    parent = pc.list_parent_indices(lists).to_numpy()
    t = pc.list_flatten(lists)
    starts = lists.offsets.to_numpy()[:-1].astype(np.int64)
    columns = {
        "r": read["r"].take(pa.array(parent, type=pa.int64())),
        "task_index": pa.array(np.arange(len(t), dtype=np.int64) - starts[parent]),
        "missing": pc.is_null(t),
        **_columns(t, _TASK_COLUMNS),
    }
    for name in _FILES:
        file = pc.struct_field(t, name)
        codecs = pc.struct_field(file, "codecs")
        pairs = (*_FILE_COLUMNS, ("video", "codec_video"), ("audio", "codec_audio"))
        columns |= {
            f"{name}_{alias}": storage(
                pc.struct_field(codecs if key in ("video", "audio") else file, key)
            )
            for key, alias in pairs
        }
    return jobs, pa.table(columns)


def _file_tags(tasks: pa.Table) -> pa.Array:
    """The ``extra`` column of the tasks SQL took: the ``object`` tags of their input and
    output files (the only values of the documented shape without a column), as JSON
    text made once per distinct pair."""
    codes = []
    texts: list[list[str | None]] = []
    for name in _FILES:
        encoded = whole(tasks[f"{name}_object"]).dictionary_encode()
        words = encoded.dictionary.to_pylist()
        codes.append(encoded.indices.fill_null(len(words)).to_numpy().astype(np.int64))
        texts.append([*words, None])
    size = len(texts[1])
    # Distinct pairs by hashing (no sort): in order of first appearance.
    pairs = pa.array(codes[0] * size + codes[1]).dictionary_encode()
    extras: list[str | None] = []
    for code in pairs.dictionary.to_pylist():
        tags = {
            name: {"object": words[c]}
            for name, words, c in zip(_FILES, texts, (code // size, code % size), strict=True)
            if words[c] is not None
        }
        extras.append(json_many([tags])[0] if tags else None)
    return pa.array(extras, type=pa.string()).take(pairs.indices)


def scan_block(
    read: pa.Table | None,
    data: bytes,
    offsets: np.ndarray,
    rows: np.ndarray,
    lenient: pa.Array | None,
) -> FastBlock:
    """Which lines DuckDB's rows may stand for, and those rows as jobs and tasks."""
    if read is None:
        return FastBlock.careful(left_lines(data, offsets, rows, set()))
    jobs, tasks = _in_line_order(*_flatten(read, lenient, int(rows[0])))
    jobs, ints_ok = _stamps(jobs)
    job_checks = [
        pc.invert(jobs["lenient"]),
        jobs["st"],
        ints_ok,
        _values_ok(jobs, "job_id", "job"),
    ]
    tasks, aliases_ok = _file_aliases(tasks)
    tasks, ints_ok = _integers(tasks, _TASK_INTS)
    tasks, stamps_ok = _stamps(tasks)
    task_checks = [
        pc.invert(tasks["missing"]),
        aliases_ok,
        ints_ok,
        stamps_ok,
        _values_ok(tasks, "task_id", "task"),
        *(
            pc.or_kleene(pc.is_null(tasks[f"{f}_{c}"]), pc.is_finite(tasks[f"{f}_{c}"]))
            for f in _FILES
            for c in ("duration_seconds", "fps")
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
    job_ok = _all(*job_checks)
    if not pc.all(job_ok).as_py():  # else (the common case) every line is taken: no copy
        jobs = jobs.filter(job_ok)
        tasks = tasks.filter(pc.is_in(tasks["r"], value_set=whole(jobs["r"])))
    jobs = jobs.drop_columns(["st", "lenient", "tag"])
    tasks = tasks.drop_columns(["missing", "tag"])
    tasks = tasks.append_column("extra", _file_tags(tasks)).drop_columns(
        [f"{name}_object" for name in _FILES]
    )
    job_rows = jobs["r"].to_numpy()
    parent = np.searchsorted(job_rows, tasks["r"].to_numpy())
    taken = set(job_rows.tolist())
    left = [] if len(job_rows) == len(rows) else left_lines(data, offsets, rows, taken)
    return FastBlock(jobs, tasks, parent, left)


def _in_line_order(jobs: pa.Table, tasks: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Jobs by line, tasks by line and index. SQL's rows come in line order (DuckDB keeps
    its input's order): rows out of it would be sorted here, flat."""
    r = jobs["r"].to_numpy()
    if len(r) < 2 or bool(np.all(r[1:] > r[:-1])):
        return jobs, tasks
    jobs = jobs.take(pa.array(np.argsort(r, kind="stable")))
    order = pc.sort_indices(tasks, [("r", "ascending"), ("task_index", "ascending")])
    return jobs, tasks.take(order)


def _file_aliases(tasks: pa.Table) -> tuple[pa.Table, pa.Array]:
    """A file's older fields into their columns, as the careful path maps them:
    ``framerate`` for a missing ``fps``; one ``codec`` (2025 API) for the file's audio
    codec when it is an audio file, else its video codec. One sent beside the value it
    stands for (which the careful path keeps in ``extra``) marks its row."""
    checks = []
    for name in _FILES:
        fps, rate = tasks[f"{name}_fps"], tasks[f"{name}_framerate"]
        checks.append(pc.or_(pc.is_null(fps), pc.is_null(rate)))
        tasks = _replace(tasks, f"{name}_fps", pc.coalesce(fps, rate))
        codec = tasks[f"{name}_codec"]
        if codec.null_count < len(codec):
            audio_file = pc.fill_null(pc.equal(tasks[f"{name}_kind"], "audio"), False)
            for slot, here in (("audio", audio_file), ("video", pc.invert(audio_file))):
                column = f"{name}_codec_{slot}"
                into = pc.and_(pc.is_valid(codec), here)
                checks.append(pc.invert(pc.and_(into, pc.is_valid(tasks[column]))))
                tasks = _replace(tasks, column, pc.if_else(into, codec, tasks[column]))
        tasks = tasks.drop_columns([f"{name}_framerate", f"{name}_codec"])
    return tasks, _all(*checks)


def _replace(table: pa.Table, name: str, column: Any) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


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


def _stamp(text: Any) -> tuple[pa.Array, pa.Array]:
    """One timestamp column as text, or as positive integers (UBIGINT) -> epoch ms
    (int64) and which rows are fine."""
    text = whole(text)
    if pa.types.is_integer(text.type):
        # Past MS_MAX nothing is in range (nor castable to int64 above 2**63).
        below = pc.less(text, pa.scalar(MS_MAX, text.type))  # not cast to int64 first
        capped = pc.if_else(below, text, pa.scalar(None, text.type))
        value = _whole_ms(pc.cast(capped, pa.int64()))
        in_range = pc.and_(pc.greater_equal(value, MS_MIN), pc.less(value, MS_MAX))
        return value, pc.or_(pc.is_null(text), pc.fill_null(in_range, False))
    # Whole numbers (ms or s): ASCII digits only, at most 16 (a sign would make the
    # value out of range anyway).
    is_whole = pc.and_(pc.ascii_is_decimal(text), pc.less_equal(pc.binary_length(text), 16))
    is_whole = pc.fill_null(is_whole, False)
    if is_whole.true_count + text.null_count == len(text):  # the common case: all numbers
        value = _whole_ms(pc.cast(text, pa.int64()))
    else:
        value = _iso_or_whole(text, is_whole)
    in_range = pc.and_(pc.greater_equal(value, MS_MIN), pc.less(value, MS_MAX))
    fine = pc.or_(pc.is_null(text), pc.fill_null(in_range, False))
    return value, fine


def _whole_ms(number: Any) -> Any:
    """Whole numbers in ms or s (by magnitude, as ``epoch_ms``) -> ms."""
    seconds = pc.and_(pc.greater_equal(number, S_MIN), pc.less(number, S_MAX))
    return pc.if_else(seconds, pc.multiply(number, 1000), number)


def _iso_or_whole(text: Any, is_whole: Any) -> pa.Array:
    """Whole numbers as they are, ISO-8601 texts as epoch ms, anything else null. The
    ISO forms taken have a zone and at most millisecond digits
    (:data:`._isoform.ISO_PATTERN`), which Arrow parses exactly as the careful path
    does; any other form sends its line the careful way."""
    no_text = pa.scalar(None, text.type)
    is_iso = iso_texts(text)
    # Every text ISO (the common case of ISO input): no copy with the others nulled.
    every = is_iso.true_count + text.null_count == len(text)
    try:
        parsed = pc.cast(
            pc.cast(text if every else pc.if_else(is_iso, text, no_text), TIMESTAMP), pa.int64()
        )
    except pa.ArrowInvalid:  # a date that does not exist (2025-02-30...): careful path
        parsed = pa.nulls(len(text), pa.int64())
    if not is_whole.true_count:
        return parsed  # null where no ISO text was
    number = _whole_ms(pc.cast(pc.if_else(is_whole, text, no_text), pa.int64()))
    return pc.if_else(is_whole, number, parsed)


def _stamps(table: pa.Table) -> tuple[pa.Table, pa.Array]:
    """The timestamp columns as epoch ms, an older name (``created``) filling its
    column; a row with both names, or a form taken only by the careful path, is not
    fine."""
    checks = []
    for name in STAMPS:
        column = table[name]
        alias = ALIASED_STAMPS.get(name)
        if alias is not None:
            old = table[alias]
            checks.append(pc.or_(pc.is_null(column), pc.is_null(old)))
            column = pc.coalesce(column, old)
            table = table.drop_columns([alias])
        value, fine = _stamp(column)
        checks.append(fine)
        table = table.set_column(table.schema.get_field_index(name), name, value)
    return table, _all(*checks)


def _all(*masks: Any) -> pa.Array:
    """Element-wise AND, a null counting as false."""
    out = None
    for mask in masks:
        m = pc.fill_null(mask, False) if mask.null_count else mask
        out = m if out is None else pc.and_(out, m)
    return out


def _between(column: Any, lo: int, hi: int, *, closed: bool) -> Any:
    """Null, or within ``[lo, hi)`` (``[lo, hi]`` when ``closed``)."""
    upper = pc.less_equal(column, hi) if closed else pc.less(column, hi)
    return pc.or_kleene(pc.is_null(column), pc.and_(pc.greater_equal(column, lo), upper))


def _values_ok(table: pa.Table, id_col: str, tag: str) -> pa.Array:
    """Values the careful path would take unchanged, recording nothing (the ``object``
    tag only the table's own: another one is kept in extra)."""
    ids = table[id_col]
    checks = [
        pc.not_equal(ids, ""),
        pc.is_in(table["kind"], value_set=pa.array(list(KIND_WORDS), pa.string())),
        pc.is_in(table["status"], value_set=pa.array(list(STATUS_WORDS), pa.string())),
        pc.or_kleene(pc.is_null(table["tag"]), pc.equal(table["tag"], tag)),
    ]
    if "progress" in table.column_names:
        checks.append(_between(table["progress"], 0, 100, closed=True))
    return _all(*checks)


#: A negative integer of 19 digits may be past 64 bits: orjson reads it as a float,
#: ``loads_exact`` exactly when its text has a longer run of digits elsewhere. The
#: careful path decides that line by line, so such a value goes its way.
_NEAR_WIDE = r"-[0-9]{19}"


def _distinct_values(column: Any) -> tuple[pa.Array, list[Any], list[int]]:
    """A column of JSON texts -> its dictionary indices, the parsed distinct values, and
    the positions of the distinct texts orjson refuses (NaN, say; their value is None)
    or that hold a number of ``_NEAR_WIDE``. One orjson call for all of them in the
    common case."""
    encoded = whole(column).dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    near_wide = pc.match_substring_regex(encoded.dictionary, _NEAR_WIDE)
    refused: list[int] = np.flatnonzero(near_wide.to_numpy(zero_copy_only=False)).tolist()
    try:
        values = loads_exact("[" + ",".join(distinct) + "]")
    except (orjson.JSONDecodeError, TooDeep):
        values = []
        for i, text in enumerate(distinct):
            try:
                values.append(loads_exact(text))
            except (orjson.JSONDecodeError, TooDeep):
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
            and value.keys() <= ERROR_KEYS
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
        column = pa.array(_written(values, bad), type=pa.string()).take(indices)
        table = table.set_column(table.schema.get_field_index(name), name, column)
        if bad:
            ok = pc.and_(ok, _rows_fine(indices, bad))
    return table, ok


def _written(values: list[Any], bad: list[int]) -> list[Any]:
    """:func:`json_many` of the values; one nested too deeply for the stdlib's writer
    (orjson writes 255 levels) is None, its position added to ``bad``."""
    try:
        return json_many(values)
    except RecursionError:
        pass
    texts: list[Any] = []
    for i, value in enumerate(values):
        try:
            texts.append(json_text(value))
        except RecursionError:
            texts.append(None)
            bad.append(i)
    return texts
