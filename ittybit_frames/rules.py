"""Each metric rule stated once, as data, for the three engines.

:mod:`ittybit_frames.metrics` (pandas), :mod:`ittybit_frames.sql` (SQL text for DuckDB
and Spark SQL, built from these definitions) and :mod:`ittybit_frames.spark` (PySpark)
take their rules from here, so the engines cannot drift apart:

- which statuses mean a job is finished (:data:`FINISHED_STATUSES`);
- how a finished job's outcome is decided, the failure cascade (:data:`OUTCOMES`), and
  which outcomes count as failures (:data:`FAILURES`);
- the output columns of ``failure_rate`` (:data:`FAILURE_RATE_COLUMNS`);
- the group size below which percentiles are flagged (:data:`MIN_COUNT`);
- the duration columns (:data:`DURATIONS`) and how a percentile column is named
  (:func:`percentile_name`);
- which ``tz=`` names a bucket function accepts (:func:`check_tz`).

Pure Python: importing it needs neither pandas nor pyspark.

Examples
--------
>>> [o.name for o in OUTCOMES if o.failure]
['failed', 'cancelled_by_failure']
>>> [percentile_name(q) for q in PERCENTILES]
['p50', 'p90', 'p95', 'p99']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from ittybit_frames.vocabulary import STATUSES, TERMINAL_STATUSES

__all__ = [
    "DURATIONS",
    "ERROR_SIDES",
    "FAILED_TASKS",
    "FAILURES",
    "FAILURE_COUNTS",
    "FAILURE_RATE_COLUMNS",
    "FINISHED",
    "FINISHED_STATUSES",
    "LATENCIES",
    "MIN_COUNT",
    "OUTCOMES",
    "PERCENTILES",
    "RATE",
    "STATUS",
    "SUMMARY_PERCENTILES",
    "TOTAL_SECONDS",
    "UNKNOWN_SIDE",
    "Outcome",
    "check_tz",
    "error_side",
    "group_keys",
    "percentile_name",
]

#: The jobs column holding the canonical status.
STATUS = "status"
#: The jobs column counting a job's failed tasks (a missing count means none).
FAILED_TASKS = "failed_task_count"

#: Statuses of a finished job, in pipeline order: ``('succeeded', 'failed', 'cancelled')``.
FINISHED_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s in TERMINAL_STATUSES)


@dataclass(frozen=True)
class Outcome:
    """One way a finished job ends; each is a count column of ``failure_rate``.

    A job has this outcome when its status is ``status`` and, if ``task_failed`` is set,
    it had (``True``) or had not (``False``) a failed task (``failed_task_count > 0``,
    a missing count read as 0). ``failure`` says whether the outcome counts as a failure.
    """

    name: str
    status: str
    task_failed: bool | None = None
    failure: bool = False


#: The failure cascade: every finished job has exactly one of these outcomes. A job
#: ``cancelled`` with a failed task was cancelled *by* that failure (the API reports
#: "cancelled, or a sibling task failed"), so it counts as a failure; a cancelled job
#: without one was cancelled by its user, which is not a failure.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome("succeeded", "succeeded"),
    Outcome("failed", "failed", failure=True),
    Outcome("cancelled_by_failure", "cancelled", task_failed=True, failure=True),
    Outcome("cancelled_by_user", "cancelled", task_failed=False),
)
#: The outcomes that count as failures.
FAILURES: tuple[str, ...] = tuple(o.name for o in OUTCOMES if o.failure)
#: Count column of all finished jobs (the denominator of the failure rate).
FINISHED = "finished"
#: Rate column: sum of :data:`FAILURES` over :data:`FINISHED`.
RATE = "failure_rate"
#: The count columns of ``failure_rate``, in output order.
FAILURE_COUNTS: tuple[str, ...] = (FINISHED, *(o.name for o in OUTCOMES))
#: The columns of ``failure_rate`` after its group keys (and time bucket).
FAILURE_RATE_COLUMNS: tuple[str, ...] = (*FAILURE_COUNTS, RATE)

#: Groups smaller than this are flagged ``low_count`` (their percentiles are shaky).
MIN_COUNT = 20

#: Whose side an error kind is on: ``"user"`` (what was sent, or where the output goes,
#: needs fixing by the customer) or ``"platform"`` (ittybit's workers or encoders).
#: Kinds not listed, and plain-text errors, are ``"unknown"``.
ERROR_SIDES: dict[str, str] = {
    # the customer's input, request or destination
    "format_unsupported": "user",
    "invalid_input": "user",
    "input_corrupt": "user",
    "codec_unsupported": "user",
    "download_failed": "user",
    "export_failed": "user",
    "url_required": "user",
    "request_invalid": "user",
    "payment_required": "user",
    # the platform's workers and encoders
    "internal_error": "platform",
    "encode_failed": "platform",
    "encoder_crashed": "platform",
    "worker_lost": "platform",
    "timeout": "platform",
}
#: The side of an error kind that :data:`ERROR_SIDES` does not know.
UNKNOWN_SIDE = "unknown"


def error_side(kind: object) -> str:
    """``"user"``, ``"platform"`` or ``"unknown"`` for an ``error_kind`` value."""
    return ERROR_SIDES.get(kind, UNKNOWN_SIDE) if isinstance(kind, str) else UNKNOWN_SIDE


#: Seconds from creation to finish: the job's whole time.
TOTAL_SECONDS = "total_seconds"
#: The duration columns of jobs and tasks (schema columns, unit seconds).
DURATIONS: tuple[str, ...] = ("queue_seconds", "processing_seconds", TOTAL_SECONDS)
#: The durations followed over time by default: waiting, then working.
LATENCIES: tuple[str, ...] = DURATIONS[:2]

#: Default percentiles of a duration summary.
PERCENTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)
#: The short list: median and tail (latency over time, the standard SQL, real-time factor).
SUMMARY_PERCENTILES: tuple[float, ...] = (0.5, 0.95)


def percentile_name(q: float) -> str:
    """The column name of the ``q`` quantile: ``p50``, ``p95``, ``p99.9``.

    Examples
    --------
    >>> percentile_name(0.95), percentile_name(0.999)
    ('p95', 'p99.9')
    """
    return f"p{round(q * 100, 3):g}"


def group_keys(by: str | Sequence[str] | None) -> list[str]:
    """``by`` as a list of column names (``None``: no grouping).

    Examples
    --------
    >>> group_keys(None), group_keys("kind"), group_keys(("kind", "status"))
    ([], ['kind'], ['kind', 'status'])
    """
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def check_tz(tz: str) -> str:
    """A zone name the bucket functions of every engine accept; ``ValueError`` naming
    examples if not (checked before any engine runs).

    Examples
    --------
    >>> check_tz("Europe/Berlin")
    'Europe/Berlin'
    """
    if isinstance(tz, str) and (tz == "UTC" or tz in _zones()):
        return tz
    raise ValueError(
        f"tz={tz!r} is not a time zone: use an IANA name such as 'UTC', 'Europe/Berlin' "
        "or 'America/New_York'"
    )


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())
