"""Value accounting for the tests: where did each leaf of a payload end up?"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

import ittybit_frames as itf
from ittybit_frames.vocabulary import epoch_ms


def leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf (an empty object or list counts as one) with its path."""
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in leaves(v, (*path, str(k)))]
    if isinstance(value, list) and value:
        return [leaf for i, v in enumerate(value) for leaf in leaves(v, (*path, str(i)))]
    return [(path, value)]


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return ("lit", value)
    if isinstance(value, int | float):
        return ("num", float(value))
    if isinstance(value, dict | list):
        return ("json", json.dumps(value, sort_keys=True))
    return ("str", str(value))


def kept_values(frames: itf.JobFrames) -> set[Any]:
    """Every value the frames hold: cells, extra leaves, problem raw values (and their
    leaves), timestamps as epoch ms."""
    found: set[Any] = set()
    for table in (frames.jobs, frames.tasks):
        for column in table.columns:
            for cell in table[column].dropna():
                if isinstance(cell, pd.Timestamp):
                    found.add(("ms", int(cell.value // 10**6)))
                elif column in ("extra", "options", "metadata"):
                    found.update(_norm(v) for _, v in leaves(json.loads(cell)))
                found.add(_norm(cell.item() if hasattr(cell, "item") else cell))
    for raw in frames.problems["raw_value"].dropna():
        found.update(_norm(v) for _, v in leaves(json.loads(raw)))
    return found


def lost(payload: Any, frames: itf.JobFrames) -> list[Any]:
    found = kept_values(frames)
    missing = []
    for path, value in leaves(payload):
        if value is None or _norm(value) in found:
            continue
        # An empty task list is task_count 0; an empty codecs object, no codec.
        if (path[-1] in ("tasks", "steps") and value == []) or (
            path[-1] == "codecs" and value == {}
        ):
            continue
        # The tag of the table's own rows is implied by the row.
        if path[-1] == "object" and value == ("task" if "tasks" in path else "job"):
            continue
        try:
            ms = epoch_ms(value)
        except ValueError:
            ms = None
        if ms is not None and ("ms", ms) in found:
            continue
        missing.append((".".join(path), value))
    return missing
