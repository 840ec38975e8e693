"""How much work arrives and finishes: throughput, latency over time, in flight."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ittybit_frames.metrics._common import (
    _as_str,
    _check_columns,
    _rows,
)
from ittybit_frames.metrics._time import Grain, edges, grain, next_start
from ittybit_frames.metrics._time import bucket as time_bucket
from ittybit_frames.rules import (
    check_tz,
    group_keys,
)
from ittybit_frames.schema import epoch_ms_array
from ittybit_frames.vocabulary import parse_when


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
        Bucket size: ``"15min"``, ``"1h"``, ``"1D"``, ``"W"`` (ISO weeks), ``"M"``,
        ``"Q"``, ``"Y"``, or words such as ``"hourly"`` and ``"weekly"``.
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
    size, tz = grain(freq), check_tz(tz)
    keys = group_keys(by)
    data = _rows(jobs, jobs[on].notna(), [on, *keys])
    if data.empty:
        return pd.DataFrame(
            {
                "bucket": pd.Series([], dtype=pd.DatetimeTZDtype("ms", tz)),
                **{k: pd.Series([], dtype="string") for k in keys},
                "jobs": pd.Series([], dtype="int64"),
            }
        )
    bucket = time_bucket(data[on], size, tz)
    grid = edges(bucket, size, tz)
    if not keys:
        counts = bucket.value_counts().reindex(grid, fill_value=0)
        return pd.DataFrame({"bucket": grid, "jobs": counts.to_numpy(dtype="int64")})
    group = _as_str(data[keys[0]])
    table = pd.crosstab(bucket, group).reindex(grid, fill_value=0)
    table.index.name = "bucket"
    tidy = table.reset_index().melt(id_vars="bucket", var_name=keys[0], value_name="jobs")
    tidy["jobs"] = tidy["jobs"].astype("int64")
    return tidy.sort_values(["bucket", keys[0]]).reset_index(drop=True)


def _sample_times(first: float, horizon: float, size: Grain, tz: str) -> pd.DatetimeIndex:
    """Bucket edges from the first arrival's bucket to the first edge at or after horizon."""
    span = pd.Series(pd.to_datetime([first, horizon], unit="ms", utc=True)).dt.as_unit("ms")
    grid = edges(time_bucket(span, size, tz), size, tz)
    if grid[-1] < span.iloc[1]:
        after = pd.DatetimeIndex([next_start(grid[-1], size, tz)]).as_unit(grid.unit)
        grid = pd.DatetimeIndex(grid.append(after))
    return grid.as_unit("ms")


#: More samples than this (15 years of minutes) is a mistake, not a chart: refused.
MAX_SAMPLES = 8_000_000


def _check_samples(first: float, horizon: float, size: Grain, freq: str) -> None:
    """A ``ValueError`` saying what to do when ``in_flight`` would sample more than
    :data:`MAX_SAMPLES` edges (say, ``as_of`` decades after the data at 1min)."""
    if size.fixed is None:
        return  # weeks and longer: few samples over any real span
    count = (horizon - first) / (size.fixed / pd.Timedelta(milliseconds=1))
    if count > MAX_SAMPLES:
        span = pd.to_datetime([first, horizon], unit="ms", utc=True)
        raise ValueError(
            f"in_flight: {count:,.0f} samples of {freq} from {span[0]:%Y-%m-%d} to "
            f"{span[1]:%Y-%m-%d} (most {MAX_SAMPLES:,}): use a coarser freq such as "
            "'1h' or '1D', or an as_of nearer the data"
        )


def in_flight(
    jobs: pd.DataFrame, *, freq: str = "1min", as_of: Any = None, tz: str = "UTC"
) -> pd.DataFrame:
    """How many jobs were queued and how many processing, over time.

    Reconstructed from the timestamps with a sweep line: a job is queued from
    ``created_at`` until ``started_at`` (or ``finished_at`` if it never started), and
    processing from ``started_at`` until ``finished_at``. Unfinished jobs stay in
    flight until ``as_of`` (default: the newest timestamp in the frame); samples run
    from the first arrival to ``as_of`` (none when ``as_of`` comes first). Counts are
    exact at every sample instant; the peak is exact over every event, not just
    samples. More than :data:`MAX_SAMPLES` samples
    (``as_of`` decades away at ``1min``, say) is refused with a ``ValueError``.

    Returns
    -------
    DataFrame
        ``time``, ``queued``, ``processing``, ``in_flight`` at each ``freq`` edge
        (edges in the time zone ``tz``, as for :func:`throughput`).
        ``attrs["peak"]`` holds ``{"in_flight", "at", "queued", "processing"}``.
    """
    _check_columns(jobs, ["created_at", "started_at", "finished_at"], "in_flight")
    size, tz = grain(freq), check_tz(tz)
    created, started, finished = (
        epoch_ms_array(jobs[c]) for c in ("created_at", "started_at", "finished_at")
    )
    end = parse_when(as_of)
    keep = ~np.isnan(created)
    created, started, finished = created[keep], started[keep], finished[keep]
    if not len(created):
        empty = pd.DataFrame(
            {
                "time": pd.Series([], dtype=pd.DatetimeTZDtype("ms", tz)),
                "queued": pd.Series([], dtype="int64"),
                "processing": pd.Series([], dtype="int64"),
                "in_flight": pd.Series([], dtype="int64"),
            }
        )
        empty.attrs["peak"] = {"in_flight": 0, "at": pd.NaT, "queued": 0, "processing": 0}
        return empty
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

    if starts_q[0] <= horizon:
        _check_samples(float(starts_q[0]), horizon, size, freq)
        grid = _sample_times(float(starts_q[0]), horizon, size, tz)
    else:  # as_of before every arrival: nothing to sample (the peak may still count)
        grid = pd.DatetimeIndex([], dtype=pd.DatetimeTZDtype("ms", tz))
    at = grid.asi8.astype(float)
    queued, running = counts(at)
    out = pd.DataFrame(
        {
            "time": grid,
            "queued": queued.astype("int64"),
            "processing": running.astype("int64"),
        }
    )
    out["in_flight"] = out["queued"] + out["processing"]
    peak = _first_peak(starts_q, starts_p, run_end, horizon)
    out.attrs["peak"] = _peak(peak, *counts(peak), tz)
    return out


def _first_peak(
    arrivals: np.ndarray, starts: np.ndarray, run_end: np.ndarray, horizon: float
) -> np.ndarray:
    """The first event (an arrival or a start, up to ``horizon``) with the most jobs in
    flight, as a one-element array (empty without events). ``arrivals`` and ``starts``
    are sorted; ``run_end`` is each job's finish (inf for none).

    Queued plus processing is, job by job, [created <= t] - [finished <= t] (a job that
    starts leaves the queue as it begins processing), so it rises only at arrivals: a
    start after the first arrival never has more in flight than the arrival before it,
    which comes first. Only the distinct arrivals and the starts before the first
    arrival are counted, with two counts each instead of four at every event.
    """
    arrived = arrivals[: np.searchsorted(arrivals, horizon, "right")]
    firsts = np.flatnonzero(np.concatenate([[len(arrived) > 0], arrived[1:] != arrived[:-1]]))
    cut = min(
        np.searchsorted(starts, arrivals[0], "left"), np.searchsorted(starts, horizon, "right")
    )
    early = np.unique(starts[:cut])  # (none in a well-formed history)
    events = np.concatenate([early, arrived[firsts]])
    if not len(events):
        return events
    # Arrivals up to each distinct arrival: the index of the next distinct one.
    reached = np.append(firsts[1:], len(arrived)) if len(arrived) else firsts
    total = np.concatenate([np.zeros(len(early), np.intp), reached])
    total -= np.searchsorted(np.sort(run_end), events, "right")
    best = int(np.argmax(total))
    return events[best : best + 1]


def _peak(events: np.ndarray, queued: np.ndarray, running: np.ndarray, tz: str) -> dict[str, Any]:
    """The most jobs in flight at any event (none before the first job arrived)."""
    if not len(events):
        return {"in_flight": 0, "at": pd.NaT, "queued": 0, "processing": 0}
    best = int(np.argmax(queued + running))
    return {
        "in_flight": int(queued[best] + running[best]),
        "at": pd.Timestamp(float(events[best]), unit="ms", tz="UTC").tz_convert(tz),
        "queued": int(queued[best]),
        "processing": int(running[best]),
    }


def backlog(jobs: pd.DataFrame, *, freq: str = "1D", tz: str = "UTC") -> pd.DataFrame:
    """Are we keeping up? Jobs created and finished per bucket, and the open backlog.

    Returns
    -------
    DataFrame
        ``bucket``, ``created``, ``finished``, ``open`` (jobs created but not finished
        by the end of the bucket, counting from the first job in the frame), and
        ``net`` (created - finished: positive where the backlog grew).
    """
    _check_columns(jobs, ["created_at", "finished_at"], "backlog")
    size, tz = grain(freq), check_tz(tz)
    created = time_bucket(jobs["created_at"].dropna(), size, tz)
    finished = time_bucket(jobs["finished_at"].dropna(), size, tz)
    grid = edges(pd.concat([created, finished], ignore_index=True), size, tz)
    out = pd.DataFrame(
        {
            "bucket": grid,
            "created": created.value_counts().reindex(grid, fill_value=0).to_numpy("int64"),
            "finished": finished.value_counts().reindex(grid, fill_value=0).to_numpy("int64"),
        }
    )
    out["net"] = out["created"] - out["finished"]
    out["open"] = out["net"].cumsum()
    return out[["bucket", "created", "finished", "open", "net"]]
