"""The careful path's task outputs: a file object (or URL, or "runs" ``outputs[]``) ->
the ``output_*`` columns.

Two passes over a chunk's outputs: the file fields, then the codec names (a
``codecs`` object, one ``codec`` per file in the 2025 API, or "runs" codec objects).
Each pass has a fast form for a chunk where every value is of the plain shape.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ittybit_frames.frames._fields import Extras, first
from ittybit_frames.frames._values import Conv
from ittybit_frames.vocabulary import CODEC_KEYS, FILE_FIELDS, FILE_KEYS

__all__ = ["outputs"]

_NONE = (None,) * len(FILE_FIELDS)


def _plain_files(values: Any) -> bool:
    """Every value None or a file object with known keys only."""
    try:
        return (
            set(map(type, values)) <= {dict, type(None)}
            and set().union(*(v.keys() for v in values if v is not None)) <= FILE_KEYS
        )
    except TypeError:
        return False


def _file(conv: Conv, extras: Extras, i: int, value: Any) -> tuple[Any, ...]:
    """One output -> its :data:`FILE_FIELDS` values; what has no column in extra."""
    v = value
    if type(value) is list:  # "runs" API outputs[]: map the first file, keep them all
        extras.keep(i, "outputs", value)
        v = next((o for o in value if type(o) is dict), None)
    if type(v) is dict:
        extras.rest(i, v, FILE_KEYS, "output")
        if "fps" in v and "framerate" in v:
            extras.put(i, "framerate", v["framerate"], within="output")
        return tuple(map(v.get, FILE_FIELDS))
    if v is None:
        return _NONE
    if type(v) is str:
        return (v, *_NONE[1:])
    conv.add(i, "output_url", "output is not a file object or URL; stored in extra", v)
    extras.put(i, "output", v)
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


def _codec_names(
    conv: Conv, extras: Extras, i: int, codecs: Any, single: Any, kind: Any
) -> tuple[Any, Any]:
    """One file's (video, audio) codec names, from any generation's fields."""
    video = audio = None
    if type(codecs) is dict:
        video, audio = codecs.get("video"), codecs.get("audio")
        extras.rest(i, codecs, CODEC_KEYS, "codecs", within="output")
    elif codecs is not None:
        conv.add(i, "output_codec_video", "codecs is not an object; stored in extra", codecs)
        extras.put(i, "codecs", codecs, within="output")
    if single is not None:  # 2025 API: one `codec` per file
        if kind == "audio":
            audio = audio if audio is not None else single
        else:
            video = video if video is not None else single
    # "runs" API: codecs are objects {"name", "profile", ...}: take the name, and keep
    # the profile, level, sample rate... whole in extra.
    if type(video) is dict:
        video = video.get("name")
        extras.put(i, "codecs", codecs, within="output")
    if type(audio) is dict:
        audio = audio.get("name")
        extras.put(i, "codecs", codecs, within="output")
    return video, audio


def outputs(conv: Conv, values: Any, extras: Extras) -> dict[str, pa.Array]:
    """A chunk's task outputs -> the ``output_*`` columns."""
    if _plain_files(values):
        # A file with both fps and framerate keeps no framerate in extra on this path
        # (the per-value path below does): kept as it was; see the report of 0.x.
        parts = [_NONE if v is None else tuple(map(v.get, FILE_FIELDS)) for v in values]
    else:
        parts = [_file(conv, extras, i, v) for i, v in enumerate(values)]
    cols = (
        dict(zip(FILE_FIELDS, zip(*parts, strict=True), strict=True))
        if parts
        else dict.fromkeys(FILE_FIELDS, ())
    )
    names = _plain_codecs(cols["codecs"], cols["codec"])
    if names is None:
        pairs = [
            _codec_names(conv, extras, i, c, one, kind)
            for i, (c, one, kind) in enumerate(
                zip(cols["codecs"], cols["codec"], cols["kind"], strict=True)
            )
        ]
        names = ([v for v, _ in pairs], [a for _, a in pairs])
    video, audio = names
    framerate = cols["framerate"]
    return {
        "output_url": conv.strings(cols["url"], "output_url"),
        "output_kind": conv.strings(cols["kind"], "output_kind"),
        "output_format": conv.strings(cols["format"], "output_format"),
        "output_width": conv.ints(cols["width"], "output_width"),
        "output_height": conv.ints(cols["height"], "output_height"),
        "output_duration_seconds": conv.floats(cols["duration"], "output_duration_seconds"),
        "output_codec_video": conv.strings(video, "output_codec_video"),
        "output_codec_audio": conv.strings(audio, "output_codec_audio"),
        "output_filesize_bytes": conv.ints(cols["filesize"], "output_filesize_bytes"),
        "output_bitrate": conv.ints(cols["bitrate"], "output_bitrate"),
        "output_fps": conv.floats(
            cols["fps"]
            if framerate.count(None) == len(framerate)
            else first(cols["fps"], framerate),
            "output_fps",
        ),
    }
