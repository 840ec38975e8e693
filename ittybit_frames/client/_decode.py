"""Answers into Python: JSON bodies decoded, error answers mapped to the error tree."""

from __future__ import annotations

import gc
import re
from typing import Any

import httpx
import orjson

from ittybit_frames.client._retry import is_server_error, retry_after_seconds
from ittybit_frames.errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

__all__ = ["error_from_response", "job_object", "loads"]

_LONG_NUMBER = re.compile(rb"\d{19,}")


def loads(body: bytes) -> Any:
    """Decode a JSON body; integers beyond 64 bits stay exact.

    Raises
    ------
    ValueError
        The body is not JSON (orjson's and json's decode errors are both ValueErrors).
    """
    # Parsing many small objects is 2-3x faster with the cyclic GC paused: it would
    # otherwise run over and over on the containers we are creating.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if _LONG_NUMBER.search(body):
            # orjson reads integers beyond 64 bits as floats (losing digits): the stdlib
            # keeps them exact. Only bodies with such long digit runs pay for it.
            import json  # noqa: PLC0415

            return json.loads(body)
        return orjson.loads(body)
    finally:
        if was_enabled:
            gc.enable()


def job_object(payload: Any, job_id: str, url: str) -> dict[str, Any]:
    """The job in a ``GET /jobs/{id}`` answer, bare or in a ``{meta, data}`` envelope."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = payload["data"]  # 2024/2025 envelope {meta, data}
    if not isinstance(payload, dict):
        raise APIError(
            f"expected a job object from GET /jobs/{job_id}, got {type(payload).__name__}",
            status_code=200,
            kind="bad_payload",
            method="GET",
            url=url,
        )
    return payload


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


def error_from_response(response: httpx.Response, body: bytes, method: str, url: str) -> APIError:
    """The :class:`APIError` subclass for a non-200 answer, with what the body says."""
    status = response.status_code
    kind, message = _kind_and_message(body)
    detail = f" ({kind}): {message}" if kind else (f": {message}" if message else "")
    where = {"method": method, "url": url}
    if status in (401, 403):
        return AuthenticationError(
            f"ittybit refused the API key, HTTP {status}{detail}. Set ITTYBIT_API_KEY "
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
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
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
            status_code=status,
            kind=kind,
            **where,
        )
    return APIError(
        f"HTTP {status}{detail} [{method} {url}]", status_code=status, kind=kind, **where
    )
