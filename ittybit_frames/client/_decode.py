"""Answers into Python: JSON bodies decoded, error answers mapped to the error tree."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import orjson

from ittybit_frames.client._config import clean_job_id
from ittybit_frames.client._retry import is_server_error, retry_after_seconds
from ittybit_frames.errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "MAX_BODY_BYTES",
    "UnreadableBody",
    "bad_answer",
    "error_from_response",
    "job_object",
    "loads",
    "ndjson_parts",
    "records_of",
    "to_ndjson",
]

_E = TypeVar("_E", bound=APIError)

# A run of 19+ digits: every digit mapped to "0", then a plain substring search, which is
# 10x faster than the regex \d{19,} on a page of jobs (that regex tried each position of
# every 13-digit timestamp and cost more than parsing the page).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
#: Largest answer body decoded, in bytes. A job with its tasks is a few kB; a page of
#: 100 of them well under 1 MB. Anything this large is not an answer to decode.
MAX_BODY_BYTES = 64 * 1024 * 1024


class UnreadableBody(ValueError):
    """A body that no retry can make readable: too deep, too large, not UTF-8, NaN."""


def loads(body: bytes) -> Any:
    """Decode a JSON body; integers beyond 64 bits stay exact.

    Raises
    ------
    UnreadableBody
        The body can never be decoded: over :data:`MAX_BODY_BYTES`, nested deeper than
        the parsers allow, not UTF-8, or holding ``NaN`` or ``Infinity``.
    ValueError
        The body is not JSON, perhaps cut short (worth another try).
    """
    if len(body) > MAX_BODY_BYTES:
        raise UnreadableBody(f"the body is {len(body)} bytes, over the {MAX_BODY_BYTES} cap")
    # Parsing many small objects is 2-3x faster with the cyclic GC paused: it would
    # otherwise run over and over on the containers we are creating.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if _LONG_RUN in body.translate(_DIGITS_TO_ZERO):
            # orjson reads integers beyond 64 bits as floats (losing digits): the stdlib
            # keeps them exact. Only bodies with such long digit runs pay for it.
            return _stdlib_loads(body)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc):
                raise UnreadableBody("the body is nested too deeply to decode") from exc
            # orjson refuses some JSON the standard allows (a lone surrogate escape such
            # as "\ud800"): the stdlib reads it, as it would the same job in a file.
            return _stdlib_loads(body)
    except RecursionError as exc:
        raise UnreadableBody("the body is nested too deeply to decode") from exc
    except UnreadableBody:
        raise
    except ValueError as exc:
        raise _judged(exc, body) from exc
    finally:
        if was_enabled:
            gc.enable()


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: orjson refuses them, so the stdlib must too (else a
    # NaN read here would be written to NDJSON as null, a value silently changed).
    raise UnreadableBody(f"the body holds {name}, which is not JSON")


def _stdlib_loads(body: bytes) -> Any:
    import json  # noqa: PLC0415

    return json.loads(body, parse_constant=_refuse_constant)


def to_ndjson(jobs: Iterable[Mapping[str, Any]]) -> bytes | None:
    """The jobs the client decoded (and checked), as NDJSON: the input ``to_frames``
    reads at full speed, which holds a page in a few bytes objects rather than
    thousands of containers for the garbage collector to walk.

    Returns None when a job holds an integer beyond 64 bits, which an NDJSON reader
    would turn into a float: hand over the jobs themselves then, to keep every digit.
    """
    try:
        return b"".join([orjson.dumps(job, option=orjson.OPT_APPEND_NEWLINE) for job in jobs])
    except orjson.JSONEncodeError:
        return None


def records_of(pages: Iterable[list[dict[str, Any]]]) -> bytes | list[dict[str, Any]]:
    """The jobs of the client's pages for :func:`to_frames`: NDJSON bytes, page by page
    as they come (its fast path, and no heap of dicts for the garbage collector to walk
    while the listing goes on); the jobs themselves if one holds an integer beyond 64
    bits (see :func:`to_ndjson`), so every digit is kept.
    """
    parts: list[bytes] = []
    held: list[dict[str, Any]] | None = None
    for page in pages:
        data = to_ndjson(page) if held is None else None
        if data is not None:
            parts.append(data)
            continue
        if held is None:  # from here on, the jobs themselves
            held = [orjson.loads(line) for part in parts for line in part.splitlines()]
            parts.clear()
        held.extend(page)
    return b"".join(parts) if held is None else held


def ndjson_parts(pages: Iterable[list[dict[str, Any]]]) -> Iterator[bytes | list[dict[str, Any]]]:
    """The jobs of the client's pages as they come, for ``to_frames_in_parts``: each
    page as NDJSON (see :func:`to_ndjson`); a page with a job that holds an integer
    beyond 64 bits job by job, that job as itself (a list of one), so every digit is
    kept, the others as NDJSON.
    """
    for page in pages:
        data = to_ndjson(page)
        if data is not None:
            yield data
            continue
        for job in page:
            line = to_ndjson([job])
            yield [job] if line is None else line


def _judged(exc: ValueError, body: bytes) -> ValueError:
    """``exc`` as :class:`UnreadableBody` when no retry can help, else as it came."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        # A body cut inside a character ends with an incomplete one: that is truncation.
        if not (bad.end == len(body) and "unexpected end" in bad.reason):
            return UnreadableBody(f"the body is not UTF-8 (byte {bad.start})")
    return exc


def job_object(payload: Any, job_id: str, url: str) -> dict[str, Any]:
    """The job in a ``GET /jobs/{id}`` answer, bare or in a ``{meta, data}`` envelope.

    Raises
    ------
    APIError
        ``kind="bad_payload"`` when the answer is not a job object (or has no ``id``),
        ``kind="id_mismatch"``
        when it is another job than the one requested (a proxy's cache, a server bug).
    """
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = payload["data"]  # 2024/2025 envelope {meta, data}
    if not isinstance(payload, dict):
        raise bad_answer(
            "bad_payload",
            f"expected a job object from GET /jobs/{job_id}, got {type(payload).__name__}",
            url,
        )
    if "id" not in payload:  # `{}`, `{"data": []}`, `{"status": "ok"}`: not a job
        raise bad_answer(
            "bad_payload", f"the answer to GET /jobs/{job_id} has no job id: not a job", url
        )
    got = clean_job_id(payload["id"])
    if got != job_id:
        message = f"asked for job {job_id!r}, the server answered with job {str(got)[:60]!r}"
        raise bad_answer("id_mismatch", message, url)
    payload["id"] = got  # numeric IDs become strings, as everywhere else
    return payload


def bad_answer(kind: str, message: str, url: str, error: type[_E] = APIError) -> _E:  # type: ignore[assignment]
    """An ``error`` for a 200 answer to ``GET url`` that cannot be used as it is."""
    return error(message, status_code=200, kind=kind, method="GET", url=url)


def _kind_and_message(body: bytes) -> tuple[str | None, str]:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    kind: str | None = None
    message = ""
    if isinstance(payload, dict):
        # Jobs API: {"kind", "message"}; 2024/2025 APIs: {"meta", "error": {"message"}}.
        err = payload.get("error")
        if isinstance(err, dict):
            kind = err.get("kind") or err.get("type") or payload.get("kind")
            message = str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
        kind = kind or payload.get("kind")
        message = message or str(payload.get("message") or "")
    return (str(kind) if kind is not None else None), message


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, method: str, url: str
) -> APIError:
    """The :class:`APIError` subclass for a non-200 answer, with what the body says."""
    kind, message = _kind_and_message(body)
    detail = f" ({kind}): {message}" if kind else (f": {message}" if message else "")
    where = {"method": method, "url": url}
    if status in (401, 403):
        said = detail.rstrip()
        said += "" if said.endswith((".", "!", "?")) else "."  # one full stop, not two
        return AuthenticationError(
            f"ittybit refused the API key, HTTP {status}{said} Set ITTYBIT_API_KEY "
            "(or pass api_key=) to a valid key for this project",
            status_code=status,
            kind=kind,
            **where,
        )
    if status == 404:
        return NotFoundError(
            f"not found, HTTP 404{detail} [{method} {url}]", status_code=404, kind=kind, **where
        )
    if status == 429:
        retry_after = retry_after_seconds(headers.get("retry-after"))
        return RateLimitError(
            f"rate limited, HTTP 429{detail}",
            retry_after=retry_after,
            status_code=429,
            kind=kind,
            **where,
        )
    if is_server_error(status):
        return ServerError(
            f"ittybit server error, HTTP {status}{detail} [{method} {url}]",
            retry_after=retry_after_seconds(headers.get("retry-after")),
            status_code=status,
            kind=kind,
            **where,
        )
    return APIError(
        f"HTTP {status}{detail} [{method} {url}]", status_code=status, kind=kind, **where
    )
