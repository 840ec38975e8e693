"""What the client hands back: :class:`FetchResult` and the :class:`ClientStats` counters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ittybit_frames.schema import counted, describe_failures

__all__ = ["ClientStats", "FetchResult", "Stopwatch"]


@dataclass
class ClientStats:
    """Counters of one client's work. Never contains the API key.

    Attributes
    ----------
    requests : int
        HTTP requests sent (each retry counts).
    retries : int
        Requests that were repeats of a failed one.
    rate_limited : int
        429 answers received.
    waited_seconds : float
        Time spent waiting between attempts (backoff and ``Retry-After``) and for the
        client-side rate limit.
    failures : int
        Requests that failed for good (after retries).
    elapsed_seconds : float
        Wall time spent inside the client's public methods.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    failures: int = 0
    elapsed_seconds: float = 0.0


class Stopwatch:
    """Adds wall time to ``stats.elapsed_seconds`` once, however many calls overlap or nest."""

    def __init__(self, stats: ClientStats) -> None:
        self._stats = stats
        self._active = 0
        self._since = 0.0

    def running(self) -> Stopwatch:
        """Count the time spent in this ``with`` block (and in overlapping ones) once.

        The stopwatch is its own context manager, not a generator-based one: it is
        entered for every page of a walk, and a class's ``__enter__`` costs a fraction.
        """
        return self

    def __enter__(self) -> None:
        if self._active == 0:
            self._since = time.monotonic()
        self._active += 1

    def __exit__(self, *exc: object) -> None:
        self._active -= 1
        if self._active == 0:
            self._stats.elapsed_seconds += time.monotonic() - self._since


@dataclass
class FetchResult:
    """What :meth:`Client.fetch_jobs` returns.

    Attributes
    ----------
    jobs : list of dict
        Fetched jobs, in the order their IDs were first given, each once.
    failures : pandas.DataFrame
        One row per ID that could not be fetched: ``job_id``, ``status_code`` (NA for
        network errors and invalid IDs), ``kind``, ``message``.
    stats : ClientStats
        The client's counters when the fetch ended.
    """

    jobs: list[dict[str, Any]]
    failures: pd.DataFrame
    stats: ClientStats = field(default_factory=ClientStats)

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        # A summary: the payloads can be megabytes (they are in .jobs).
        stats = self.stats
        return (
            f"FetchResult({counted(len(self.jobs), 'job')}, {describe_failures(self.failures)};"
            f" {counted(stats.requests, 'request')}, {counted(stats.retries, 'retry', 'retries')}"
            f" in {stats.elapsed_seconds:.1f} s)"
        )
