"""Payload drift: timestamp units, field aliases and status vocabularies.

The ittybit API has shipped several generations that may all appear in one history
(see "API drift" in the README): timestamps as Unix milliseconds (jobs API), Unix seconds
("runs" API) or ISO-8601 strings (2024/2025 APIs); ``created``/``updated`` instead of
``created_at``/``updated_at``; and five status vocabularies. This module maps all of them
onto one canonical form and never guesses silently: unusable values raise ``ValueError``
so the caller can record them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Any

__all__ = [
    "JOB_KINDS",
    "STATUSES",
    "TASK_KINDS",
    "TERMINAL_STATUSES",
    "canonical_kind",
    "canonical_status",
    "epoch_ms",
    "parse_when",
]

# Sanity bounds for epoch values: 2000-01-01 .. 2100-01-01.
_S_MIN, _S_MAX = 946_684_800, 4_102_444_800
_MS_MIN, _MS_MAX = _S_MIN * 1000, _S_MAX * 1000

#: Canonical statuses, in pipeline order, plus ``other`` for anything unrecognised.
STATUSES = ("queued", "processing", "succeeded", "failed", "cancelled", "other")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
#: Canonical job kinds (G5) plus ``other``.
JOB_KINDS = ("video", "audio", "image", "animation", "adaptive_video", "other")
#: Canonical task kinds: the pipeline stages plus the encode kinds, plus ``other``.
TASK_KINDS = (
    "probe",
    "import",
    "video",
    "audio",
    "image",
    "animation",
    "adaptive_video",
    "export",
    "other",
)

# Every documented status word of every generation -> canonical status.
_STATUS_MAP = {
    "queued": "queued",
    "pending": "queued",
    "waiting": "queued",
    "validating": "queued",
    "processing": "processing",
    "finishing": "processing",
    "running": "processing",
    "succeeded": "succeeded",
    "ready": "succeeded",
    "completed": "succeeded",
    "complete": "succeeded",
    "failed": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
_JOB_KIND_SET = frozenset(JOB_KINDS) - {"other"}
_TASK_KIND_SET = frozenset(TASK_KINDS) - {"other"}
# Older pipeline names for the same stages (staging docs: ingest / upload).
_TASK_KIND_ALIASES = {"ingest": "import", "upload": "export"}


def canonical_status(raw: Any) -> str:
    """Map a status word of any API generation to one of :data:`STATUSES`.

    Examples
    --------
    >>> canonical_status("ready"), canonical_status("error"), canonical_status("weird")
    ('succeeded', 'failed', 'other')
    """
    if isinstance(raw, str):
        return _STATUS_MAP.get(raw.strip().lower(), "other")
    return "other"


def canonical_kind(raw: Any, *, task: bool = False) -> str:
    """Map a job (or, with ``task=True``, task) kind to its canonical set, else ``other``."""
    if not isinstance(raw, str):
        return "other"
    word = raw.strip().lower()
    if task:
        word = _TASK_KIND_ALIASES.get(word, word)
        return word if word in _TASK_KIND_SET else "other"
    return word if word in _JOB_KIND_SET else "other"


def epoch_ms(value: Any) -> int | None:
    """Convert one timestamp of any documented form to Unix milliseconds (UTC).

    Accepts integers or floats in milliseconds or seconds (decided per value by
    magnitude, within 2000-2100), numeric strings, ISO-8601 strings (``Z`` or an
    offset; naive means UTC) and datetimes.

    Returns
    -------
    int or None
        ``None`` for ``None``.

    Raises
    ------
    ValueError
        The value is not a usable timestamp (wrong type, out of range, unparsable).

    Examples
    --------
    >>> epoch_ms(1711900000000), epoch_ms(1711900000), epoch_ms("2024-03-31T15:46:40Z")
    (1711900000000, 1711900000000, 1711900000000)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        return _from_number(float(value) if isinstance(value, float) else value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty timestamp string")
        try:
            number: int | float = int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return _from_iso(text)
        return _from_number(number)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return _check_ms(round(value.timestamp() * 1000))
    raise ValueError(f"a {type(value).__name__} is not a timestamp")


def _from_number(value: int | float) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("timestamp is not finite")
    if _S_MIN <= value < _S_MAX:
        return round(value * 1000)
    if _MS_MIN <= value < _MS_MAX:
        return round(value)
    raise ValueError("number is neither Unix seconds nor milliseconds between 2000 and 2100")


def _from_iso(text: str) -> int:
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return _check_ms(round(parsed.timestamp() * 1000))


def _check_ms(ms: int) -> int:
    if not _MS_MIN <= ms < _MS_MAX:
        raise ValueError("timestamp outside 2000-2100")
    return ms


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SPAN_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_when(value: Any, *, now_ms: int | None = None) -> int | None:
    """Turn a user's ``since``/``until`` into epoch milliseconds.

    Accepts what :func:`epoch_ms` accepts, plus a date (``2026-11-01``) and a span back
    from now (``"90s"``, ``"30m"``, ``"12h"``, ``"7d"``, ``"2w"``).

    Raises
    ------
    ValueError
        With a message that shows the accepted forms.

    Examples
    --------
    >>> parse_when("1d", now_ms=1_800_000_000_000)
    1799913600000
    """
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str) and (m := _SPAN.match(value)):
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return now - round(float(m.group(1)) * _SPAN_MS[m.group(2).lower()])
    try:
        return epoch_ms(value)
    except ValueError as exc:
        raise ValueError(
            f"cannot read {value!r} as a time: use an ISO date or time "
            "(2026-11-01, 2026-11-01T12:00:00Z), epoch seconds or milliseconds, "
            "or a span back from now (30m, 12h, 7d, 2w)"
        ) from exc
