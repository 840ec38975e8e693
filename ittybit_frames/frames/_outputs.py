"""The careful path's file objects: a task's input or output (a file object, a URL, or a
"runs" ``inputs[]``/``outputs[]`` list) -> its ``input_*``/``output_*`` columns.

Two passes over a chunk's files: the file fields, then the codec names (a ``codecs``
object of words or, in the "runs" API, of objects ``{name, profile, ...}``; or one
``codec`` per file in the 2025 API). Each pass has a fast form for a chunk where every
value is of the plain shape. Whatever has no column (the file's ``object`` tag, a
codec's profile, a ``framerate`` beside ``fps``, an unknown key) goes to ``extra`` under
its path, such as ``input.codecs.video.profile``; a list of files is kept whole.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ittybit_frames.frames._fields import Extras, first
from ittybit_frames.frames._values import Conv, plain_columns
from ittybit_frames.vocabulary import CODEC_KEYS, FILE_FIELDS

__all__ = ["files"]

#: The fields read from a file object: those with a column, and its ``object`` tag.
_READ = (*FILE_FIELDS, "object")
_KNOWN = frozenset(_READ)
_NONE = (None,) * len(_READ)
_CODEC_NAME = frozenset({"name"})


def _plain_files(values: Any) -> bool:
    """Every value None or a file object with known keys only."""
    try:
        return (
            set(map(type, values)) <= {dict, type(None)}
            and set().union(*(v.keys() for v in values if v is not None)) <= _KNOWN
        )
    except TypeError:
        return False


def _file(conv: Conv, extras: Extras, i: int, value: Any, name: str, alias: str) -> tuple[Any, ...]:
    """One file -> its :data:`_READ` values; an unknown key in extra."""
    v = value
    if type(value) is list:  # "runs" API inputs[]/outputs[]: map the first, keep them all
        extras.keep(i, alias, value)
        v = next((o for o in value if type(o) is dict), None)
        return _NONE if v is None else tuple(map(v.get, _READ))
    if type(v) is dict:
        extras.rest(i, v, _KNOWN, name)
        return tuple(map(v.get, _READ))
    if v is None:
        return _NONE
    if type(v) is str:
        return (v, *_NONE[1:])
    conv.add(i, f"{name}_url", f"{name} is not a file object or URL; stored in extra", v)
    extras.put(i, name, v)
    return _NONE


def _plain_codecs(codecs: Any, single: Any) -> tuple[list[Any], list[Any]] | None:
    """Codec names when every codecs value is None or a ``{video, audio}`` object of
    words and no file has a single ``codec``."""
    try:
        plain = (
            set(map(type, codecs)) <= {dict, type(None)}
            and set().union(*(c.keys() for c in codecs if c is not None)) <= CODEC_KEYS
        )
    except TypeError:
        plain = False
    if not plain or single.count(None) != len(single):
        return None
    video = [None if c is None else c.get("video") for c in codecs]
    audio = [None if c is None else c.get("audio") for c in codecs]
    if set(map(type, video)) | set(map(type, audio)) <= {str, type(None)}:
        return video, audio
    return None


def _codec_name(extras: Extras, i: int, value: Any, where: tuple[str, ...]) -> Any:
    """A codec as a word, or (the "runs" API) an object whose ``name`` is the word and
    whose profile, level, sample rate... go to extra under ``where``."""
    if type(value) is not dict:
        return value
    extras.rest(i, value, _CODEC_NAME, where[-1], within=where[:-1])
    return value.get("name")


def _codec_names(
    conv: Conv, extras: Extras, i: int, file: tuple[Any, Any, Any], name: str
) -> tuple[Any, Any]:
    """One file's (video, audio) codec names, from any generation's fields."""
    codecs, single, kind = file
    video = audio = None
    if type(codecs) is dict:
        video = _codec_name(extras, i, codecs.get("video"), (name, "codecs", "video"))
        audio = _codec_name(extras, i, codecs.get("audio"), (name, "codecs", "audio"))
        extras.rest(i, codecs, CODEC_KEYS, "codecs", within=name)
    elif codecs is not None:
        conv.add(i, f"{name}_codec_video", "codecs is not an object; stored in extra", codecs)
        extras.put(i, "codecs", codecs, within=name)
    if single is not None:  # 2025 API: one `codec` per file
        if kind == "audio" and audio is None:
            audio = single
        elif kind != "audio" and video is None:
            video = single
        else:  # the slot is taken by `codecs`: keep this one too
            extras.put(i, "codec", single, within=name)
    return video, audio


def _columns(parts: list[tuple[Any, ...]]) -> dict[str, Any]:
    if not parts:
        return dict.fromkeys(_READ, ())
    return plain_columns(dict(zip(_READ, zip(*parts, strict=True), strict=True)))


def _leftovers(extras: Extras, cols: dict[str, Any], name: str, whole: set[int]) -> None:
    """Values read from a file that have no column: its ``object`` tag, and a
    ``framerate`` sent beside ``fps`` (rows of a list kept whole have them already)."""
    rows = extras.rows  # the common case (every file tagged) without put()'s generality
    for i, tag in enumerate(cols["object"]):
        if tag is not None and i not in whole:
            row = rows.get(i)
            if row is None:
                rows[i] = {name: {"object": tag}}
            else:
                row.setdefault(name, {})["object"] = tag
    rates = cols["framerate"]
    if rates.count(None) != len(rates):
        for i, (fps, rate) in enumerate(zip(cols["fps"], rates, strict=True)):
            if fps is not None and rate is not None and i not in whole:
                extras.put(i, "framerate", rate, within=name)


def files(conv: Conv, values: Any, extras: Extras, name: str, alias: str) -> dict[str, pa.Array]:
    """A chunk's task inputs (``name="input"``) or outputs -> their ``{name}_*``
    columns. ``alias`` is the field's list form (``inputs``/``outputs``)."""
    whole: set[int] = set()
    if _plain_files(values):
        parts = [_NONE if v is None else tuple(map(v.get, _READ)) for v in values]
    else:
        parts = [_file(conv, extras, i, v, name, alias) for i, v in enumerate(values)]
        whole = {i for i, v in enumerate(values) if type(v) is list}
    cols = _columns(parts)
    _leftovers(extras, cols, name, whole)
    names = _plain_codecs(cols["codecs"], cols["codec"])
    if names is None:
        pairs = [
            _codec_names(conv, Extras() if i in whole else extras, i, (c, one, kind), name)
            for i, (c, one, kind) in enumerate(
                zip(cols["codecs"], cols["codec"], cols["kind"], strict=True)
            )
        ]
        names = ([v for v, _ in pairs], [a for _, a in pairs])
    video, audio = names
    framerate = cols["framerate"]
    fps = cols["fps"] if framerate.count(None) == len(framerate) else first(cols["fps"], framerate)
    return {
        f"{name}_url": conv.strings(cols["url"], f"{name}_url"),
        f"{name}_kind": conv.strings(cols["kind"], f"{name}_kind"),
        f"{name}_format": conv.strings(cols["format"], f"{name}_format"),
        f"{name}_width": conv.ints(cols["width"], f"{name}_width"),
        f"{name}_height": conv.ints(cols["height"], f"{name}_height"),
        f"{name}_duration_seconds": conv.floats(cols["duration"], f"{name}_duration_seconds"),
        f"{name}_codec_video": conv.strings(video, f"{name}_codec_video"),
        f"{name}_codec_audio": conv.strings(audio, f"{name}_codec_audio"),
        f"{name}_filesize_bytes": conv.ints(cols["filesize"], f"{name}_filesize_bytes"),
        f"{name}_bitrate": conv.ints(cols["bitrate"], f"{name}_bitrate"),
        f"{name}_fps": conv.floats(fps, f"{name}_fps"),
    }
