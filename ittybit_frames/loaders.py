"""``read_jobs``: fetch jobs from the API and return them as typed frames.

The glue between :mod:`ittybit_frames.client` (network) and
:mod:`ittybit_frames.frames` (pure transformation).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from typing import Any

from ittybit_frames.client import Client, FetchResult, ndjson_parts
from ittybit_frames.errors import ConfigurationError, EmptyWindowWarning, empty_window_message
from ittybit_frames.frames import JobFrames, to_frames_in_parts
from ittybit_frames.vocabulary import (
    category,
    created_ms,
    listing_filters,
    parse_when,
    parse_window,
)

__all__ = ["listing_filters", "read_jobs"]


def read_jobs(
    ids: Iterable[str] | None = None,
    *,
    kind: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    client: Client | None = None,
    **client_options: Any,
) -> JobFrames:
    """Fetch jobs (by ID, or by walking the listing) into typed DataFrames.

    Parameters
    ----------
    ids : iterable of str, optional
        Job IDs to fetch. Without them, the listing is walked (newest first).
    kind, status : str, optional
        Only jobs of this kind / status: a canonical word (``video``, ``failed``...) or
        any version's (``ready``), as ``JobFrames.subset`` takes them; an unknown word
        is a ``ValueError`` before any request.
    since, until : datetime, str or int, optional
        Only jobs created in ``[since, until)``: ISO dates or times, epoch values, or
        spans back from now such as ``"7d"``.
    client : Client, optional
        A client to use (it stays open). Default: a new one from ``client_options``.
    **client_options
        Passed to :class:`Client` (``api_key``, ``base_url``, ``concurrency``...).

    Returns
    -------
    JobFrames
        ``failures`` lists the IDs that could not be fetched (when listing: the listed
        jobs whose tasks could not be fetched; they are kept as listed).

    Examples
    --------
    >>> from ittybit_frames.simulator import generate_history, serve
    >>> with serve(generate_history(30)) as api:
    ...     frames = read_jobs(api_key=api.api_key, base_url=api.url, progress=False)
    >>> len(frames)
    30
    """
    if client is not None and client_options:
        raise ConfigurationError("pass either client= or client options, not both")
    kind = None if kind is None else category(kind, field="kind")
    status = None if status is None else category(status, field="status")
    parse_window(since, until)  # a swapped window is refused before any request
    own = client is None
    active = client if client is not None else Client(**client_options)
    try:
        if ids is not None:
            # Converted while the rest are fetched, in the order of the IDs.
            done: list[FetchResult] = []
            with contextlib.closing(active._fetch_in_order(ids, done)) as fetched:
                frames = to_frames_in_parts(ndjson_parts(fetched))
            frames = frames.subset(kind=kind, status=status, since=since, until=until)
            frames.failures = done[0].failures
        else:
            before = len(active.walk_failures)
            # Converted while the walk goes on (the walk runs ahead, not held up by the
            # conversion): each page's jobs as NDJSON, read in pieces as they come.
            # Closed here, whatever stops the conversion.
            by_kind, by_status, kept = listing_filters(kind, status)
            pages = active._pages_ahead(kind=by_kind, status=by_status, since=since, until=until)
            with contextlib.closing(pages):
                frames = to_frames_in_parts(ndjson_parts(pages))
            if kept:
                frames = frames.subset(**kept)
            frames.failures = active.walk_failures.iloc[before:].reset_index(drop=True)
            if frames.jobs.empty and (since is not None or until is not None):
                _say_the_window_is_empty(active, since, until)
    finally:
        if own:
            active.close()
    return frames


def empty_window_hint(client: Client, since: Any, until: Any) -> str | None:
    """Why a listing window found nothing: when the newest job the API lists was created.

    One request (a page of one job). ``None`` when the API lists no job at all.
    """
    newest = next((job for page in client.iter_pages(page_size=1) for job in page), None)
    created = created_ms(newest) if newest is not None else None
    if created is None:
        return None
    return empty_window_message(
        parse_when(since),
        parse_when(until),
        None,
        created,
        "the newest job the API lists was created",
    )


def _say_the_window_is_empty(client: Client, since: Any, until: Any) -> None:
    """Warn (EmptyWindowWarning) naming when the newest job the API lists was created."""
    message = empty_window_hint(client, since, until)
    if message is not None:
        warnings.warn(message, EmptyWindowWarning, stacklevel=3)
