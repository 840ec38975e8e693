"""The careful path's field handlers: one small function per kind of field.

Each takes the raw values of one field for a chunk's rows (a tuple, one value per row)
and returns its column(s). A value that cannot be mapped to a column goes to
:class:`Extras` (the ``extra`` JSON column), with a problem when it is unusable.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pyarrow as pa

from ittybit_frames.frames._jsontext import json_text
from ittybit_frames.frames._values import MISSING, Conv
from ittybit_frames.vocabulary import (
    ERROR_KEYS,
    ERROR_KIND_NAMES,
    FILE_KEYS,
    JOB_KIND_WORDS,
    OBJECT_TAGS,
    STATUS_WORDS,
    TASK_KIND_WORDS,
    canonical_kind,
    canonical_status,
)

__all__ = [
    "Extras",
    "aliased",
    "errors",
    "first",
    "ident",
    "kinds",
    "statuses",
    "tag",
    "timestamps",
    "urls",
]

_TAGS_OR_NONE = frozenset({*OBJECT_TAGS, None})


class Extras:
    """Values of one table's rows that have no column, for the ``extra`` JSON column."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}

    def put(self, i: int, key: str, value: Any, *, within: str | None = None) -> None:
        """Row ``i``'s ``key`` (inside its object ``within``) is ``value``."""
        row = self.rows.setdefault(i, {})
        if within is not None:
            row = row.setdefault(within, {})
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
        within: str | None = None,
    ) -> None:
        """The keys of ``value`` outside ``known``, if any: at ``key``, or (no key) in
        the row itself."""
        if value.keys() <= known:
            return
        rest = {k: x for k, x in value.items() if k not in known}
        if key is None:
            self.rows.setdefault(i, {}).update(rest)
        else:
            self.put(i, key, rest, within=within)

    def column(self, n: int) -> pa.Array:
        """The ``extra`` column of ``n`` rows: JSON text, or null for a row with none."""
        values: list[str | None] = [None] * n
        for i, extra in self.rows.items():
            values[i] = json_text(extra)
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


def tag(values: Any, extras: Extras) -> None:
    """The ``object`` tag has no column: an unknown one is kept in extra."""
    with contextlib.suppress(TypeError):
        if set(values) <= _TAGS_OR_NONE:
            return
    for i, v in enumerate(values):
        if v is not None and (type(v) is not str or v not in OBJECT_TAGS):
            extras.put(i, "object", v)


def timestamps(conv: Conv, raw: dict[str, Any], extras: Extras) -> dict[str, pa.Array]:
    """The four timestamp columns, ``created``/``updated`` filling their gaps."""
    return {
        "created_at": conv.timestamps(aliased(raw, "created_at", "created", extras), "created_at"),
        "started_at": conv.timestamps(raw["started_at"], "started_at"),
        "finished_at": conv.timestamps(raw["finished_at"], "finished_at"),
        "updated_at": conv.timestamps(aliased(raw, "updated_at", "updated", extras), "updated_at"),
    }


def statuses(conv: Conv, values: Any) -> tuple[list[str], pa.Array]:
    """Canonical status words, and the raw status as text."""

    def slow(v: Any, jid: Any, tid: Any, col: str) -> str:
        canonical = canonical_status(v)
        if canonical == "other":
            conv.p.add(
                jid,
                tid,
                "status",
                "unknown status; mapped to 'other' (raw value in status_raw)",
                MISSING if v is None else v,
            )
        return canonical

    words = conv.words(values, STATUS_WORDS, slow, "status")
    raw = conv.infer(values)
    if raw is None or raw.type not in (pa.string(), pa.null()):
        raw = pa.array(
            [v if v is None or type(v) is str else json_text(v) for v in values],
            type=pa.string(),
        )
    return words, raw.cast(pa.string())


def kinds(conv: Conv, values: Any, *, task: bool, extras: Extras) -> list[str]:
    """Canonical kind words; an older word for a kind (ingest -> import) kept in extra."""

    def slow(v: Any, jid: Any, tid: Any, col: str) -> str:
        canonical = canonical_kind(v, task=task)
        if canonical == "other":
            conv.p.add(
                jid, tid, "kind", "unknown kind; mapped to 'other'", MISSING if v is None else v
            )
        return canonical

    words = conv.words(values, TASK_KIND_WORDS if task else JOB_KIND_WORDS, slow, "kind")
    for i in conv.slow_rows:
        if words[i] not in ("other", values[i]):
            extras.put(i, "kind", values[i])
    return words


def _plain_urls(values: Any) -> list[Any] | None:
    """URLs when every value is None/str, or every value a plain file object."""
    try:
        types = set(map(type, values))
        if types <= {str, type(None)}:
            return list(values)
        if types == {dict} and set().union(*map(dict.keys, values)) <= FILE_KEYS:
            return [v.get("url") for v in values]
    except TypeError:
        pass
    return None


def urls(conv: Conv, values: Any, name: str, extras: Extras) -> pa.Array:
    """A URL, or a file object or list of them (the first one's URL; the rest in extra)."""
    plain = _plain_urls(values)
    if plain is not None:
        return conv.strings(plain, f"{name}_url")
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None or type(v) is str:
            out.append(v)
        elif type(v) is dict:
            extras.rest(i, v, FILE_KEYS, name)
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
            kind_of[i] = next((v[k] for k in ERROR_KIND_NAMES if k in v), None)
            messages[i] = v.get("message")
            if not v.keys() <= ERROR_KEYS:
                extras.put(i, "error", v)
        else:
            conv.add(
                i, "error_message", "error is neither text nor an object; stored as JSON text", v
            )
            messages[i] = json_text(v)
    return conv.strings(kind_of, "error_kind"), conv.strings(messages, "error_message")
