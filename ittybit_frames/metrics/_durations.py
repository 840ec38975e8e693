"""How long things take: duration summaries, stages, realtime factor, stuck jobs, SLA."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ittybit_frames.metrics._common import (
    ENCODE_KINDS,
    _as_str,
    _check_columns,
    _codes,
    _equals,
    _isin,
    _rows,
)
from ittybit_frames.metrics._time import bucket as time_bucket
from ittybit_frames.metrics._time import grain
from ittybit_frames.rules import (
    DURATIONS,
    FINISHED_STATUSES,
    LATENCIES,
    MIN_COUNT,
    PERCENTILES,
    STATUS,
    SUMMARY_PERCENTILES,
    TOTAL_SECONDS,
    check_tz,
    group_keys,
    percentile_name,
)
from ittybit_frames.schema import epoch_ms_array
from ittybit_frames.vocabulary import parse_when


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


def stage_breakdown(tasks: pd.DataFrame, *, by: str | None = "job_kind") -> pd.DataFrame:
    """Share of succeeded jobs' time spent in each stage, and waiting between stages.

    For each succeeded job, its time is ``total`` = last task finish - job creation;
    each task kind's ``processing_seconds`` is time in that stage (encode kinds are
    pooled as ``encode``); the rest is ``waiting`` (queue and hand-offs).

    ``share`` pools the seconds of every job, so one job stuck in the queue for hours
    can outweigh thousands of ordinary ones; ``typical_share`` is robust to that: the
    median over jobs of each stage's share of the job's own time, rescaled so the stages
    add up to 1 (what a typical job does with its time).

    Returns
    -------
    DataFrame
        [``by``], ``stage``, ``seconds`` (summed), ``share`` (of summed job time),
        ``typical_share`` (median per-job share, rescaled), ``jobs``.
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
    columns = [*keys, "stage", "seconds", "share", "typical_share", "jobs"]
    # A task without a job ID is tied to no job's time; a job without a group key is in
    # no group (as groupby leaves NA keys out): both left out, never code -1's victims.
    succeeded = _equals(tasks["job_status"], "succeeded") & tasks["job_id"].notna().to_numpy()
    if keys:
        succeeded &= tasks[keys[0]].notna().to_numpy()
    if not succeeded.any():
        return pd.DataFrame(columns=columns)
    # Integer codes all the way: millions of tasks aggregate with bincount, not groupby;
    # the succeeded rows are taken from plain arrays, never as a filtered copy of tasks.
    job = _job_codes(tasks["job_id"], succeeded)
    n_jobs = int(job.max()) + 1
    end = np.full(n_jobs, -np.inf)
    finished = _epoch_ms_of(tasks["finished_at"], succeeded)
    finished[np.isnan(finished)] = -np.inf  # (a fresh array: changed in place)
    np.maximum.at(end, job, finished)
    del finished  # (each array let go as soon as it is used: less memory at once)
    start = np.full(n_jobs, np.nan)
    start[job] = _epoch_ms_of(tasks["job_created_at"], succeeded)
    total = (end - start) / 1000.0
    total[~np.isfinite(total)] = 0.0
    labels: list[str] = ["all"]
    group_codes = np.zeros(len(job), dtype=np.int64)
    if keys:
        group_codes, labels = _present_codes(tasks[keys[0]], succeeded)
    job_group = np.zeros(n_jobs, dtype=np.int64)
    job_group[job] = group_codes
    n_groups = len(labels)
    kind_codes, kinds = _present_codes(tasks["kind"], succeeded)
    stage_of = {"probe": 0, "import": 1, "export": 3, **dict.fromkeys(ENCODE_KINDS, 2)}
    lookup = np.array([stage_of.get(k, -1) for k in kinds], dtype=np.int64)
    # A missing kind (code -1) is in no stage, as an unknown kind is.
    stage = np.append(lookup, -1)[kind_codes]  # (code -1 takes the -1 put last)
    del kind_codes
    seconds = _seconds_of(tasks["processing_seconds"], succeeded)
    counted = stage >= 0
    if not counted.all():  # (every row usually is: no copies then)
        job, group_codes, stage, seconds = (a[counted] for a in (job, group_codes, stage, seconds))
    sums = np.bincount(group_codes * 4 + stage, weights=seconds, minlength=n_groups * 4).reshape(
        n_groups, 4
    )
    totals = np.bincount(job_group, weights=total, minlength=n_groups)
    job *= 4
    job += stage  # (each task's cell, job * 4 + stage, in the codes' own array)
    typical = _typical_shares(job, seconds, total, job_group)
    jobs_per_group = np.bincount(job_group, minlength=n_groups)
    rows = _stage_rows(keys, labels, sums, totals, typical, jobs_per_group)
    return pd.DataFrame(rows, columns=columns)


# Seconds that are nonsense (inf, or sums past float64's range) give inf / NaN cells, as
# the definition does, without a RuntimeWarning.
@np.errstate(invalid="ignore", over="ignore")
def _stage_rows(
    keys: list[str],
    labels: list[str],
    sums: np.ndarray,
    totals: np.ndarray,
    typical: np.ndarray,
    jobs_per_group: np.ndarray,
) -> list[dict[str, Any]]:
    rows = []
    stages = ("probe", "import", "encode", "export", "waiting")
    for g, label in enumerate(labels):
        if not jobs_per_group[g]:
            continue  # a category with no succeeded job
        values = [*sums[g], totals[g] - sums[g].sum()]
        for k, (name, value) in enumerate(zip(stages, values, strict=True)):
            rows.append(
                {
                    **({keys[0]: str(label)} if keys else {}),
                    "stage": name,
                    "seconds": float(value),
                    "share": float(value / totals[g]) if totals[g] else np.nan,
                    "typical_share": float(typical[g, k]),
                    "jobs": int(jobs_per_group[g]),
                }
            )
    return rows


@np.errstate(invalid="ignore", over="ignore")  # (as _stage_rows)
def _typical_shares(
    cell: np.ndarray, seconds: np.ndarray, total: np.ndarray, job_group: np.ndarray
) -> np.ndarray:
    """(groups x 5) median per-job shares of the 4 stages and waiting, rows adding to 1.

    ``cell`` is ``job * 4 + stage`` for each task, ``total`` each job's seconds.
    """
    n_jobs = len(total)
    per_job = np.bincount(cell, weights=seconds, minlength=n_jobs * 4).reshape(n_jobs, 4)
    per_job = per_job.astype(np.float64, copy=False)  # (integers when no task counted)
    # numpy reduces a (jobs x 5) matrix along its short axis slowly, so the row sums are
    # written out as four additions, into one array (each temporary is memory that a
    # metric's first call pays for in page faults).
    stages = [per_job[:, k] for k in range(4)]
    waiting = np.add(stages[0], stages[1])
    waiting += stages[2]
    waiting += stages[3]
    np.subtract(total, waiting, out=waiting)
    np.maximum(waiting, 0.0, out=waiting)
    parts = [*stages, waiting]
    job_total = np.add(parts[0], parts[1])
    for part in parts[2:]:
        job_total += part
    usable = np.ones(n_jobs, dtype=bool)
    share = np.empty(n_jobs)
    with np.errstate(invalid="ignore", divide="ignore"):
        for part in parts:
            usable &= np.isfinite(np.divide(part, job_total, out=share))
    del share
    n_groups = int(job_group.max()) + 1 if len(job_group) else 0
    groups = job_group[usable]
    # Small integers sort by radix: one pass, then a slice per group (order within a
    # group does not matter to a median).
    small = np.int16 if n_groups <= np.iinfo(np.int16).max else np.int64
    order = np.argsort(groups.astype(small), kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
    taken = np.flatnonzero(usable)[order]
    below = job_total[taken]
    medians = np.full((n_groups, 5), np.nan)
    for k, part in enumerate(parts):  # one stage's shares at a time, the usable jobs'
        column = part[taken]
        column /= below
        for g in range(n_groups):
            if bounds[g + 1] > bounds[g]:
                medians[g, k] = np.median(column[bounds[g] : bounds[g + 1]])
    out = np.full((n_groups, 5), np.nan)
    for g in range(n_groups):
        if bounds[g + 1] > bounds[g]:
            median = medians[g]
            out[g] = median / median.sum() if median.sum() else median
    return out


def _epoch_ms_of(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``epoch_ms_array(values)[rows]``; a column of the schema's millisecond unit gives
    its integers as they are, and only for ``rows`` (no datetime conversion of them all)."""
    array = values.array
    if isinstance(array, pd.arrays.DatetimeArray) and array.unit == "ms":
        ms = np.asarray(array.view("i8"))[rows]  # UTC, whatever the zone shown
        out: np.ndarray = ms.astype(np.float64)
        out[ms == np.iinfo(np.int64).min] = np.nan  # NaT
        return out
    converted: np.ndarray = epoch_ms_array(values)[rows]
    return converted


def _seconds_of(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``values.to_numpy(dtype=float, na_value=0.0)[rows]``; a float64 column is read in
    place and only ``rows`` copied (no copy of every row first)."""
    if isinstance(values.dtype, np.dtype) and values.dtype == np.float64:
        out: np.ndarray = values.to_numpy()[rows]
        out[np.isnan(out)] = 0.0
        return out
    filled: np.ndarray = values.to_numpy(dtype=float, na_value=0.0)[rows]
    return filled


def _present_codes(series: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """:func:`_codes` of ``series[rows]``, as strings; categoricals keep every category,
    other columns only the values present in those rows (as factorizing them would)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()[rows].astype(np.int64)  # the rows', then widened
        return codes, [str(u) for u in series.cat.categories]
    codes, uniques = _codes(series[rows])
    return codes, [str(u) for u in uniques]


def _job_codes(job_id: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``pd.factorize(job_id[rows], sort=False)`` codes, cheaper when a job's tasks sit
    together.

    Tasks come grouped by job: only the first ID of each run of equal IDs among the
    chosen rows is hashed, and the codes (first appearance order, as factorize gives)
    are repeated over the runs. IDs not stored in Arrow, or with a missing one, take
    factorize itself.
    """
    arrow = isinstance(job_id.dtype, pd.StringDtype) and job_id.dtype.storage == "pyarrow"
    if not arrow or job_id.isna().any() or len(job_id) < 2:
        return np.asarray(pd.factorize(job_id[rows], sort=False)[0])
    # pandas hands its Arrow storage over as is: an Array, or a ChunkedArray after a
    # concat (wrapping that in pa.chunked_array([...]) walked every ID in Python). The
    # chunks are compared where they lie: joining them copied every ID's bytes, and on
    # this VM fresh memory is paid for in page faults on a metric's first call.
    stored = pa.array(job_id.array)
    small = np.int32 if len(job_id) < np.iinfo(np.int32).max else np.int64
    run = np.cumsum(_run_starts(stored), dtype=small)[rows]
    first = np.concatenate([[True], run[1:] != run[:-1]])
    starts = np.flatnonzero(first)
    heads = np.zeros(len(job_id), dtype=bool)
    heads[rows] = first
    taken = stored.take(pa.array(np.flatnonzero(heads)))
    ids = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
    codes: np.ndarray = np.repeat(_first_seen_codes(ids), np.diff(np.append(starts, len(run))))
    return codes


def _run_starts(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where an ID differs from the one before it (the first row included), chunk by
    chunk (no joined copy of the IDs), each chunk's first ID against the last one's."""
    chunks = [c for c in (ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]) if len(c)]
    pieces = []
    last = None
    for chunk in chunks:
        pieces.append(np.array([last is None or bool(chunk[0] != last)]))
        changed = pc.not_equal(chunk.slice(1), chunk.slice(0, len(chunk) - 1))
        pieces.append(changed.to_numpy(zero_copy_only=False))
        last = chunk[len(chunk) - 1]
    return np.concatenate(pieces)


def _first_seen_codes(ids: pa.Array) -> np.ndarray:
    """``pc.dictionary_encode(ids).indices``, cheaper when no ID repeats (each run of a
    job's tasks is its whole job): hashing a million distinct IDs into Arrow's
    dictionary was most of stage_breakdown's time. IDs of one byte length (the API's)
    are folded to 64-bit numbers in numpy and sorted: no two equal means no two IDs
    equal, so the codes are 0, 1, 2... An equal pair (a repeat, or two IDs that fold
    alike) takes the dictionary."""
    fixed = _fixed_width(ids)
    if fixed is not None:
        lanes = np.zeros((len(ids), -(-fixed.shape[1] // 8) * 8), np.uint8)
        lanes[:, : fixed.shape[1]] = fixed
        words = lanes.view(np.uint64)
        folded = words[:, 0].copy()
        for k in range(1, words.shape[1]):
            folded *= np.uint64(0x9E3779B97F4A7C15)  # (wraps around, as meant)
            folded ^= words[:, k]
        folded.sort()
        if not (folded[1:] == folded[:-1]).any():
            return np.arange(len(ids), dtype=np.int64)
    found: np.ndarray = pc.dictionary_encode(ids).indices.to_numpy()
    return found


def _fixed_width(ids: pa.Array) -> np.ndarray | None:
    """The bytes of Arrow strings all of one (non-zero) length, one row per string, read
    in place; None for nulls, another type, fewer than two, or lengths that differ."""
    large = pa.types.is_large_string(ids.type)
    if len(ids) < 2 or ids.null_count or not (large or pa.types.is_string(ids.type)):
        return None
    size = 8 if large else 4
    offsets = np.frombuffer(ids.buffers()[1], f"<i{size}", len(ids) + 1, ids.offset * size)
    steps = np.diff(offsets)
    width = int(steps[0])
    if not width or not (steps == width).all():
        return None
    data = np.frombuffer(ids.buffers()[2], np.uint8, width * len(ids), int(offsets[0]))
    return data.reshape(len(ids), width)


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
    by = by or "kind"
    if "task_id" in frame.columns:
        rows = frame["kind"].astype("string").isin(ENCODE_KINDS).fillna(False).to_numpy(bool)
        media = "output_duration_seconds"
    else:
        rows = np.ones(len(frame), dtype=bool)
        media = "media_duration_seconds"
    _check_columns(frame, [*group_keys(by), "processing_seconds", media], "realtime_factor")
    ratio = (frame["processing_seconds"] / frame[media]).replace([np.inf, -np.inf], np.nan)
    keep = rows & (ratio.notna() & (ratio >= 0)).to_numpy(dtype=bool)
    # Only the group keys and the ratio are copied: the rows' other columns (a whole
    # table of millions of tasks) are not needed.
    data = frame[group_keys(by)][keep].assign(realtime_factor=ratio[keep])
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
    finished = _rows(jobs, jobs[TOTAL_SECONDS].notna(), ["kind", TOTAL_SECONDS])
    p95 = finished.groupby(_as_str(finished["kind"]))[TOTAL_SECONDS].quantile(0.95)
    open_ = _rows(
        jobs, ~_isin(jobs[STATUS], FINISHED_STATUSES), ["job_id", "kind", STATUS, "created_at"]
    )
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
    data = _rows(jobs, jobs[TOTAL_SECONDS].notna(), [TOTAL_SECONDS, *keys])
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


def latency_over_time(
    jobs: pd.DataFrame,
    *,
    freq: str = "1h",
    percentiles: Sequence[float] = SUMMARY_PERCENTILES,
    column: str | Sequence[str] = LATENCIES,
    on: str = "finished_at",
    tz: str = "UTC",
) -> pd.DataFrame:
    """Duration percentiles per time bucket (jobs placed by ``on``).

    Buckets as for :func:`ittybit_frames.metrics.throughput` (``freq`` such as ``"1h"``,
    ``"1D"``, ``"W"``, ``"M"``; edges in the time zone ``tz``).

    Returns
    -------
    DataFrame
        ``bucket``, ``column``, ``count``, ``p50``, ``p95``... (buckets with no finished
        job are left out rather than shown as zero).
    """
    columns = [column] if isinstance(column, str) else list(column)
    _check_columns(jobs, [on, *columns], "latency_over_time")
    size, tz = grain(freq), check_tz(tz)
    data = _rows(jobs, jobs[on].notna(), [on, *columns])
    data = data.assign(bucket=time_bucket(data[on], size, tz))
    summary = duration_summary(
        data, by="bucket", columns=columns, percentiles=percentiles, min_count=0
    )
    summary = summary[summary["count"] > 0].drop(columns=["mean", "low_count"])
    return summary.reset_index(drop=True)
