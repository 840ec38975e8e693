"""API drift in one place: field aliases, timestamp units and bounds, status and kind words.

The ittybit API has shipped several generations that may all appear in one history
(see "API drift" in the README and ``shared/ittybit-api.md``): timestamps as Unix
milliseconds (jobs API), Unix seconds ("runs" API) or ISO-8601 strings (2024/2025 APIs);
``created``/``updated`` instead of ``created_at``/``updated_at``; ``steps`` for ``tasks``;
``inputs``/``outputs`` lists; ``framerate`` for ``fps``; one ``codec`` per file; and five
status vocabularies. Every module that reads a payload (the careful conversion path, the
NDJSON fast path, the client's time windows, sync) takes these facts from here, so
supporting a new API version means editing this module (and its tests) only.

Nothing here guesses silently: unusable values raise ``ValueError`` so the caller can
record them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from ittybit_frames.errors import ConfigurationError

__all__ = [
    "CODEC_KEYS",
    "ERROR_KEYS",
    "ERROR_KIND_NAMES",
    "FIELD_ALIASES",
    "FILE_FIELDS",
    "FILE_KEYS",
    "ID_PADDING",
    "JOB_FIELDS",
    "JOB_KINDS",
    "KINDS",
    "KIND_WORDS",
    "LISTED_WORDS",
    "MS_MAX",
    "MS_MIN",
    "OBJECT_TAGS",
    "STATUSES",
    "STATUS_WORDS",
    "TASK_FIELDS",
    "TASK_KINDS",
    "TERMINAL_STATUSES",
    "canonical_kind",
    "canonical_status",
    "category",
    "created_ms",
    "epoch_ms",
    "listing_filters",
    "parse_when",
    "parse_window",
]

# --------------------------------------------------------------------------------------
# Timestamps: units and sanity bounds (2000-01-01 .. 2100-01-01)
# --------------------------------------------------------------------------------------
S_MIN, S_MAX = 946_684_800, 4_102_444_800
MS_MIN, MS_MAX = S_MIN * 1000, S_MAX * 1000

# --------------------------------------------------------------------------------------
# Statuses and kinds
# --------------------------------------------------------------------------------------
#: Canonical statuses, in pipeline order, plus ``other`` for anything unrecognised.
STATUSES = ("queued", "processing", "succeeded", "failed", "cancelled", "other")
#: Statuses after which a job or task never changes again.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
#: Every kind word documented across API versions, G5's first (a G5 job's kinds, then its
#: task stages), then those of the older task APIs (G4 runs, G3 tasks and automations,
#: G2 tracks and intelligence), then ``other`` for a word no version uses. Jobs and tasks
#: share the set: in G2-G4 the top-level record is itself a task (see ``shared/
#: ittybit-api.md`` §7 and ``tests/data/conformance``). The raw word is kept in
#: ``kind_raw``.
KINDS = (
    "video",
    "audio",
    "image",
    "animation",
    "adaptive_video",
    "probe",
    "import",
    "export",
    "speech",
    "subtitles",
    "chapters",
    "thumbnails",
    "nsfw",
    "summary",
    "description",
    "describe",
    "outline",
    "prompt",
    "tags",
    "workflow",
    "conditions",
    "http",
    "store",
    "webhook",
    "other",
)
#: Canonical job kinds (every documented kind: G2-G4 top-level records are tasks).
JOB_KINDS = KINDS
#: Canonical task kinds (the same set).
TASK_KINDS = KINDS

#: Every documented status word of every generation -> canonical status (lower case).
STATUS_WORDS: dict[str, str] = {
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
# Older pipeline names for the same stages (staging docs: ingest / upload).
_KIND_ALIASES = {"ingest": "import", "upload": "export"}
#: Every documented kind word -> its canonical kind (exact words; the careful path
#: also folds case). The raw word is kept in ``kind_raw``.
KIND_WORDS: dict[str, str] = {k: k for k in KINDS if k != "other"} | _KIND_ALIASES
#: Job kind words -> canonical kind.
JOB_KIND_WORDS = KIND_WORDS
#: Task kind words -> canonical kind.
TASK_KIND_WORDS = KIND_WORDS

# --------------------------------------------------------------------------------------
# Fields and their older names
# --------------------------------------------------------------------------------------
#: Older field names -> the current name they stand for.
FIELD_ALIASES: dict[str, str] = {
    "created": "created_at",
    "updated": "updated_at",
    "steps": "tasks",  # staging naming: a job's tasks called steps
    "inputs": "input",  # a list of input files
    "outputs": "output",  # a list of output files
    "framerate": "fps",
    "codec": "codecs",  # 2025 API: one codec per file
}
_STAMPS = ("created_at", "created", "started_at", "finished_at", "updated_at", "updated")
#: Every top-level job field that has a column (current names and their aliases).
JOB_FIELDS = (
    "id",
    "object",
    "kind",
    "status",
    "input",
    "output",
    "options",
    "metadata",
    "error",
    "tasks",
    "steps",
    *_STAMPS,
)
#: Every task field that has a column (current names and their aliases).
TASK_FIELDS = (
    "id",
    "object",
    "kind",
    "status",
    "progress",
    "input",
    "inputs",
    "output",
    "outputs",
    "options",
    "error",
    *_STAMPS,
)
#: Fields of a file object (a task's output), current names and aliases.
FILE_FIELDS = (
    "url",
    "kind",
    "format",
    "width",
    "height",
    "duration",
    "filesize",
    "bitrate",
    "fps",
    "framerate",
    "codecs",
    "codec",
)
#: Values of a record's ``object`` tag across generations.
OBJECT_TAGS = frozenset({"job", "task", "step", "run"})


def current(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The fields of ``fields`` that are current names (aliases left out)."""
    return tuple(f for f in fields if f not in FIELD_ALIASES)


def canonical_status(raw: Any) -> str:
    """Map a status word of any API generation to one of :data:`STATUSES`.

    Examples
    --------
    >>> canonical_status("ready"), canonical_status("error"), canonical_status("weird")
    ('succeeded', 'failed', 'other')
    """
    if isinstance(raw, str):
        return STATUS_WORDS.get(raw.strip().lower(), "other")
    return "other"


def canonical_kind(raw: Any, *, task: bool = False) -> str:
    """Map a kind word of any API version to one of :data:`KINDS`, else ``other``.

    Examples
    --------
    >>> canonical_kind("speech"), canonical_kind("ingest"), canonical_kind("vidoe")
    ('speech', 'import', 'other')
    """
    del task  # jobs and tasks share one set of kinds (kept for callers that name it)
    if not isinstance(raw, str):
        return "other"
    return KIND_WORDS.get(raw.strip().lower(), "other")


def category(word: str, *, field: str) -> str:
    """The category a filter word names (``field`` is ``"kind"`` or ``"status"``):
    a category, ``other``, or a documented word of any version (``ready`` ->
    ``succeeded``). Raises ``ValueError``, listing the categories, for any other word
    (a typo would otherwise select the ``other`` rows).

    Examples
    --------
    >>> category("ready", field="status"), category("other", field="kind")
    ('succeeded', 'other')
    """
    categories, canonical = (
        (KINDS, canonical_kind) if field == "kind" else (STATUSES, canonical_status)
    )
    found = canonical(word)
    if found == "other" and str(word).strip().lower() != "other":
        raise ValueError(
            f"unknown {field} {word!r}: use one of {', '.join(categories)} "
            f"(or filter {field}_raw for a word outside these)"
        )
    return found


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


def created_ms(job: Mapping[str, Any]) -> int | None:
    """A job's creation time in epoch ms, under its current or older name; ``None`` if
    absent or unusable (callers that must keep such jobs decide what to do)."""
    try:
        return epoch_ms(job.get("created_at", job.get("created")))
    except ValueError:
        return None


def _from_number(value: int | float) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("timestamp is not finite")
    if S_MIN <= value < S_MAX:
        return round(value * 1000)
    if MS_MIN <= value < MS_MAX:
        return round(value)
    raise ValueError("number is neither Unix seconds nor milliseconds between 2000 and 2100")


def _from_iso(text: str) -> int:
    if text.endswith("z"):  # RFC 3339 allows a lower-case "z" (and "t", which Python reads)
        text = text[:-1] + "Z"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return _check_ms(round(parsed.timestamp() * 1000))


def _check_ms(ms: int) -> int:
    if not MS_MIN <= ms < MS_MAX:
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
        back = now - round(float(m.group(1)) * _SPAN_MS[m.group(2).lower()])
        if not MS_MIN <= back < MS_MAX:  # as every other time: a lake, a listing read none
            raise ValueError(
                f"{value!r} reaches back before 2000 (the earliest time read): give a "
                "shorter span, or a date from 2000-01-01 on"
            )
        return back
    try:
        return epoch_ms(value)
    except ValueError as exc:
        raise ValueError(
            f"cannot read {value!r} as a time: use an ISO date or time "
            "(2026-11-01, 2026-11-01T12:00:00Z), epoch seconds or milliseconds, "
            "or a span back from now (30m, 12h, 7d, 2w)"
        ) from exc


def parse_window(
    since: Any, until: Any, *, flags: bool = False, now_ms: int | None = None
) -> tuple[int | None, int | None]:
    """``since`` and ``until`` in epoch milliseconds (:func:`parse_when`, spans back from
    one reading of the clock, so ``"7d"`` to ``"7d"`` is always empty), refusing a window
    that ends before it starts (a :class:`ConfigurationError` line: "swap them") rather
    than finding nothing in it. ``flags``: name them as the CLI's options."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    lo, hi = parse_when(since, now_ms=now), parse_when(until, now_ms=now)
    if lo is not None and hi is not None and lo >= hi:
        first, second = ("--since", "--until") if flags else ("since", "until")
        raise ConfigurationError(
            f"{first} {since!r} ({_minute(lo)}) is not before {second} {until!r} "
            f"({_minute(hi)}): swap them"
        )
    return lo, hi


def _minute(ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ms / 1000, dt.UTC):%Y-%m-%d %H:%M} UTC"


# --------------------------------------------------------------------------------------
# Shapes of nested objects
# --------------------------------------------------------------------------------------
#: Keys a file object (a job's or task's input or output) may have, aliases included.
FILE_KEYS = frozenset({"object", *FILE_FIELDS})
#: Keys of a codecs object (``{"video": ..., "audio": ...}``); in the "runs" API each
#: value is an object ``{"name", "profile", ...}`` instead of a word.
CODEC_KEYS = frozenset({"video", "audio"})
#: Keys of the documented error object; anything else makes it kept whole in ``extra``.
ERROR_KEYS = frozenset({"kind", "message"})
#: Names of an error's kind across generations, the first present wins.
ERROR_KIND_NAMES = ("kind", "type", "code")


# --------------------------------------------------------------------------------------
# IDs and the listing's filters
# --------------------------------------------------------------------------------------
#: Stripped from both ends of a job ID where the client lists or requests it (and where
#: the lake keys it): whitespace, and the BOM a file saved on Windows begins with.
ID_PADDING = " \t\r\n\v\f\ufeff"

#: The words the listing's ``kind`` and ``status`` filters take (API reference 2.4).
#: Another category (``other``, a task kind) is no filter the API knows (HTTP 400).
LISTED_WORDS: dict[str, frozenset[str]] = {
    "kind": frozenset({"video", "audio", "image", "animation", "adaptive_video"}),
    "status": frozenset(STATUSES) - {"other"},
}


def listing_filters(
    kind: str | None, status: str | None
) -> tuple[str | None, str | None, dict[str, str]]:
    """The categories ``kind`` and ``status`` split into the listing's filters (``None``
    for a word it does not take, :data:`~ittybit_frames.vocabulary.LISTED_WORDS`) and
    those to subset the frames by."""
    words = {"kind": kind, "status": status}
    kept = {f: w for f, w in words.items() if w is not None and w not in LISTED_WORDS[f]}
    return (None if "kind" in kept else kind), (None if "status" in kept else status), kept
