"""The careful path's field handlers: one small function per kind of field.

Each takes the raw values of one field for a chunk's rows (a tuple, one value per row)
and returns its column(s). A value that cannot be mapped to a column goes to
:class:`Extras` (the ``extra`` JSON column), with a problem when it is unusable.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pyarrow as pa

from ittybit_frames.frames._jsontext import json_many, json_text
from ittybit_frames.frames._values import MISSING, Conv
from ittybit_frames.vocabulary import (
    ERROR_KEYS,
    ERROR_KIND_NAMES,
    KIND_WORDS,
    OBJECT_TAGS,
    STATUS_WORDS,
    canonical_kind,
    canonical_status,
)

__all__ = [
    "Extras",
    "aliased",
    "errors",
    "first",
    "ident",
    "input_durations",
    "kinds",
    "raw_text",
    "statuses",
    "tag",
    "timestamps",
    "urls",
]

_URL_KEY = frozenset({"url"})
_MESSAGE = frozenset({"message"})


class Extras:
    """Values of one table's rows that have no column, for the ``extra`` JSON column."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}

    def put(self, i: int, key: str, value: Any, *, within: str | tuple[str, ...] = ()) -> None:
        """Row ``i``'s ``key`` (inside its object at path ``within``) is ``value``."""
        row = self.rows.setdefault(i, {})
        for step in (within,) if isinstance(within, str) else within:
            row = row.setdefault(step, {})
        row[key] = value

    def keep(self, i: int, key: str, value: Any) -> None:
        """Like :meth:`put`, unless row ``i`` has a ``key`` already."""
        self.rows.setdefault(i, {}).setdefault(key, value)

    def rest(
        self,
        i: int,
        value: dict[str, Any],
        known: frozenset[str],
        key: str | None = None,
        *,
        within: str | tuple[str, ...] = (),
    ) -> None:
        """The keys of ``value`` outside ``known``, if any: each under path ``key``
        (inside ``within``), or (no key) in the row itself."""
        if value.keys() <= known:
            return
        if key is None:
            row = self.rows.setdefault(i, {})
        else:
            row = self.rows.setdefault(i, {})
            for step in ((within,) if isinstance(within, str) else within) + (key,):
                row = row.setdefault(step, {})
        row.update((k, x) for k, x in value.items() if k not in known)

    def column(self, n: int) -> pa.Array:
        """The ``extra`` column of ``n`` rows: JSON text, or null for a row with none."""
        values: list[Any] = [None] * n
        rows = list(self.rows)
        for i, text in zip(rows, json_many([self.rows[i] for i in rows]), strict=True):
            values[i] = text
        return pa.array(values, type=pa.string())


def first(a: Any, b: Any) -> list[Any]:
    """Field with an older alias: the new name wins; the alias fills gaps."""
    return [x if x is not None else y for x, y in zip(a, b, strict=True)]


def aliased(raw: dict[str, Any], name: str, alias: str, extras: Extras) -> Any:
    """A field with an older alias (created/created_at, outputs/output...): the new name
    wins, the alias fills its gaps, and an alias sent beside a value is kept in extra."""
    old = raw[alias]
    if old.count(None) == len(old):
        return raw[name]
    for i, (a, b) in enumerate(zip(raw[name], old, strict=True)):
        if a is not None and b is not None:
            extras.put(i, alias, b)
    return first(raw[name], old)


def ident(conv: Conv, values: Any, col: str, job_ids: Any, task_level: bool) -> pa.Array:
    """IDs: text, or numbers converted to text; anything else NA."""
    arr = conv.infer(values)
    if arr is not None and arr.type == pa.string() and arr.null_count == 0:
        return arr
    out: list[str | None] = []
    for i, v in enumerate(values):
        jid = job_ids[i]
        jid = jid.as_py() if isinstance(jid, pa.Scalar) else jid
        tid = None if not task_level else v
        if type(v) is str and v:
            out.append(v)
        elif type(v) is int:
            conv.p.add(jid, tid, col, "numeric id; converted to text", v)
            out.append(str(v))
        else:
            conv.p.add(
                jid if task_level else None,
                None,
                col,
                "missing or unusable id; set to NA",
                MISSING if v is None else v,
            )
            out.append(None)
    return pa.array(out, type=pa.string())


def tag(conv: Conv, values: Any, extras: Extras, implied: str) -> None:
    """The ``object`` tag has no column: the table's own (``job`` on jobs, ``task`` on
    tasks) is implied by the row; another documented one (a G4 ``run``, a standalone
    ``task``, a staging ``step``) is kept in extra; any other (a file, a media
    object...) too, with a problem: the record was read as a job though it says it is
    not one."""
    with contextlib.suppress(TypeError):
        if set(values) <= {implied, None}:
            return
    for i, v in enumerate(values):
        if v is None or v == implied:
            continue
        if type(v) is not str or v not in OBJECT_TAGS:
            conv.add(i, "object", "not a job, task, step or run; read as one", v)
        extras.put(i, "object", v)


def timestamps(conv: Conv, raw: dict[str, Any], extras: Extras) -> dict[str, pa.Array]:
    """The four timestamp columns, ``created``/``updated`` filling their gaps."""
    return {
        "created_at": conv.timestamps(aliased(raw, "created_at", "created", extras), "created_at"),
        "started_at": conv.timestamps(raw["started_at"], "started_at"),
        "finished_at": conv.timestamps(raw["finished_at"], "finished_at"),
        "updated_at": conv.timestamps(aliased(raw, "updated_at", "updated", extras), "updated_at"),
    }


def _words(
    conv: Conv, values: Any, column: str, words: dict[str, str], canonical: Any
) -> tuple[list[str], pa.Array]:
    """Canonical category words (documented words fast, the rest via ``canonical`` with a
    problem for each unknown one), and the raw word as text (``<column>_raw``)."""

    def slow(v: Any, jid: Any, tid: Any, col: str) -> str:
        word: str = canonical(v)
        if word == "other":
            conv.p.add(
                jid,
                tid,
                column,
                f"unknown {column}; mapped to 'other' (raw value in {column}_raw)",
                MISSING if v is None else v,
            )
        return word

    return conv.words(values, words, slow, column), raw_text(conv, values)


def statuses(conv: Conv, values: Any) -> tuple[list[str], pa.Array]:
    """Canonical status words, and the raw status as text."""
    return _words(conv, values, "status", STATUS_WORDS, canonical_status)


def raw_text(conv: Conv, values: Any) -> pa.Array:
    """A word exactly as sent (``status_raw``, ``kind_raw``): text, anything else as
    JSON text."""
    raw = conv.infer(values)
    if raw is None or raw.type not in (pa.string(), pa.null()):
        raw = pa.array(
            [v if v is None or type(v) is str else json_text(v) for v in values],
            type=pa.string(),
        )
    return raw.cast(pa.string())


def kinds(conv: Conv, values: Any) -> tuple[list[str], pa.Array]:
    """Canonical kind words (an older name of a stage mapped: ingest -> import), and
    the raw kind as text."""
    return _words(conv, values, "kind", KIND_WORDS, canonical_kind)


def urls(conv: Conv, values: Any, name: str, extras: Extras) -> pa.Array:
    """A job's input or output: a URL, or a file object (its URL; every other key in
    extra under ``name``) or a list of them (the first one's URL; the list in extra)."""
    try:
        if set(map(type, values)) <= {str, type(None)}:
            return conv.strings(values, f"{name}_url")
    except TypeError:
        pass
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None or type(v) is str:
            out.append(v)
        elif type(v) is dict:
            extras.rest(i, v, _URL_KEY, name)
            out.append(v.get("url"))
        elif type(v) is list:
            extras.put(i, name, v)
            head = v[0] if v else None
            out.append(
                head if type(head) is str else (head.get("url") if type(head) is dict else None)
            )
        else:
            conv.add(i, f"{name}_url", "not a URL or file object; stored in extra", v)
            extras.put(i, name, v)
            out.append(None)
    return conv.strings(out, f"{name}_url")


def input_durations(values: Any) -> pa.Array:
    """The ``duration`` of each job input that is a usable number in a file object, for
    ``media_duration_seconds`` (the value itself is in extra, so any other is left
    there, without a problem)."""
    out: list[float | None] = []
    for v in values:
        d: Any = v.get("duration") if type(v) is dict else None
        out.append(float(d) if type(d) in (int, float) and math.isfinite(d) else None)
    return pa.array(out, type=pa.float64())


def errors(conv: Conv, values: Any, extras: Extras) -> tuple[pa.Array, pa.Array]:
    """``error`` (text, or an object of kind and message) -> error_kind, error_message."""
    kind_of: list[Any] = [None] * len(values)
    messages: list[Any] = [None] * len(values)
    if values.count(None) == len(values):
        return conv.strings(kind_of, "error_kind"), conv.strings(messages, "error_message")
    for i, v in enumerate(values):
        if v is None:
            continue
        if type(v) is str:
            messages[i] = v
        elif type(v) is dict:
            name = next((k for k in ERROR_KIND_NAMES if k in v), None)
            kind_of[i] = None if name is None else v[name]
            messages[i] = v.get("message")
            # Anything else (a second kind name, details...) in extra under `error`.
            extras.rest(i, v, ERROR_KEYS if name in (None, "kind") else _MESSAGE | {name}, "error")
        else:
            conv.add(
                i, "error_message", "error is neither text nor an object; stored as JSON text", v
            )
            messages[i] = json_text(v)
    return conv.strings(kind_of, "error_kind"), conv.strings(messages, "error_message")
