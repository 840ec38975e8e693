"""Incidents: windows where queue wait or failure rate far exceed their usual level.

Both signals are read per time bucket and compared with a *usual level* that one bad
stretch cannot move: for queue wait, the median over the buckets that hold enough jobs
of each bucket's p95; for failures, the pooled rate of the calmer three quarters of
those buckets (a median of rates is zero when failures are rare). A bucket is unusual
when its value is at least ``factor`` times the usual level (for failures, with at
least ``min_failures`` failures in it); neighbouring unusual buckets (gaps of at most
``gap`` buckets) join into one incident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ittybit_frames.metrics._common import _as_str, _check_columns, _rows
from ittybit_frames.metrics._outcomes import failure_rate, normalise_error
from ittybit_frames.metrics._time import bucket as time_bucket
from ittybit_frames.metrics._time import grain, next_start
from ittybit_frames.rules import FAILED_TASKS, FAILURES, FINISHED, RATE, STATUS, check_tz

#: The columns of :func:`incidents`, in order.
INCIDENT_COLUMNS = (
    "signal",
    "group",
    "start",
    "end",
    "buckets",
    "jobs",
    "peak",
    "usual",
    "ratio",
    "failures",
    "main_error",
    "main_error_kind",
)


@dataclass(frozen=True)
class _Thresholds:
    factor: float
    min_jobs: int
    min_failures: int
    gap: int
    floor: float = 0.0  # queue: the smallest p95 wait (s) that can be an incident
    significance: float = 1.0  # failures: the largest chance probability


def incidents(
    jobs: pd.DataFrame,
    *,
    freq: str = "1h",
    queue_factor: float = 5.0,
    failure_factor: float = 3.0,
    min_jobs: int = 10,
    min_failures: int = 3,
    min_wait: float = 60.0,
    significance: float = 1e-5,
    failures_by: str | None = "kind",
    queue_by: str | None = None,
    gap: int = 1,
    tz: str = "UTC",
) -> pd.DataFrame:
    """Stretches of time when jobs waited far longer, or failed far more, than usual.

    ``jobs`` is the jobs table; ``freq`` and ``tz`` cut time into buckets as for
    :func:`throughput` (default: hours, UTC).

    Parameters
    ----------
    queue_factor : float, default 5
        A bucket whose p95 queue wait (jobs placed by ``created_at``) is at least this
        many times the usual p95 is unusual.
    failure_factor : float, default 3
        A bucket whose failure rate (jobs placed by ``finished_at``, the cascade of
        :func:`failure_rate`) is at least this many times the usual rate is unusual.
    min_jobs : int, default 10
        Buckets with fewer jobs are neither judged nor used for the usual level.
    min_failures : int, default 3
        A bucket counts towards a failure incident only with at least this many
        failures (a single unlucky failure in a quiet hour is no incident).
    min_wait : float, default 60
        A queue incident needs a p95 wait of at least this many seconds, whatever the
        usual level (a wait of two seconds where one is usual is no incident).
    significance : float, default 1e-5
        A failure bucket counts only if its failures are this unlikely at the usual rate
        (binomial tail): a few unlucky failures in a small bucket are no incident.
    failures_by, queue_by : str or None
        Judge each group of this column on its own (``"kind"``: a bad release of one
        kind's encoder); ``None`` judges all jobs together.
    gap : int, default 1
        Unusual buckets at most this many buckets apart form one incident.

    Returns
    -------
    DataFrame
        One row per incident, oldest first: ``signal`` (``"queue_wait"`` or
        ``"failure_rate"``), ``group`` (the group's value, or ``"all"``), ``start``,
        ``end`` (bucket edges), ``buckets``, ``jobs`` (in the window), ``peak`` (the worst
        bucket's p95 seconds or rate), ``usual``, ``ratio`` (peak / usual; inf when the
        usual level is zero), ``failures``, and for failure incidents ``main_error`` (the
        most common normalised message in the window) and ``main_error_kind``.
    """
    _check_columns(jobs, ["created_at", "finished_at", "queue_seconds", STATUS], "incidents")
    size, tz = grain(freq), check_tz(tz)
    rows = [
        *_queue_incidents(
            jobs,
            size.text,
            tz,
            queue_by,
            _Thresholds(queue_factor, min_jobs, 0, gap, floor=min_wait),
        ),
        *_failure_incidents(
            jobs,
            size.text,
            tz,
            failures_by,
            _Thresholds(failure_factor, min_jobs, min_failures, gap, significance=significance),
        ),
    ]
    out = pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
    stamp = pd.DatetimeTZDtype("ms", tz)
    out = out.astype({"start": stamp, "end": stamp})
    return out.sort_values(["start", "signal", "group"]).reset_index(drop=True)


def _groups(frame: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None:
        return [("all", frame)]
    _check_columns(frame, [by], "incidents")
    keys = _as_str(frame[by]).fillna("unknown")
    return [(str(k), part) for k, part in frame.groupby(keys.to_numpy(), sort=True)]


def _windows(flagged: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Runs of flagged positions, joined across gaps of at most ``gap`` positions."""
    spans: list[tuple[int, int]] = []
    for i in np.flatnonzero(flagged):
        if spans and i - spans[-1][1] <= gap + 1:
            spans[-1] = (spans[-1][0], int(i))
        else:
            spans.append((int(i), int(i)))
    return spans


def _queue_incidents(
    jobs: pd.DataFrame, freq: str, tz: str, by: str | None, t: _Thresholds
) -> list[dict[str, object]]:
    mask = jobs["created_at"].notna() & jobs["queue_seconds"].notna()
    data = _rows(jobs, mask, ["created_at", "queue_seconds", *([by] if by else [])])
    rows: list[dict[str, object]] = []
    for group, part in _groups(data, by):
        buckets = time_bucket(part["created_at"], freq, tz)
        stats = (
            part["queue_seconds"]
            .groupby(buckets.to_numpy())
            .agg(count="size", p95=lambda s: float(np.quantile(s.to_numpy(float), 0.95)))
        )
        stats = stats[stats["count"] >= t.min_jobs]
        if len(stats) < 3:
            continue  # no usual level to speak of
        usual = float(stats["p95"].median())
        flagged = (stats["p95"] >= max(t.factor * usual, t.floor)).to_numpy()
        for lo, hi in _windows(flagged, t.gap):
            window = stats.iloc[lo : hi + 1]
            rows.append(
                _row(
                    "queue_wait",
                    group,
                    window.index[0],
                    window.index[-1],
                    freq,
                    tz,
                    len(window),
                    int(window["count"].sum()),
                    float(window["p95"].max()),
                    usual,
                )
            )
    return rows


def _failure_incidents(
    jobs: pd.DataFrame, freq: str, tz: str, by: str | None, t: _Thresholds
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    wanted = [STATUS, FAILED_TASKS, "finished_at", "error_message", "error_kind"]
    data = _rows(jobs, slice(None), [*wanted, *([by] if by else [])])
    for group, part in _groups(data, by):
        rates = failure_rate(part, by=None, freq=freq, tz=tz).set_index("bucket")
        failed = rates[list(FAILURES)].sum(axis=1)
        enough = rates[FINISHED] >= t.min_jobs
        if enough.sum() < 3:
            continue
        usual = _usual_rate(rates[enough], failed[enough])
        high = rates[RATE] >= t.factor * usual if usual > 0 else failed > 0
        flagged = (enough & high & (failed >= t.min_failures)).to_numpy()
        chance = _chance(failed.to_numpy(), rates[FINISHED].to_numpy(), usual, flagged)
        flagged = flagged & (chance <= t.significance)
        for lo, hi in _windows(flagged, t.gap):
            window = rates.iloc[lo : hi + 1]
            row = _row(
                "failure_rate",
                group,
                window.index[0],
                window.index[-1],
                freq,
                tz,
                int(window[FINISHED].gt(0).sum()),
                int(window[FINISHED].sum()),
                float(window.loc[window[FINISHED] >= t.min_jobs, RATE].max()),
                usual,
            )
            row["failures"] = int(failed.iloc[lo : hi + 1].sum())
            row.update(_main_error(part, window.index[0], next_start(window.index[-1], freq, tz)))
            rows.append(row)
    return rows


def _chance(failed: np.ndarray, finished: np.ndarray, rate: float, where: np.ndarray) -> np.ndarray:
    """P(at least ``failed`` of ``finished`` fail) at ``rate``, for the ``where`` buckets."""
    out = np.ones(len(failed))
    if rate <= 0:
        out[where] = 0.0  # failures where none are usual
        return out
    log_p, log_q = math.log(rate), math.log1p(-rate) if rate < 1 else -math.inf
    for i in np.flatnonzero(where):
        n, k = int(finished[i]), int(failed[i])
        ks = np.arange(k, n + 1)
        log_terms = (
            math.lgamma(n + 1)
            - np.array([math.lgamma(x + 1) + math.lgamma(n - x + 1) for x in ks])
            + ks * log_p
            + (n - ks) * log_q
        )
        out[i] = float(np.exp(log_terms).sum())
    return out


def _usual_rate(rates: pd.DataFrame, failed: pd.Series) -> float:
    """The pooled failure rate of the buckets at or below the 75th percentile of rates.

    A median of bucket rates is zero when failures are rare (most buckets have none);
    the pooled rate over all buckets is lifted by the incident itself. Pooling the
    quieter three quarters is neither.
    """
    calm = rates[RATE] <= rates[RATE].quantile(0.75)
    finished = int(rates.loc[calm, FINISHED].sum())
    return float(failed[calm].sum()) / finished if finished else 0.0


def _row(
    signal: str, group: str, first: pd.Timestamp, last: pd.Timestamp, freq: str, tz: str,
    buckets: int, count: int, peak: float, usual: float,
) -> dict[str, object]:  # fmt: skip
    return {
        "signal": signal,
        "group": group,
        "start": first,
        "end": next_start(last, freq, tz),
        "buckets": buckets,
        "jobs": count,
        "peak": peak,
        "usual": usual,
        "ratio": peak / usual if usual > 0 else np.inf,
        "failures": pd.NA,
        "main_error": pd.NA,
        "main_error_kind": pd.NA,
    }


def _main_error(jobs: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, object]:
    inside = jobs[(jobs["finished_at"] >= start) & (jobs["finished_at"] < end)]
    errors = inside[inside["error_message"].notna()] if "error_message" in inside else inside[:0]
    if errors.empty:
        return {}
    messages = errors["error_message"].astype(str).map(normalise_error)
    top = messages.value_counts().index[0]
    kinds = errors.loc[messages == top, "error_kind"].dropna() if "error_kind" in errors else []
    return {
        "main_error": top,
        "main_error_kind": str(pd.Series(kinds).mode().iloc[0]) if len(kinds) else pd.NA,
    }
