"""The standard questions about a job history, one function each.

Pure pandas/numpy over the frames of :func:`ittybit_frames.to_frames` (or
:func:`ittybit_frames.read_parquet`): no I/O, no plotting. Every function returns a tidy
DataFrame and never changes its input.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from ittybit_frames.rules import (
    DURATIONS,
    FAILED_TASKS,
    FAILURE_COUNTS,
    FAILURES,
    FINISHED,
    FINISHED_STATUSES,
    LATENCIES,
    MIN_COUNT,
    OUTCOMES,
    PERCENTILES,
    RATE,
    STATUS,
    SUMMARY_PERCENTILES,
    TOTAL_SECONDS,
    Outcome,
    group_keys,
    percentile_name,
)
from ittybit_frames.schema import epoch_ms_array
from ittybit_frames.vocabulary import parse_when

__all__ = [
    "ENCODE_KINDS",
    "duration_summary",
    "failure_rate",
    "in_flight",
    "latency_over_time",
    "realtime_factor",
    "sla",
    "stage_breakdown",
    "stuck",
    "throughput",
    "top_errors",
]

#: Task kinds that are the encode stage of the pipeline.
ENCODE_KINDS = ("video", "audio", "image", "animation", "adaptive_video")


def _equals(series: pd.Series, value: str) -> np.ndarray:
    """``series == value`` as a numpy mask; on categoricals it compares codes."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
        if value not in categories:
            return np.zeros(len(series), dtype=bool)
        mask: np.ndarray = series.cat.codes.to_numpy() == categories.index(value)
        return mask
    return (series.astype(str) == value).to_numpy()


def _codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes and the values they stand for (categoricals: no string work)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return codes, list(series.cat.categories)
    factorized, uniques = pd.factorize(series, sort=True)
    return factorized.astype(np.int64), list(uniques)


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs the columns {missing}: pass the frames' jobs (or tasks) table"
        )


def _as_str(series: pd.Series) -> pd.Series:
    """Group keys as plain strings: categoricals would add empty groups everywhere."""
    out: pd.Series = (
        series.astype("string") if isinstance(series.dtype, pd.CategoricalDtype) else series
    )
    return out


def _bucketed(jobs: pd.DataFrame, on: str, freq: str, tz: str) -> pd.Series:
    times = jobs[on]
    if tz != "UTC":
        times = times.dt.tz_convert(tz)
    floored: pd.Series = times.dt.floor(freq)
    return floored


def throughput(
    jobs: pd.DataFrame,
    *,
    freq: str = "1h",
    by: str | None = None,
    on: str = "finished_at",
    tz: str = "UTC",
) -> pd.DataFrame:
    """Jobs per time bucket.

    Parameters
    ----------
    jobs : DataFrame
        The jobs table.
    freq : str, default "1h"
        Bucket size (a pandas frequency: ``"15min"``, ``"1h"``, ``"1D"``).
    by : str, optional
        Split each bucket by this column (``"status"``, ``"kind"``).
    on : str, default "finished_at"
        Which timestamp places a job in a bucket (``created_at`` for arrivals).
    tz : str, default "UTC"
        Time zone of the bucket edges (days start at midnight there).

    Returns
    -------
    DataFrame
        ``bucket``, [``by``], ``jobs``: every bucket from the first to the last, zeros
        included, so rates and plots are honest about quiet hours.

    Examples
    --------
    >>> import ittybit_frames as itf
    >>> from ittybit_frames.simulator import generate_history
    >>> jobs = itf.to_frames(generate_history(200)).jobs
    >>> int(throughput(jobs, freq="1D")["jobs"].sum()) == int(jobs["finished_at"].notna().sum())
    True
    """
    _check_columns(jobs, [on, *group_keys(by)], "throughput")
    data = jobs[jobs[on].notna()]
    keys = group_keys(by)
    if data.empty:
        return pd.DataFrame(
            {
                "bucket": pd.Series([], dtype=jobs[on].dtype),
                **{k: pd.Series([], dtype="string") for k in keys},
                "jobs": pd.Series([], dtype="int64"),
            }
        )
    bucket = _bucketed(data, on, freq, tz)
    edges = pd.date_range(bucket.min(), bucket.max(), freq=freq)
    if not keys:
        counts = bucket.value_counts().reindex(edges, fill_value=0)
        return pd.DataFrame({"bucket": edges, "jobs": counts.to_numpy(dtype="int64")})
    group = _as_str(data[keys[0]])
    table = pd.crosstab(bucket, group).reindex(edges, fill_value=0)
    table.index.name = "bucket"
    tidy = table.reset_index().melt(id_vars="bucket", var_name=keys[0], value_name="jobs")
    tidy["jobs"] = tidy["jobs"].astype("int64")
    return tidy.sort_values(["bucket", keys[0]]).reset_index(drop=True)


def duration_summary(
    frame: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = "kind",
    columns: Sequence[str] = DURATIONS,
    percentiles: Sequence[float] = PERCENTILES,
    min_count: int = MIN_COUNT,
) -> pd.DataFrame:
    """Count, mean and percentiles of durations, per group.

    Works on jobs and tasks. Percentiles interpolate linearly between closest ranks
    (what DuckDB's ``quantile_cont`` and Spark's ``percentile`` compute).

    Returns
    -------
    DataFrame
        One row per group and duration column: [group keys], ``column``, ``count``,
        ``mean``, ``p50``, ``p90``..., and ``low_count`` (fewer than ``min_count``
        values: shown, but flagged).
    """
    keys = group_keys(by)
    _check_columns(frame, [*keys, *columns], "duration_summary")
    names = [percentile_name(q) for q in percentiles]
    rows = []
    subset = frame[[*keys, *columns]]
    # Categorical keys group on their codes (observed only): no string conversion.
    grouped = [((), subset)] if not keys else subset.groupby(keys, observed=True, sort=True)
    for group_key, part in grouped:
        key = group_key if isinstance(group_key, tuple) else (group_key,)
        key = tuple(str(k) if isinstance(k, str) else k for k in key)
        for column in columns:
            values = part[column].dropna().to_numpy(dtype=float)
            qs = np.quantile(values, percentiles) if len(values) else [np.nan] * len(names)
            rows.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "column": column,
                    "count": len(values),
                    "mean": float(values.mean()) if len(values) else np.nan,
                    **dict(zip(names, map(float, qs), strict=True)),
                    "low_count": len(values) < min_count,
                }
            )
    return pd.DataFrame(rows, columns=[*keys, "column", "count", "mean", *names, "low_count"])


def latency_over_time(
    jobs: pd.DataFrame,
    *,
    freq: str = "1h",
    percentiles: Sequence[float] = SUMMARY_PERCENTILES,
    column: str | Sequence[str] = LATENCIES,
    on: str = "finished_at",
) -> pd.DataFrame:
    """Duration percentiles per time bucket (jobs placed by ``on``).

    Returns
    -------
    DataFrame
        ``bucket``, ``column``, ``count``, ``p50``, ``p95``... (buckets with no finished
        job are left out rather than shown as zero).
    """
    columns = [column] if isinstance(column, str) else list(column)
    _check_columns(jobs, [on, *columns], "latency_over_time")
    data = jobs[jobs[on].notna()].assign(bucket=lambda f: f[on].dt.floor(freq))
    summary = duration_summary(
        data, by="bucket", columns=columns, percentiles=percentiles, min_count=0
    )
    summary = summary[summary["count"] > 0].drop(columns=["mean", "low_count"])
    return summary.reset_index(drop=True)


def failure_rate(
    jobs: pd.DataFrame, *, by: str | Sequence[str] | None = "kind", freq: str | None = None
) -> pd.DataFrame:
    """Share of finished jobs that failed, with the counts behind it.

    A job ``cancelled`` with a failed task was cancelled *by* that failure (the API
    reports "cancelled, or a sibling task failed"): it counts as a failure, in
    ``cancelled_by_failure``. A cancelled job without a failed task was cancelled by
    its user: ``cancelled_by_user``, not a failure (the cascade is
    :data:`ittybit_frames.rules.OUTCOMES`).

    Returns
    -------
    DataFrame
        [group keys], [``bucket``], ``finished``, ``succeeded``, ``failed``,
        ``cancelled_by_failure``, ``cancelled_by_user``, ``failure_rate`` =
        (failed + cancelled_by_failure) / finished.
    """
    keys = group_keys(by)
    _check_columns(jobs, [STATUS, FAILED_TASKS, "finished_at", *keys], "failure_rate")
    finished = jobs[STATUS].astype("string").isin(FINISHED_STATUSES)
    data = jobs[finished.fillna(False)]
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
    if freq is not None:
        data = data.assign(bucket=data["finished_at"].dt.floor(freq))
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
    # A URL ends before trailing punctuation ("... from https://x/a.mp4: HTTP 403").
    text = _URL.sub(lambda m: "<url>" + m.group(0)[len(m.group(0).rstrip(".,:;)")) :], message)
    text = _ID.sub("<id>", text)
    text = _HEX.sub("<id>", text)
    return _NUMBER.sub("<n>", text).strip()


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
    errors = frame[frame["error_message"].notna()]
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


def in_flight(jobs: pd.DataFrame, *, freq: str = "1min", as_of: Any = None) -> pd.DataFrame:
    """How many jobs were queued and how many processing, over time.

    Reconstructed from the timestamps with a sweep line: a job is queued from
    ``created_at`` until ``started_at`` (or ``finished_at`` if it never started), and
    processing from ``started_at`` until ``finished_at``. Unfinished jobs stay in
    flight until ``as_of`` (default: the newest timestamp in the frame). Counts are
    exact at every sample instant; the peak is exact over every event, not just samples.

    Returns
    -------
    DataFrame
        ``time``, ``queued``, ``processing``, ``in_flight`` at each ``freq`` edge.
        ``attrs["peak"]`` holds ``{"in_flight", "at", "queued", "processing"}``.
    """
    _check_columns(jobs, ["created_at", "started_at", "finished_at"], "in_flight")
    created, started, finished = (
        epoch_ms_array(jobs[c]) for c in ("created_at", "started_at", "finished_at")
    )
    keep = ~np.isnan(created)
    created, started, finished = created[keep], started[keep], finished[keep]
    if not len(created):
        empty = pd.DataFrame(
            {
                "time": pd.Series([], dtype="datetime64[ms, UTC]"),
                "queued": pd.Series([], dtype="int64"),
                "processing": pd.Series([], dtype="int64"),
                "in_flight": pd.Series([], dtype="int64"),
            }
        )
        empty.attrs["peak"] = {"in_flight": 0, "at": pd.NaT, "queued": 0, "processing": 0}
        return empty
    end = parse_when(as_of)
    horizon = (
        float(end)
        if end is not None
        else float(np.nanmax(np.concatenate([created, started, finished])))
    )
    # Queue ends when the job starts, or when it finishes without ever starting.
    queue_end = np.where(np.isnan(started), finished, started)
    queue_end = np.where(np.isnan(queue_end), np.inf, queue_end)
    run_start = started
    run_end = np.where(np.isnan(finished), np.inf, finished)
    starts_q, ends_q = np.sort(created), np.sort(queue_end)
    ran = ~np.isnan(run_start)
    starts_p, ends_p = np.sort(run_start[ran]), np.sort(run_end[ran])

    def counts(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        queued = np.searchsorted(starts_q, at, "right") - np.searchsorted(ends_q, at, "right")
        running = np.searchsorted(starts_p, at, "right") - np.searchsorted(ends_p, at, "right")
        return queued, running

    first = pd.Timestamp(float(starts_q[0]), unit="ms", tz="UTC").floor(freq)
    last = pd.Timestamp(horizon, unit="ms", tz="UTC").ceil(freq)
    edges = pd.date_range(first, last, freq=freq)
    at = edges.as_unit("ms").asi8.astype(float)
    queued, running = counts(at)
    out = pd.DataFrame(
        {
            "time": edges.as_unit("ms"),
            "queued": queued.astype("int64"),
            "processing": running.astype("int64"),
        }
    )
    out["in_flight"] = out["queued"] + out["processing"]
    events = np.unique(np.concatenate([starts_q, starts_p]))
    events = events[events <= horizon]
    eq, ep = counts(events)
    best = int(np.argmax(eq + ep))
    out.attrs["peak"] = {
        "in_flight": int(eq[best] + ep[best]),
        "at": pd.Timestamp(float(events[best]), unit="ms", tz="UTC"),
        "queued": int(eq[best]),
        "processing": int(ep[best]),
    }
    return out


def stage_breakdown(tasks: pd.DataFrame, *, by: str | None = "job_kind") -> pd.DataFrame:
    """Share of succeeded jobs' time spent in each stage, and waiting between stages.

    For each succeeded job, its time is ``total`` = last task finish - job creation;
    each task kind's ``processing_seconds`` is time in that stage (encode kinds are
    pooled as ``encode``); the rest is ``waiting`` (queue and hand-offs).

    Returns
    -------
    DataFrame
        [``by``], ``stage``, ``seconds`` (summed), ``share`` (of summed job time),
        ``jobs``.
    """
    keys = group_keys(by)
    _check_columns(
        tasks,
        [
            "job_id",
            "kind",
            "processing_seconds",
            "finished_at",
            "job_created_at",
            "job_status",
            *keys,
        ],
        "stage_breakdown",
    )
    columns = [*keys, "stage", "seconds", "share", "jobs"]
    needed = ["job_id", "kind", "processing_seconds", "finished_at", "job_created_at", *keys]
    done = tasks[list(dict.fromkeys(needed))][_equals(tasks["job_status"], "succeeded")]
    if done.empty:
        return pd.DataFrame(columns=columns)
    # Integer codes all the way: millions of tasks aggregate with bincount, not groupby.
    job, _ = pd.factorize(done["job_id"], sort=False)
    n_jobs = int(job.max()) + 1
    end = np.full(n_jobs, -np.inf)
    np.maximum.at(end, job, np.nan_to_num(epoch_ms_array(done["finished_at"]), nan=-np.inf))
    start = np.full(n_jobs, np.nan)
    start[job] = epoch_ms_array(done["job_created_at"])
    total = (end - start) / 1000.0
    total[~np.isfinite(total)] = 0.0
    labels: list[str] = ["all"]
    group_codes = np.zeros(len(done), dtype=np.int64)
    if keys:
        group_codes, uniques = _codes(done[keys[0]])
        labels = [str(u) for u in uniques]
    job_group = np.zeros(n_jobs, dtype=np.int64)
    job_group[job] = group_codes
    n_groups = len(labels)
    stages = ("probe", "import", "encode", "export")
    kind_codes, kinds = _codes(done["kind"])
    stage_of = {"probe": 0, "import": 1, "export": 3, **dict.fromkeys(ENCODE_KINDS, 2)}
    lookup = np.array([stage_of.get(str(k), -1) for k in kinds], dtype=np.int64)
    stage = lookup[kind_codes] if len(lookup) else np.full(len(done), -1)
    seconds = done["processing_seconds"].to_numpy(dtype=float, na_value=0.0)
    counted = stage >= 0
    sums = np.bincount(
        group_codes[counted] * 4 + stage[counted], weights=seconds[counted], minlength=n_groups * 4
    ).reshape(n_groups, 4)
    totals = np.bincount(job_group, weights=total, minlength=n_groups)
    jobs_per_group = np.bincount(job_group, minlength=n_groups)
    rows = []
    for g, label in enumerate(labels):
        if not jobs_per_group[g]:
            continue  # a category with no succeeded job
        values = [*sums[g], totals[g] - sums[g].sum()]
        for name, value in zip((*stages, "waiting"), values, strict=True):
            rows.append(
                {
                    **({keys[0]: str(label)} if keys else {}),
                    "stage": name,
                    "seconds": float(value),
                    "share": float(value / totals[g]) if totals[g] else np.nan,
                    "jobs": int(jobs_per_group[g]),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def realtime_factor(
    frame: pd.DataFrame,
    *,
    by: str | None = None,
    percentiles: Sequence[float] = SUMMARY_PERCENTILES,
) -> pd.DataFrame:
    """Encode time divided by media duration (below 1: faster than real time).

    On tasks: encode tasks' ``processing_seconds / output_duration_seconds``. On jobs:
    ``processing_seconds / media_duration_seconds``. Rows without a duration (images)
    are left out.

    Returns
    -------
    DataFrame
        [``by``], ``count``, ``mean``, ``p50``, ``p95``...
    """
    if "task_id" in frame.columns:
        data = frame[frame["kind"].astype("string").isin(ENCODE_KINDS)]
        ratio = data["processing_seconds"] / data["output_duration_seconds"]
        by = by or "kind"
    else:
        data = frame
        ratio = data["processing_seconds"] / data["media_duration_seconds"]
        by = by or "kind"
    usable = ratio.replace([np.inf, -np.inf], np.nan)
    with_ratio = data.assign(realtime_factor=usable)
    keep = with_ratio["realtime_factor"].notna() & (with_ratio["realtime_factor"] >= 0)
    data = with_ratio[keep.to_numpy(dtype=bool)]
    summary = duration_summary(data, by=by, columns=["realtime_factor"], percentiles=percentiles)
    return summary.drop(columns=["column"])


def stuck(jobs: pd.DataFrame, *, as_of: Any = None, factor: float = 3.0) -> pd.DataFrame:
    """Unfinished jobs older than ``factor`` x the p95 total time of their kind.

    Returns
    -------
    DataFrame
        The stuck jobs' ``job_id``, ``kind``, ``status``, ``created_at``, ``age_seconds``
        and ``limit_seconds``, oldest first.
    """
    _check_columns(jobs, ["job_id", "kind", STATUS, "created_at", TOTAL_SECONDS], "stuck")
    end = parse_when(as_of)
    now = (
        pd.Timestamp(end, unit="ms", tz="UTC")
        if end is not None
        else jobs[["created_at", "updated_at"]].max().max()
    )
    kind = _as_str(jobs["kind"])
    finished = jobs[jobs[TOTAL_SECONDS].notna()]
    p95 = finished.groupby(_as_str(finished["kind"]))[TOTAL_SECONDS].quantile(0.95)
    status = jobs[STATUS].astype("string")
    open_ = jobs[(~status.isin(FINISHED_STATUSES)).fillna(True).to_numpy()]
    age = (now - open_["created_at"]).dt.total_seconds()
    limit = kind.loc[open_.index].map(p95).astype(float) * factor
    out = open_.assign(age_seconds=age, limit_seconds=limit)
    out = out[(out["age_seconds"] > out["limit_seconds"]).fillna(False).to_numpy()]
    cols = ["job_id", "kind", "status", "created_at", "age_seconds", "limit_seconds"]
    return out[cols].sort_values("created_at").reset_index(drop=True)


def sla(jobs: pd.DataFrame, *, within: str = "5min", by: str | None = None) -> pd.DataFrame:
    """Share of finished jobs whose total time was at most ``within``.

    Returns
    -------
    DataFrame
        [``by``], ``finished``, ``within``, ``share``.
    """
    keys = group_keys(by)
    _check_columns(jobs, [TOTAL_SECONDS, *keys], "sla")
    bound = pd.Timedelta(within).total_seconds()
    data = jobs[jobs[TOTAL_SECONDS].notna()]
    data = data.assign(
        ok=(data[TOTAL_SECONDS] <= bound).astype(int), n=1, **{k: _as_str(data[k]) for k in keys}
    )
    if keys:
        out = data.groupby(keys, sort=True)[["n", "ok"]].sum().reset_index()
    else:
        out = data[["n", "ok"]].sum().to_frame().T.reset_index(drop=True)
    out = out.rename(columns={"n": "finished", "ok": "within"})
    out[["finished", "within"]] = out[["finished", "within"]].astype("int64")
    out["share"] = out["within"] / out["finished"]
    return out
