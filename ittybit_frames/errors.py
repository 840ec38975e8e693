"""Exceptions raised by ittybit-frames.

Every error is an :class:`IttybitError`. The tree::

    IttybitError
    ├── ConfigurationError      (also ValueError)  bad settings: no key, unsafe URL, bad option
    ├── InvalidJobIdError       (also ValueError)  a job ID that could change the request path
    ├── SchemaError             (also ValueError)  a payload problem under ``strict=True``
    ├── LakeError                                   the Parquet lake cannot be used as it is
    │   ├── LakeCorruptError                        its manifest is unreadable or foreign
    │   └── LakeLockedError                         another writer holds it (``holder``)
    ├── ClientClosedError                           the client was closed while a call used it
    ├── NetworkError                                connection refused/dropped, timeout, bad body
    └── APIError                                    the API answered with an error status
        ├── AuthenticationError                     401 / 403: the key is missing or wrong
        ├── NotFoundError                           404: no such job
        ├── PaginationError                         the listing repeats itself: the walk stops
        ├── RateLimitError                          429: slow down (``retry_after`` seconds)
        └── ServerError                             408 and 5xx: the API is having trouble

Errors that come from a request carry ``method`` and ``url`` (never headers, so never
the API key) and, where the API sent one, its ``kind`` and ``message``.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "EmptyWindowWarning",
    "InvalidJobIdError",
    "IttybitError",
    "LakeCorruptError",
    "LakeError",
    "LakeLockedError",
    "NetworkError",
    "NotFoundError",
    "PaginationError",
    "RateLimitError",
    "SchemaError",
    "ServerError",
    "empty_window_message",
]


class IttybitError(Exception):
    """Base class of every error raised by ittybit-frames."""


class ConfigurationError(IttybitError, ValueError):
    """A setting is missing or unusable (no API key, an unsafe base URL, a bad option)."""


class InvalidJobIdError(IttybitError, ValueError):
    """A job ID contains characters that could change the request path."""


class SchemaError(IttybitError, ValueError):
    """A payload did not fit the schema and ``strict=True`` was asked for."""


class LakeError(IttybitError):
    """The Parquet lake at ``path`` cannot be used as it is."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class LakeCorruptError(LakeError):
    """The lake's manifest is unreadable or not ours; ``ittybit-frames check --repair``."""


class LakeLockedError(LakeError):
    """Another writer held the lake for longer than ``lock_timeout``.

    Attributes
    ----------
    holder : dict
        What the holder recorded on acquisition: ``pid``, ``host``, ``since`` (ISO UTC);
        empty when it had not recorded it yet.
    """

    def __init__(self, message: str, *, path: str = "", holder: dict[str, object]) -> None:
        super().__init__(message, path=path)
        self.holder = holder


class ClientClosedError(IttybitError):
    """The client was closed (``close()``) while a call or a walk of it was under way: a
    call under way in another thread stops; a walk (``iter_jobs``, ``iter_pages``) read on
    after the close says so. A new walk needs a new call (or a new client)."""


class _RequestError(IttybitError):
    """An error tied to one HTTP request."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url


class NetworkError(_RequestError):
    """The request did not get a usable answer: connection error, timeout, truncated body."""


class APIError(_RequestError):
    """The API answered with an error status.

    Attributes
    ----------
    status_code : int
        HTTP status of the answer.
    kind : str or None
        The API's machine-readable error kind (``job_not_found``, ``token_invalid``...).
    message : str
        What went wrong and what to do next.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        kind: str | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.kind = kind


class AuthenticationError(APIError):
    """401/403: the API key is missing, wrong, or lacks access. Stops a whole run."""


class NotFoundError(APIError):
    """404: the job does not exist (or belongs to another project)."""


class PaginationError(APIError):
    """The job listing cannot be walked to its end: the server gave a next link or cursor
    already followed, or a page holding only jobs already seen (it ignores the cursor,
    or loops). The walk stops instead of running forever; the message says what the
    server did."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the server's requested wait, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(APIError):
    """408 or 5xx: a transient failure on the API side. ``retry_after`` is the server's
    requested wait in seconds, if it sent ``Retry-After`` (503 often does)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class EmptyWindowWarning(UserWarning):
    """A ``since``/``until`` window matched no job, although there are jobs elsewhere."""


def empty_window_message(
    since_ms: float | None,
    until_ms: float | None,
    first_ms: float | None,
    last_ms: float,
    where: str,
) -> str:
    """``"no jobs created since 2026-11-24 00:00 UTC; the lake covers 2026-10-01 to 2026-10-30"``.

    ``where`` names the data with its verb: ``"the lake covers"``, ``"the frames cover"``;
    without ``first_ms`` only the newest is known: ``"the newest job the API lists was
    created"`` 2026-10-30.
    """
    import datetime as dt  # noqa: PLC0415  (only when a window came back empty)

    def day(ms: float, *, minutes: bool = False) -> str:
        moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        return f"{moment:%Y-%m-%d %H:%M} UTC" if minutes else f"{moment:%Y-%m-%d}"

    if since_ms is not None and until_ms is not None:
        window = f"between {day(since_ms, minutes=True)} and {day(until_ms, minutes=True)}"
    elif since_ms is not None:
        window = f"since {day(since_ms, minutes=True)}"
    else:
        window = f"before {day(until_ms or 0, minutes=True)}"
    if first_ms is None:
        return f"no jobs created {window}; {where} {day(last_ms, minutes=True)}"
    return f"no jobs created {window}; {where} {day(first_ms)} to {day(last_ms)}"
