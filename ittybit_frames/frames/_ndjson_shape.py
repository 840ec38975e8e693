"""The documented current shape of a job, as the NDJSON fast path reads and checks it.

DuckDB first reports the JSON structure (``json_structure``: array elements merged,
clashing types shown as ``JSON``) of groups of lines joined into one array
(:func:`group_shape_of`), then of each line of a group that failed. Each distinct
structure is checked once, here, against the documented shape; a line of any other
structure goes the careful way. Only
the lines of the documented shape are then read, with ``json_transform``, into the
structure built here (typed leaves, JSON text for free-form values). Timestamps are read
as numbers when every line read in the block writes them as positive integers (the
current API: no text made and parsed back), else as text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ittybit_frames.frames._ndjson_keys import Keys, arrow_type, keys_of, pruned
from ittybit_frames.vocabulary import (
    CODEC_KEYS,
    ERROR_KEYS,
    JOB_FIELDS,
    TASK_FIELDS,
    current,
)

__all__ = [
    "ALIASED_STAMPS",
    "STAMPS",
    "TRAILING_COMMA",
    "Verdict",
    "envelope_shape_ok",
    "full_type",
    "group_shape_of",
    "job_shape_ok",
    "mixed_query",
    "query",
    "shape_dict",
    "shape_of",
    "transform_query",
]

STAMPS = ("created_at", "started_at", "finished_at", "updated_at")
#: Older names of two timestamps (``created``/``updated``), read beside them.
ALIASED_STAMPS = {"created_at": "created", "updated_at": "updated"}
_ALL_STAMPS = frozenset({*STAMPS, *ALIASED_STAMPS.values()})
# The fields read: every current one, and the older timestamp names.
_JOB_KEYSET = frozenset(current(JOB_FIELDS)) | _ALL_STAMPS
_TASK_KEYSET = frozenset(current(TASK_FIELDS)) | _ALL_STAMPS

#: DuckDB's parser accepts trailing commas, which JSON (and orjson) does not: such a
#: line goes the careful way, where it is reported. (NaN/Infinity, which it also
#: accepts, show as DOUBLE in a line's structure and fail the checks below.)
TRAILING_COMMA = r",\s*[\]}]"

_INT = frozenset({"UBIGINT", "BIGINT", "NULL"})
_NUMBER = _INT | {"DOUBLE"}
_TEXT = frozenset({"VARCHAR", "NULL"})
_STAMP = _INT | _TEXT
_FILE_TYPES = {
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
    "framerate": _NUMBER,  # older name of fps
    "codec": _TEXT,  # 2025 API: one codec per file
}


def _shape(numeric: bool = False, keys: Keys | None = None) -> str:
    """The json_transform structure (:func:`shape_dict`), as text; with ``keys``, only
    the fields whose key paths it holds (:func:`._ndjson_keys.pruned`)."""
    shape = shape_dict(numeric)
    return json.dumps(shape if keys is None else pruned(shape, keys))


@functools.cache
def full_type(numeric: bool) -> pa.DataType:
    """The Arrow type of the rows of the whole structure (see :func:`_shape`)."""
    return arrow_type(shape_dict(numeric))


def shape_dict(numeric: bool = False) -> dict[str, Any]:
    """The json_transform structure: typed leaves, JSON text for free-form values.
    Integers are read as DOUBLE (exact below 2**53; checked) so that none overflows to
    NULL unseen. Timestamps are text (milliseconds, seconds or ISO-8601, see
    _ndjson_checks), or with ``numeric`` UBIGINT: only for lines whose every timestamp
    is a positive integer or null (:func:`shape_of`), which UBIGINT holds whole
    (a value past 64 bits shows as another type in the structure)."""
    stamps = dict.fromkeys(sorted(_ALL_STAMPS), "UBIGINT" if numeric else "VARCHAR")
    output: dict[str, Any] = dict.fromkeys(("object", "url", "kind", "format"), "VARCHAR")
    output |= dict.fromkeys(("width", "height", "filesize", "bitrate"), "DOUBLE")
    output |= {"duration": "DOUBLE", "fps": "DOUBLE", "framerate": "DOUBLE", "codec": "VARCHAR"}
    output["codecs"] = {"video": "VARCHAR", "audio": "VARCHAR"}
    task: dict[str, Any] = dict.fromkeys(("id", "object", "kind", "status"), "VARCHAR")
    task |= {"progress": "DOUBLE", "input": output, "output": output}
    task |= {"options": "JSON", "error": "JSON", **stamps}
    job: dict[str, Any] = dict.fromkeys(
        ("id", "object", "kind", "status", "input", "output"), "VARCHAR"
    )
    job |= {"options": "JSON", "metadata": "JSON", "error": "JSON", **stamps, "tasks": [task]}
    return job


#: The keys read (a structure's types aside), to find which a structure holds.
_TEMPLATE = shape_dict()


def query(check_valid: bool) -> str:
    """The SQL over table ``src`` (``r``: line number, ``line``): each line's number and
    structure hash."""
    return f"""
SELECT r, hash(json_structure(line)) AS st
FROM src {"WHERE json_valid(line)" if check_valid else ""}
"""


def transform_query(numeric: bool, keys: Keys | None = None) -> str:
    """The SQL over table ``src`` (``r``, ``line``, ``pick``): the values of the lines
    picked (those of the documented shape; with ``keys``, only the fields they hold).
    DuckDB refuses the query when a line picked is no JSON on its own. (A line whose
    job or task list reads as null is left by the caller: filtered here, DuckDB read
    each line twice.)"""
    return f"""
SELECT r, TRUE AS st, json_transform(line, '{_shape(numeric, keys)}') AS j
FROM src WHERE pick
"""


def _leaf(value: Any, allowed: frozenset[str]) -> bool:
    """A structure leaf (a type name) of one of the allowed types."""
    return type(value) is str and value in allowed


def _error_shape_ok(s: Any) -> bool:
    if type(s) is dict:
        return s.keys() <= ERROR_KEYS and all(_leaf(v, _TEXT) for v in s.values())
    return _leaf(s, _TEXT)


def _file_ok(s: Any, types: dict[str, frozenset[str]]) -> bool:
    if s == "NULL":
        return True
    if type(s) is not dict:
        return False
    codecs = s.get("codecs", "NULL")
    codecs_ok = codecs == "NULL" or (
        type(codecs) is dict
        and codecs.keys() <= CODEC_KEYS
        and all(_leaf(v, _TEXT) for v in codecs.values())
    )
    return codecs_ok and all(
        k in types and _leaf(v, types[k]) for k, v in s.items() if k != "codecs"
    )


def _skip(value: Any) -> bool:
    """A free-form value (options, metadata) or one checked on its own (tasks)."""
    return True


def _text(value: Any) -> bool:
    return _leaf(value, _TEXT)


def _stamp(value: Any) -> bool:
    return _leaf(value, _STAMP)


def _int(value: Any) -> bool:
    return _leaf(value, _INT)


def _file(value: Any) -> bool:
    return _file_ok(value, _FILE_TYPES)


# Each field's check (any other field: text).
_COMMON_CHECKS: dict[str, Callable[[Any], bool]] = {
    "error": _error_shape_ok,
    "options": _skip,
    **dict.fromkeys(_ALL_STAMPS, _stamp),
}
_TASK_CHECKS = {**_COMMON_CHECKS, "input": _file, "output": _file, "progress": _int}
_JOB_CHECKS = {**_COMMON_CHECKS, "metadata": _skip, "tasks": _skip}


# A group of lines read as one JSON array (see _ndjson): the structure DuckDB reports
# merges theirs, and types that differ between lines merge to wider ones: two integer
# types to HUGEINT, a text and a number (or an object) to JSON. Where a line's value is
# then checked whole by value, such a merge is let through: ``error`` (parsed and
# checked in Python), timestamps (read as text, then only ASCII digits or ISO-8601 are
# taken) and integers (read as DOUBLE, then only whole values below 2**53 are taken).
_GROUP_INT = _INT | {"HUGEINT"}
_GROUP_FILE_TYPES = {k: v | {"HUGEINT"} if "UBIGINT" in v else v for k, v in _FILE_TYPES.items()}


def _group_stamp(value: Any) -> bool:
    return _leaf(value, _STAMP | {"HUGEINT", "JSON"})


_GROUP_COMMON = {**_COMMON_CHECKS, "error": _skip, **dict.fromkeys(_ALL_STAMPS, _group_stamp)}
_GROUP_TASK_CHECKS = {
    **_GROUP_COMMON,
    "input": lambda value: _file_ok(value, _GROUP_FILE_TYPES),
    "output": lambda value: _file_ok(value, _GROUP_FILE_TYPES),
    "progress": lambda value: _leaf(value, _GROUP_INT),
}
_GROUP_JOB_CHECKS = {**_GROUP_COMMON, "metadata": _skip, "tasks": _skip}


def _record_ok(s: Any, keys: frozenset[str], checks: dict[str, Callable[[Any], bool]]) -> bool:
    """A job's or task's structure: known keys only, each of its documented type."""
    if type(s) is not dict or not s.keys() <= keys:
        return False
    return all(checks.get(key, _text)(value) for key, value in s.items())


def _job_ok(s: Any, *, group: bool = False) -> bool:
    job_checks, task_checks = (
        (_GROUP_JOB_CHECKS, _GROUP_TASK_CHECKS) if group else (_JOB_CHECKS, _TASK_CHECKS)
    )
    if not _record_ok(s, _JOB_KEYSET, job_checks):
        return False
    tasks = s.get("tasks")
    # An empty list's element is NULL (a null element is caught by value).
    return type(tasks) is list and (
        tasks[0] == "NULL" or _record_ok(tasks[0], _TASK_KEYSET, task_checks)
    )


def _structure(text: str) -> Any:
    """A structure text parsed; one nested too deeply for Python is no documented shape."""
    try:
        return json.loads(text)
    except RecursionError:
        return None


def _envelope_ok(s: Any, *, group: bool = False) -> bool:
    return (
        type(s) is dict
        and "tasks" not in s
        and "steps" not in s
        and type(s.get("data")) is dict
        and _job_ok(s["data"], group=group)
    )


def _numeric(job: dict[str, Any]) -> bool:
    records = [job]
    tasks = job.get("tasks")
    if type(tasks) is list and tasks and type(tasks[0]) is dict:
        records.append(tasks[0])
    return all(r.get(k, "NULL") in ("UBIGINT", "NULL") for r in records for k in _ALL_STAMPS)


def job_shape_ok(text: str) -> bool:
    """Whether a line's JSON structure (DuckDB's ``json_structure`` text) is the
    documented one."""
    return _job_ok(_structure(text))


def envelope_shape_ok(text: str) -> bool:
    """Whether a line's structure is a single-object envelope (``{"meta", "data",
    "links"}``, any fields beside ``data`` but a task list) around a job of the
    documented one."""
    return _envelope_ok(_structure(text))


#: What a structure says of its lines (see :func:`shape_of`).
Verdict = tuple[bool, bool, bool, Keys]
_NO: Verdict = (False, False, False, frozenset())


def shape_of(text: str) -> Verdict:
    """A line's structure (parsed once): whether it is a job of the documented shape,
    whether a single-object envelope around one (:func:`envelope_shape_ok`), and, if
    either, whether its every timestamp is a positive integer or null (its line may be
    read with numeric timestamps) and the key paths of its job
    (:func:`._ndjson_keys.keys_of`)."""
    s = _structure(text)
    if _job_ok(s):
        return True, False, _numeric(s), keys_of(s, _TEMPLATE)
    if _envelope_ok(s):
        return False, True, _numeric(s["data"]), keys_of(s["data"], _TEMPLATE)
    return _NO


def group_shape_of(text: str) -> Verdict:
    """A group's structure (DuckDB's ``json_structure`` of its lines joined into one
    JSON array): whether every line may be read as a job of the documented shape,
    whether every line may be read as a single-object envelope around one, and whether
    every timestamp in them is a positive integer or null; and the key paths of their
    jobs (those of every line: the merge of objects holds all their keys).

    Sound only with the checks by value that follow: where structures merge, a line's
    own may be narrower than the group's. A null line or task list, a missing task list
    (or envelope ``data``) and an empty object (``{}``, whose structure merges into any
    object's) show in no group structure: lines whose job or task list reads as null are
    left after :func:`transform_query` and :func:`mixed_query` (``_ndjson._readable``),
    and an empty object elsewhere reads as the careful path reads null. An envelope's
    fields beside ``data`` are free-form (kept whole in ``extra``); a line of the group
    with a task list beside ``data`` shows one in the merge, which fails the group. The
    merge is the lines' only when each line is one JSON value on its own: a line that
    is not (two objects on one line, an array left open that takes in the next lines)
    makes the transform fail, and its block is then checked line by line
    (``_ndjson._read``). ``tests/test_frames_groups.py`` and
    ``tests/test_adv_s14_groups.py`` try each."""
    s = _structure(text)
    if type(s) is not list:
        return _NO
    if _job_ok(s[0], group=True):
        return True, False, _numeric(s[0]), keys_of(s[0], _TEMPLATE)
    if _envelope_ok(s[0], group=True):
        return False, True, _numeric(s[0]["data"]), keys_of(s[0]["data"], _TEMPLATE)
    return _NO


def mixed_query(numeric: bool = False, keys: Keys | None = None) -> str:
    """The SQL over table ``src`` (``r``, ``line``, ``pick``: 1 for a job line, 2 for a
    single-object envelope line, 0 for neither): each job line read as
    :func:`transform_query` reads it, each envelope's job read the same way and the
    envelope without ``data`` as JSON text (``rest``; DuckDB writes numbers back as they
    were written), in one pass and in line order (``env``: an envelope's row). With
    ``keys``, only the fields the jobs hold are read."""
    shape = _shape(numeric, keys)
    return f"""
SELECT r, TRUE AS st, pick = 2 AS env,
    CASE WHEN pick = 2 THEN json_transform(line, '{{"data": {shape}}}').data
        ELSE json_transform(line, '{shape}') END AS j,
    CASE WHEN pick = 2 THEN json_merge_patch(line, '{{"data": null}}') END AS rest
FROM src WHERE pick > 0
"""
