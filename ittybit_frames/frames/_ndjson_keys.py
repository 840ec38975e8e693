"""The fields a block's lines hold, so that DuckDB reads only those.

``json_transform`` looks up every field of its structure in every object it reads, a
field no line holds as much as any other: the documented shape (older names, ``codec``,
``framerate``, every file field on ``input`` too) has twice the fields a line of the
current API writes. Reading only those it holds took about a tenth off DuckDB's reading
of the simulator's default history (100,000 jobs, one thread: 2.0-2.2 CPU-s against
2.2-2.4, three rounds each; ~6 % of the whole conversion). The structures DuckDB reports for
a block (of groups of lines, whose merge holds every key of every line, or of single
lines) say which keys occur: the structure read is cut to those (:func:`pruned`), and
the rows are then cast to the whole structure's Arrow type (:func:`arrow_type`; Arrow
fills a field that is not there with nulls), so what follows sees the same columns
either way.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["Keys", "arrow_type", "keys_of", "pruned"]

#: Key paths (``("tasks", "output", "codecs", "video")``) that occur in a structure.
Keys = frozenset[tuple[str, ...]]

_ARROW = {"VARCHAR": pa.string(), "JSON": pa.string(), "DOUBLE": pa.float64()}
_ARROW["UBIGINT"] = pa.uint64()


def keys_of(structure: Any, template: dict[str, Any]) -> Keys:
    """The key paths of a job's JSON structure (DuckDB's ``json_structure``, parsed)
    that the ``template`` (a ``json_transform`` structure) reads: only its objects and
    the first element of its lists are walked (a free-form value is one key)."""
    found: set[tuple[str, ...]] = set()

    def walk(node: Any, shape: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            if key not in shape:
                continue
            here = (*path, key)
            found.add(here)
            sub, inner = shape[key], value
            if type(sub) is list and type(inner) is list and inner:
                sub, inner = sub[0], inner[0]
            if type(sub) is dict and type(inner) is dict:
                walk(inner, sub, here)

    if type(structure) is dict:
        walk(structure, template, ())
    return frozenset(found)


def pruned(shape: dict[str, Any], keys: Keys) -> dict[str, Any]:
    """``shape`` with only the fields whose key path is in ``keys``. An object none of
    whose fields occurs keeps its first (DuckDB takes no empty structure)."""

    def cut(node: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, sub in node.items():
            here = (*path, key)
            if here not in keys:
                continue
            if type(sub) is dict:
                out[key] = cut(sub, here)
            elif type(sub) is list:
                out[key] = [cut(sub[0], here) if type(sub[0]) is dict else sub[0]]
            else:
                out[key] = sub
        return out or _least(node)

    return cut(shape, ())


def _least(node: dict[str, Any]) -> dict[str, Any]:
    """An object's first field (its own first field if it is an object)."""
    key, sub = next(iter(node.items()))
    return {key: _least(sub) if type(sub) is dict else sub}


def arrow_type(shape: Any) -> pa.DataType:
    """The Arrow type DuckDB gives a ``json_transform`` structure's rows."""
    if type(shape) is dict:
        return pa.struct([pa.field(key, arrow_type(sub)) for key, sub in shape.items()])
    if type(shape) is list:
        return pa.list_(pa.field("l", arrow_type(shape[0])))
    return _ARROW[shape]
