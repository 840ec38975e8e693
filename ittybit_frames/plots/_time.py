"""Charts over time: throughput, backlog, latency, in flight, incidents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ittybit_frames import metrics
from ittybit_frames.plots._base import (
    KIND_COLORS,
    STATUS_COLORS,
    _axes,
    _color,
    _day_number,
    _empty,
    _naive,
    _per,
    _time_axis,
    _time_label,
)
from ittybit_frames.rules import LATENCIES, SUMMARY_PERCENTILES, percentile_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_throughput(
    jobs: pd.DataFrame,
    *,
    freq: str = "1h",
    by: str | None = "status",
    on: str = "finished_at",
    tz: str = "UTC",
    ax: Axes | None = None,
) -> Axes:
    """Stacked bars of jobs per time bucket (by status or kind), edges in ``tz``."""
    ax = _axes(ax)
    title = (
        f"Throughput: jobs finished per {_per(freq)}"
        if on == "finished_at"
        else f"Jobs per {_per(freq)} (by {on})"
    )
    data = metrics.throughput(jobs, freq=freq, by=by, on=on, tz=tz)
    if data.empty or not data["jobs"].sum():
        return _empty(ax, title, _time_label(tz), f"jobs per {_per(freq)}")
    width = metrics.grain(freq).days * 0.9  # date axes count in days
    if by is None:
        ax.bar(_naive(data["bucket"], tz), data["jobs"], width=width, label="jobs", color="#1f77b4")
    else:
        palette = STATUS_COLORS if by == "status" else KIND_COLORS
        wide = data.pivot_table(
            index="bucket", columns=by, values="jobs", aggfunc="sum", fill_value=0, observed=True
        )
        bottom = np.zeros(len(wide))
        x = _naive(pd.Series(wide.index), tz)
        for key in wide.columns:
            heights = wide[key].to_numpy()
            if not heights.any():
                continue
            ax.bar(
                x,
                heights,
                bottom=bottom,
                width=width,
                label=str(key),
                color=_color(str(key), palette),
            )
            bottom = bottom + heights
        ax.legend(title=by, loc="upper left", fontsize="small", ncols=3)
        ax.set_ylim(0, float(bottom.max()) * 1.25)  # headroom: the legend covers no bar
    ax.set_title(title)
    ax.set_xlabel(_time_label(tz))
    ax.set_ylabel(f"jobs per {_per(freq)}")
    _time_axis(ax)
    return ax


def plot_backlog(
    jobs: pd.DataFrame, *, freq: str = "1D", tz: str = "UTC", ax: Axes | None = None
) -> Axes:
    """Are we keeping up? Jobs created and finished per bucket, and the open backlog."""
    ax = _axes(ax)
    title = f"Created vs finished per {_per(freq)}, and jobs still open"
    data = metrics.backlog(jobs, freq=freq, tz=tz)
    if data.empty:
        return _empty(ax, title, _time_label(tz), f"jobs per {_per(freq)}")
    # Each step runs to its bucket's end: repeat the last bucket at that edge.
    end = data["bucket"].iloc[-1] + pd.Timedelta(days=metrics.grain(freq).days)
    data = pd.concat([data, data.tail(1).assign(bucket=end)], ignore_index=True)
    x = _naive(data["bucket"], tz)
    ax.step(x, data["created"], where="post", label="created", color="#1f77b4")
    ax.step(x, data["finished"], where="post", label="finished", color="#3a923a", linestyle="--")
    ax.fill_between(
        x, 0, data["open"], step="post", color="#ff7f0e", alpha=0.35, label="open at bucket end"
    )
    ax.set_title(title)
    ax.set_xlabel(_time_label(tz))
    ax.set_ylabel(f"jobs per {_per(freq)} (open: jobs)")
    ax.legend(loc="upper left", fontsize="small", ncols=3)
    _time_axis(ax)
    return ax


def plot_latency(
    jobs: pd.DataFrame,
    *,
    freq: str = "1h",
    percentiles: Sequence[float] = SUMMARY_PERCENTILES,
    columns: Sequence[str] = LATENCIES,
    tz: str = "UTC",
    ax: Axes | None = None,
) -> Axes:
    """Percentile lines of queue and processing time over time (log scale), edges in ``tz``."""
    ax = _axes(ax)
    title = f"Latency per {_per(freq)}: " + " / ".join(map(percentile_name, percentiles))
    data = metrics.latency_over_time(
        jobs, freq=freq, percentiles=percentiles, column=list(columns), tz=tz
    )
    names = [percentile_name(q) for q in percentiles]
    # A log scale has no place for 0 s (jobs answered at once): those points are left out.
    data = data.assign(**{n: data[n].where(data[n] > 0) for n in names})
    if data.empty or data[names].isna().all(axis=None):
        return _empty(ax, title, _time_label(tz), "seconds")
    styles = ["-", "--", ":", "-."]
    colors = {
        "queue_seconds": "#ff7f0e",
        "processing_seconds": "#1f77b4",
        "total_seconds": "#2ca02c",
    }
    for column in columns:
        part = data[data["column"] == column]
        for q, style in zip(percentiles, styles, strict=False):
            name = percentile_name(q)
            label = f"{column.removesuffix('_seconds')} {name}"
            ax.plot(
                _naive(part["bucket"], tz), part[name], style, label=label, color=colors.get(column)
            )
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(_time_label(tz))
    ax.set_ylabel("seconds (log scale)")
    ax.legend(loc="upper left", fontsize="small", ncols=2)
    _time_axis(ax)
    return ax


def plot_incidents(jobs: pd.DataFrame, *, ax: Axes | None = None, **options: Any) -> Axes:
    """The incidents :func:`ittybit_frames.metrics.incidents` finds, on a timeline.

    One row per signal and group (queue wait, a kind's failures); each window is drawn
    with a marker (short windows stay visible on a month's axis) and labelled with its
    peak against the usual level. ``options`` go to ``metrics.incidents``.
    """
    ax = _axes(ax)
    title = "Incidents: queue wait or failure rate far above its usual level"
    found = metrics.incidents(jobs, **options)
    created = jobs["created_at"].dropna() if "created_at" in jobs else pd.Series([], dtype=object)
    if found.empty or created.empty:
        return _empty(ax, title, "time (UTC)", "")
    records: list[dict[Any, Any]] = found.to_dict("records")
    rows = sorted({(r["signal"], r["group"]) for r in records})
    colors = {"queue_wait": STATUS_COLORS["queued"], "failure_rate": STATUS_COLORS["failed"]}
    for r in records:
        y = rows.index((r["signal"], r["group"]))
        start, end = (_day_number(t) for t in _naive([r["start"], r["end"]]))
        color = colors[r["signal"]]
        ax.barh(y, end - start, left=start, height=0.5, color=color)
        ax.plot([start], [y], marker="v", color=color)
    for signal, group in rows:  # label the worst window of each row; the rest are marked
        worst = max(
            (r for r in records if (r["signal"], r["group"]) == (signal, group)),
            key=lambda r: float(r["ratio"]),
        )
        text = (
            f"worst {worst['start']:%m-%d %H:%M}: p95 wait {worst['peak']:,.0f} s"
            f" (usual {worst['usual']:,.1f} s)"
            if signal == "queue_wait"
            else f"worst {worst['start']:%m-%d %H:%M}: {worst['peak']:.0%} failed"
            f" (usual {worst['usual']:.1%}), {worst['main_error_kind']}"
        )
        y = rows.index((signal, group))
        ax.annotate(text, (0.01, y + 0.33), xycoords=("axes fraction", "data"), fontsize=8)
    labels = [("queue wait" if s == "queue_wait" else f"{g} failures") for s, g in rows]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.6, len(rows) - 0.2)
    lo, hi = (_day_number(t) for t in _naive([created.min(), created.max()]))
    ax.set_xlim(lo, hi)
    ax.set_title(title)
    ax.set_xlabel("time (UTC)")
    _time_axis(ax)
    return ax


def plot_in_flight(
    jobs: pd.DataFrame,
    *,
    freq: str = "1min",
    as_of: Any = None,
    tz: str = "UTC",
    ax: Axes | None = None,
) -> Axes:
    """Jobs queued and processing over time (stacked, times in ``tz``), the peak marked."""
    ax = _axes(ax)
    title = "Jobs in flight"
    data = metrics.in_flight(jobs, freq=freq, as_of=as_of, tz=tz)
    if data.empty:
        return _empty(ax, title, _time_label(tz), "jobs")
    x = _naive(data["time"], tz)
    ax.stackplot(
        x,
        data["processing"],
        data["queued"],
        labels=["processing", "queued"],
        colors=[STATUS_COLORS["processing"], STATUS_COLORS["queued"]],
        step="post",
    )
    peak = data.attrs["peak"]
    ax.axhline(
        peak["in_flight"],
        color="0.3",
        linestyle=":",
        linewidth=1,
        label=f"peak {peak['in_flight']:,} at {peak['at']:%Y-%m-%d %H:%M} {tz}",
    )
    ax.set_title(f"{title} (sampled every {_per(freq)}; peak exact)")
    ax.set_xlabel(_time_label(tz))
    ax.set_ylabel("jobs")
    ax.legend(loc="upper left", fontsize="small")
    _time_axis(ax)
    return ax
