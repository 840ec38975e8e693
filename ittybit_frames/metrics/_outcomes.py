"""What fails and why: failure rates with the cascade, the most common errors."""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from functools import reduce

import numpy as np
import orjson
import pandas as pd

from ittybit_frames.metrics._common import (
    _as_str,
    _check_columns,
    _isin,
    _rows,
)
from ittybit_frames.metrics._time import bucket as time_bucket
from ittybit_frames.metrics._time import grain
from ittybit_frames.rules import (
    FAILED_TASKS,
    FAILURE_COUNTS,
    FAILURES,
    FINISHED,
    FINISHED_STATUSES,
    MIN_COUNT,
    OUTCOMES,
    RATE,
    STATUS,
    TOTAL_SECONDS,
    Outcome,
    check_tz,
    error_side,
    group_keys,
)


def failure_rate(
    jobs: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = "kind",
    freq: str | None = None,
    tz: str = "UTC",
) -> pd.DataFrame:
    """Share of finished jobs that failed, with the counts behind it.

    A job ``cancelled`` with a failed task was cancelled *by* that failure (the API
    reports "cancelled, or a sibling task failed"): it counts as a failure, in
    ``cancelled_by_failure``. A cancelled job without a failed task was cancelled by
    its user: ``cancelled_by_user``, not a failure (the cascade is
    :data:`ittybit_frames.rules.OUTCOMES`).

    ``freq`` (optional) splits by when jobs finished, in buckets as for
    :func:`ittybit_frames.metrics.throughput` (``"1D"``, ``"W"``, ``"M"``...), their edges
    in the time zone ``tz``.

    Returns
    -------
    DataFrame
        [group keys], [``bucket``], ``finished``, ``succeeded``, ``failed``,
        ``cancelled_by_failure``, ``cancelled_by_user``, ``failure_rate`` =
        (failed + cancelled_by_failure) / finished.
    """
    keys = group_keys(by)
    _check_columns(jobs, [STATUS, FAILED_TASKS, "finished_at", *keys], "failure_rate")
    size = grain(freq) if freq is not None else None
    tz = check_tz(tz)
    finished = _isin(jobs[STATUS], FINISHED_STATUSES)
    data = _rows(jobs, finished, [STATUS, FAILED_TASKS, "finished_at", *keys])
    # Columns from `data` itself: pandas gives an empty frame the index of an assigned
    # Series, which would bring filtered-out rows back.
    data = data.assign(**{k: _as_str(data[k]) for k in keys})
    # Plain numpy from here: nullable extension dtypes add nothing to 0/1 counts.
    status = data[STATUS].astype(str).to_numpy()
    task_failed = data[FAILED_TASKS].astype("Float64").fillna(0).to_numpy(float) > 0

    def has(outcome: Outcome) -> np.ndarray:
        mask: np.ndarray = status == outcome.status
        if outcome.task_failed is not None:
            mask &= task_failed == outcome.task_failed
        return mask.astype(int)

    data = data.assign(**{FINISHED: 1}, **{o.name: has(o) for o in OUTCOMES})
    group = list(keys)
    if size is not None:
        data = data.assign(bucket=time_bucket(data["finished_at"], size, tz))
        group.append("bucket")
    counts = list(FAILURE_COUNTS)
    if group:
        out = data.groupby(group, sort=True)[counts].sum().reset_index()
    else:
        out = data[counts].sum().to_frame().T.reset_index(drop=True)
    out[counts] = out[counts].astype("int64")
    out[RATE] = reduce(operator.add, (out[n] for n in FAILURES)) / out[FINISHED]
    return out


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_ID = re.compile(r"\b(?:job|task|run|evt|med|tsk|file|org|cus|conn|key)_[A-Za-z0-9]+\b")
_HEX = re.compile(r"\b[0-9a-f]{16,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:\.\d+)?")


def normalise_error(message: str) -> str:
    """An error message with URLs, IDs and numbers masked, so alike errors group.

    Examples
    --------
    >>> normalise_error("Input https://x.com/a.mp4 returned HTTP 404 for job_8dkn9dvq")
    'Input <url> returned HTTP <n> for <id>'
    """
    # A pattern that cannot match is not run: a URL needs "://", an ID "_" (the masks
    # put in neither). Most messages hold one of the two, and each scan costs.
    text = _URL.sub(_mask_url, message) if "://" in message else message
    if "_" in text:
        text = _ID.sub("<id>", text)
    text = _HEX.sub("<id>", text)
    return _NUMBER.sub("<n>", text).strip()


def _mask_url(match: re.Match[str]) -> str:
    """``<url>``, keeping trailing punctuation ("... from https://x/a.mp4: HTTP 403")."""
    url = match.group(0)
    return "<url>" + url[len(url.rstrip(".,:;)")) :]


def top_errors(frame: pd.DataFrame, *, n: int = 10, examples: int = 3) -> pd.DataFrame:
    """The most common error messages, normalised (IDs, URLs and numbers masked).

    Works on jobs (``kind``) and tasks (``job_kind``).

    Returns
    -------
    DataFrame
        ``error``, ``error_kind`` (most common), ``count``, ``share`` (of rows with an
        error), ``kinds`` (comma-separated), ``first_seen``, ``last_seen``,
        ``example_job_ids``.
    """
    _check_columns(frame, ["error_message", "job_id"], "top_errors")
    kind_col = "job_kind" if "job_kind" in frame.columns else "kind"
    time_col = "finished_at" if "finished_at" in frame.columns else "created_at"
    wanted = ["error_message", "error_kind", "job_id", kind_col, time_col]
    errors = _rows(frame, frame["error_message"].notna(), wanted)
    columns = [
        "error",
        "error_kind",
        "count",
        "share",
        "kinds",
        "first_seen",
        "last_seen",
        "example_job_ids",
    ]
    if errors.empty:
        return pd.DataFrame(columns=columns)
    data = errors.assign(error=errors["error_message"].astype(str).map(normalise_error))
    rows = []
    for error, part in data.groupby("error", sort=False):
        kinds = sorted(set(part[kind_col].astype(str)))
        error_kind = part["error_kind"].dropna()
        times = part[time_col].dropna()
        rows.append(
            {
                "error": error,
                "error_kind": error_kind.mode().iloc[0] if len(error_kind) else pd.NA,
                "count": len(part),
                "share": len(part) / len(data),
                "kinds": ", ".join(kinds),
                "first_seen": times.min() if len(times) else pd.NaT,
                "last_seen": times.max() if len(times) else pd.NaT,
                "example_job_ids": ", ".join(part["job_id"].astype(str).head(examples)),
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    return (
        out.sort_values(["count", "error"], ascending=[False, True]).head(n).reset_index(drop=True)
    )


def failure_causes(jobs: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Failed jobs by whose side the error is on (platform or user) and its kind.

    Counts the failures of the cascade (``failed`` and ``cancelled`` with a failed task);
    the side comes from :data:`ittybit_frames.rules.ERROR_SIDES`.

    Returns
    -------
    DataFrame
        [``by``], ``side``, ``error_kind``, ``failures``, ``share`` (of the group's
        failures), most failures first.
    """
    keys = group_keys(by)
    _check_columns(jobs, [STATUS, FAILED_TASKS, "error_kind", *keys], "failure_causes")
    task_failed = jobs[FAILED_TASKS].astype("Float64").fillna(0).to_numpy(float) > 0
    failed = _isin(jobs[STATUS], ["failed"]) | (_isin(jobs[STATUS], ["cancelled"]) & task_failed)
    data = _rows(jobs, failed, ["error_kind", *keys])
    kind = data["error_kind"].astype("string").fillna("(plain-text error)")
    frame = pd.DataFrame(
        {
            **{k: _as_str(data[k]).to_numpy() for k in keys},
            "side": data["error_kind"].map(error_side).to_numpy(),
            "error_kind": kind.to_numpy(),
        }
    )
    columns = [*keys, "side", "error_kind", "failures", "share"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    counts: pd.DataFrame = (
        frame.groupby([*keys, "side", "error_kind"], sort=False)
        .size()
        .rename("failures")
        .reset_index()
    )
    totals = (
        counts.groupby(keys)["failures"].transform("sum")
        if keys
        else pd.Series(counts["failures"].sum(), index=counts.index)
    )
    counts["share"] = counts["failures"] / totals
    ordered = counts.sort_values([*keys, "failures"], ascending=[True] * len(keys) + [False])
    return ordered[columns].reset_index(drop=True)


def by_customer(
    jobs: pd.DataFrame, *, key: str = "customer_id", min_count: int = MIN_COUNT
) -> pd.DataFrame:
    """Per customer (a key of the jobs' ``metadata``): volume, failures, slowness.

    Returns
    -------
    DataFrame
        ``customer`` (the metadata value; ``"(none)"`` without one), ``jobs``,
        ``finished``, ``failure_rate``, ``user_side`` (share of the failures that are the
        customer's own), ``p95_total_seconds``, ``main_error``, ``low_count`` (fewer than
        ``min_count`` finished jobs: rates shown, but flagged), most jobs first.
    """
    _check_columns(jobs, ["metadata", "error_kind", "error_message", TOTAL_SECONDS], "by_customer")
    customer = jobs["metadata"].map(lambda text: _metadata_value(text, key))
    data = jobs.assign(customer=customer.to_numpy())
    rates = failure_rate(data, by="customer").set_index("customer")
    causes = failure_causes(data, by="customer")
    user = causes[causes["side"] == "user"].groupby("customer")["share"].sum()
    rows = []
    for name, part in data.groupby("customer", sort=False):
        errors = part["error_message"].dropna().astype(str).map(normalise_error)
        finished = int(rates[FINISHED].get(name, 0))
        rows.append(
            {
                "customer": name,
                "jobs": len(part),
                "finished": finished,
                "failure_rate": float(rates[RATE].get(name, np.nan)),
                "user_side": float(user.get(name, 0.0)) if finished else np.nan,
                "p95_total_seconds": float(part[TOTAL_SECONDS].quantile(0.95)),
                "main_error": errors.value_counts().index[0] if len(errors) else "",
                "low_count": finished < min_count,
            }
        )
    out = pd.DataFrame(rows, columns=list(_BY_CUSTOMER)).astype(_BY_CUSTOMER)  # none: empty
    return out.sort_values(["jobs", "customer"], ascending=[False, True]).reset_index(drop=True)


_BY_CUSTOMER: dict[str, str] = {
    "customer": "object",
    "jobs": "int64",
    "finished": "int64",
    "failure_rate": "float64",
    "user_side": "float64",
    "p95_total_seconds": "float64",
    "main_error": "object",
    "low_count": "bool",
}


def _metadata_value(text: object, key: str) -> str:
    """``metadata[key]`` from the column's JSON text (``"(none)"`` when absent)."""
    if not isinstance(text, str):
        return "(none)"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "(none)"
    found = value.get(key) if isinstance(value, dict) else None
    return "(none)" if found is None else str(found)
