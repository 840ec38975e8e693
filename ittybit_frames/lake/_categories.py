"""Category columns (``kind``, ``status``, ``job_kind``, ``job_status``) of files this
version did not write, read as the conversion reads an API's words."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.schema import Table
from ittybit_frames.vocabulary import canonical_kind, canonical_status

__all__ = ["in_categories"]


def in_categories(arrow: pa.Table, table: Table) -> pa.Table:
    """``arrow`` (category columns as text) with each word outside its column's
    categories (a file another tool wrote, or a newer version with more words) mapped as
    the conversion maps an API's words: an older word to its category, any other to
    ``other``. The word itself is kept in the column's raw twin (``kind_raw``,
    ``status_raw``) where that is null. pandas would make such words NaN, and warns that
    it will refuse them."""
    for name in arrow.column_names:
        categories = table[name].categories
        if categories is None:
            continue
        # is_in gives false for a null (the value set has none): it reads as other too.
        inside = pc.is_in(arrow[name], value_set=pa.array(categories, pa.string()))
        if pc.all(inside, min_count=0).as_py():
            continue  # the common case: one pass, no copy
        column = arrow[name].combine_chunks()
        outside = pc.invert(inside).combine_chunks()
        words = column.filter(outside)
        canonical = canonical_status if name.endswith("status") else canonical_kind
        mapped = pa.array([canonical(w) for w in words.to_pylist()], pa.string())
        arrow = _replace(arrow, name, pc.replace_with_mask(column, outside, mapped))
        raw_name = f"{name}_raw"
        if raw_name in arrow.column_names:
            raw = arrow[raw_name].combine_chunks()
            kept = pc.replace_with_mask(pa.nulls(len(raw), pa.string()), outside, words)
            arrow = _replace(arrow, raw_name, pc.coalesce(raw, kept))
    return arrow


def _replace(arrow: pa.Table, name: str, column: pa.Array) -> pa.Table:
    return arrow.set_column(arrow.schema.get_field_index(name), name, column)
