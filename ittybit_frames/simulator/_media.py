"""The media side of a simulated job: formats, codecs, encode options and metadata."""

from __future__ import annotations

from typing import Any

__all__ = ["FORMATS", "codecs", "customer_id", "media_kind", "metadata", "options"]

FORMATS = {
    "video": ("mp4", "mp4"),
    "adaptive_video": ("mp4", "hls"),
    "audio": ("wav", "mp3"),
    "image": ("jpeg", "webp"),
    "animation": ("mp4", "gif"),
}

MEDIA_KIND = {"adaptive_video": "video", "animation": "image"}


def media_kind(kind: str) -> str:
    return MEDIA_KIND.get(kind, kind)


def codecs(kind: str, side: str) -> dict[str, str]:
    if kind == "audio":
        return {"audio": "pcm_s16le" if side == "in" else "mp3"}
    if kind == "animation":
        return {"video": "h264" if side == "in" else "gif"}
    return {"video": "h264", "audio": "aac"}


def options(kind: str, width: int) -> dict[str, Any]:
    if kind == "audio":
        return {"format": "mp3", "bitrate": 192_000}
    if kind == "image":
        return {"format": "webp", "quality": "high", "width": 1200}
    if kind == "animation":
        return {"format": "gif", "width": 480, "start": 0, "end": 4}
    if kind == "adaptive_video":
        return {"format": "hls", "quality": "high"}
    return {"format": "mp4", "quality": "high", "width": width}


def metadata(customer: int, source: int) -> dict[str, Any]:
    return {
        "customer_id": customer_id(customer),
        "source": ("upload", "api", "import")[source],
        "env": "prod",
    }


def customer_id(customer: int) -> str:
    return f"cus_{customer:04d}"
