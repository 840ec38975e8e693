"""The manifest's ``sync`` entry, checked before anything reads it: a hand edit that left
an entry of the wrong shape is a one-line :class:`ConfigurationError` naming the key and
what removing it costs, never a traceback halfway through a sync, ``info`` or ``check``.

The entry is written by :mod:`ittybit_frames.sync_state`; its ``since`` (a time, also when
written by hand) is read there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ittybit_frames.errors import ConfigurationError
from ittybit_frames.lake._format import MANIFEST
from ittybit_frames.vocabulary import epoch_ms

__all__ = ["checked_since", "mended_sync_entry", "sync_entry"]


def _is_ms(value: Any) -> bool:
    """Epoch milliseconds, as a sync writes them (a whole number; a float of an older
    writer is taken too), of a time the package reads (2000-2100): a number in seconds or
    out of range would be read as another time, or fail halfway through a sync."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        ms = epoch_ms(value)
    except ValueError:
        return False
    return ms is not None and abs(ms - value) < 1


def _is_walk(value: Any) -> bool:
    """An interrupted walk's checkpoint: where it resumes (``cursor``: a job ID or none)
    and its times (none, or epoch milliseconds)."""
    if not isinstance(value, dict) or "cursor" not in value:
        return False
    cursor_ok = value["cursor"] is None or isinstance(value["cursor"], str)
    times = (value.get(k) for k in ("newest", "lower", "bound", "reached"))
    return cursor_ok and all(t is None or _is_ms(t) for t in times)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


# key: (what each value must be, its test, what removing the key costs)
_SHAPES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "frontiers": (
        "an object of epoch milliseconds",
        _is_ms,
        "each kind is then read from the lake's bound again; the merge keeps every job once",
    ),
    "walked": (
        "an object of epoch milliseconds",
        _is_ms,
        "a kind none of whose jobs a sync found is then walked whole again",
    ),
    "walks": (
        "an object of checkpoints (a cursor, times in epoch milliseconds)",
        _is_walk,
        "an interrupted sync then starts again from the newest job",
    ),
    "padded_ids": (
        "an object of job IDs (texts)",
        _is_text,
        "unfinished jobs whose IDs the API pads are then requested by their plain ID",
    ),
}


def sync_entry(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``sync`` entry (``{}`` when there is none), its ``frontiers``,
    ``walks`` and ``padded_ids`` checked to be objects of the right values.

    Raises
    ------
    ConfigurationError
        One line naming the key, the value found and what to do.
    """
    state = manifest.get("sync", {})
    if not isinstance(state, dict):
        raise _wrong("sync", state, "an object", _WHOLE)
    for key, (shape, _, cost) in _SHAPES.items():
        if not _fits(state, key):
            raise _wrong(f"sync.{key}", state[key], shape, cost)
    return state


#: What removing the whole entry costs.
_WHOLE = "the next sync then reads the whole history"


def _fits(state: dict[str, Any], key: str) -> bool:
    value = state.get(key, {})
    test = _SHAPES[key][1]
    return isinstance(value, dict) and all(isinstance(k, str) and test(v) for k, v in value.items())


#: What removing ``sync.since`` costs (:func:`ittybit_frames.sync_state.recorded_bound`).
_SINCE = "new kinds are then read from the whole history"


def _since_fits(state: dict[str, Any]) -> bool:
    try:
        epoch_ms(state.get("since"))
    except ValueError:
        return False
    return True


def checked_since(state: dict[str, Any]) -> None:
    """Raise the :class:`ConfigurationError` of a ``since`` (the lake's bound) that is
    no time, as a sync would (``check`` names it; ``--repair`` removes it)."""
    if not _since_fits(state):
        raise _wrong("sync.since", state["since"], "a time (epoch milliseconds)", _SINCE)


def mended_sync_entry(manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The manifest's ``sync`` entry with each key of the wrong shape removed (the whole
    entry when it is no object; ``since`` when it is no time), and what was removed,
    each with what that costs: what ``check --repair`` writes in its place (a sync reads
    again what it can no longer tell it has; the merge keeps every job once)."""
    state = manifest.get("sync", {})
    if not isinstance(state, dict):
        return {}, [f"sync ({_WHOLE})"]
    bad = [key for key in _SHAPES if not _fits(state, key)]
    notes = [f"sync.{key} ({_SHAPES[key][2]})" for key in bad]
    if not _since_fits(state):
        bad.append("since")
        notes.append(f"sync.since ({_SINCE})")
    kept = {k: v for k, v in state.items() if k not in bad}
    return kept, notes


def _wrong(key: str, value: Any, shape: str, cost: str) -> ConfigurationError:
    return ConfigurationError(
        f"the lake's {MANIFEST} records {key} {repr(value)[:40]}, which is not {shape}: "
        f"put back what a sync wrote there, or remove {key} ({cost})"
    )
