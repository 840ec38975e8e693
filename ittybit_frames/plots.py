"""Matplotlib helpers: data first, everything else keyword-only, ``ax=None`` in, Axes out.

matplotlib is imported only when a plot is drawn. Nothing here calls ``plt.show()`` or
touches rcParams; without ``ax`` a new :class:`matplotlib.figure.Figure` is made (not
registered with pyplot, so nothing leaks between calls), and works with any backend,
Agg included.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ittybit_frames import metrics
from ittybit_frames.rules import FAILURES, FINISHED, LATENCIES, SUMMARY_PERCENTILES, percentile_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ittybit_frames.frames import JobFrames

__all__ = [
    "plot_backlog",
    "plot_durations",
    "plot_failure_rate",
    "plot_in_flight",
    "plot_incidents",
    "plot_job_timeline",
    "plot_latency",
    "plot_stage_breakdown",
    "plot_throughput",
    "plot_top_errors",
]

# Colour per status and per kind, fixed so every chart tells the same story.
STATUS_COLORS = {
    "succeeded": "#3a923a",
    "failed": "#d62728",
    "cancelled": "#9e9e9e",
    "processing": "#1f77b4",
    "queued": "#ff7f0e",
    "other": "#8c564b",
}
# Kinds never borrow a status colour: a green "image" bar must not read as "succeeded".
KIND_COLORS = {
    "video": "#6a3d9a",
    "audio": "#e7298a",
    "image": "#e6ab02",
    "animation": "#17becf",
    "adaptive_video": "#08306b",
    "other": "#c49c94",
}
STAGE_COLORS = {
    "probe": "#9ecae1",
    "import": "#6baed6",
    "encode": "#2171b5",
    "export": "#08519c",
    "waiting": "#fdae6b",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (9.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=size, layout="constrained")
    new: Axes = figure.add_subplot()
    return new


def _empty(ax: Axes, title: str, xlabel: str, ylabel: str) -> Axes:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")
    return ax


def _per(freq: str) -> str:
    """'1h' -> 'hour', '6h' -> '6 hours', 'W' -> 'week': for titles and axis labels."""
    return metrics.grain(freq).label


def _time_label(tz: str) -> str:
    return f"time ({tz})"


def _color(key: str, palette: dict[str, str]) -> str | None:
    return palette.get(key)


def _time_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates  # noqa: PLC0415

    lo, hi = ax.dataLim.intervalx
    if hi - lo < 1 / 86_400:  # one instant (a single bucket): show an hour around it
        ax.set_xlim(lo - 1 / 48, hi + 1 / 48)
    locator = mdates.AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _naive(times: Any, tz: str = "UTC") -> pd.DatetimeIndex:
    """Matplotlib wants naive datetimes: wall-clock times in ``tz``, as the axis label says."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert(tz).tz_localize(None)
    return index


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
    if data.empty:
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


def plot_durations(
    frame: pd.DataFrame,
    *,
    column: str = "total_seconds",
    by: str = "kind",
    style: str = "ecdf",
    ax: Axes | None = None,
) -> Axes:
    """Distribution of a duration per group: ECDF (default) or histogram, log x."""
    ax = _axes(ax)
    title = f"Distribution of {column.removesuffix('_seconds')} time by {by}"
    data = frame[[column, by]].dropna()
    data = data[data[column] > 0]
    if data.empty:
        return _empty(ax, title, "seconds (log scale)", "share of jobs")
    for key, part in data.groupby(data[by], observed=True, sort=True):
        values = np.sort(part[column].to_numpy(dtype=float))
        p95 = float(np.quantile(values, 0.95))
        label = f"{key} (n={len(values):,}; p95 {p95:,.1f} s)"
        color = _color(str(key), KIND_COLORS)
        if style != "hist":  # the p95 of each group, marked where its curve crosses 0.95
            ax.scatter([p95], [0.95], s=16, color=color, zorder=3)
        if style == "hist":
            bins = np.logspace(np.log10(values.min()), np.log10(values.max()) + 1e-9, 40)
            ax.hist(values, bins=bins.tolist(), histtype="step", label=label, color=color)
        else:
            ax.step(
                values,
                np.arange(1, len(values) + 1) / len(values),
                where="post",
                label=label,
                color=color,
            )
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel("seconds (log scale)")
    ax.set_ylabel("share of jobs" if style != "hist" else "jobs")
    ax.legend(loc="lower right" if style != "hist" else "upper right", fontsize="small")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def _day_number(when: Any) -> float:
    """Matplotlib's date number (days) of a naive timestamp."""
    import matplotlib.dates as mdates  # noqa: PLC0415

    return float(mdates.date2num(when))  # type: ignore[no-untyped-call]


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


def plot_failure_rate(jobs: pd.DataFrame, *, by: str = "kind", ax: Axes | None = None) -> Axes:
    """Failure rate per group, in percent, with the counts behind each bar."""
    ax = _axes(ax)
    title = f"Failure rate by {by} (failed, and cancelled by a failed task)"
    data = metrics.failure_rate(jobs, by=by)
    if data.empty:
        return _empty(ax, title, by, "failure rate (%)")
    labels = data[by].astype(str).tolist()
    heights = (data["failure_rate"] * 100).to_numpy()
    bars = ax.bar(labels, heights, color=[_color(k, KIND_COLORS) or "#d62728" for k in labels])
    for bar, (_, row) in zip(bars, data.iterrows(), strict=True):
        failures = int(sum(row[n] for n in FAILURES))
        ax.annotate(
            f"{failures:,} / {int(row[FINISHED]):,}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize="small",
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_title(f"{title}\n{_main_cause(jobs)}", fontsize="medium")
    ax.set_xlabel(by)
    ax.set_ylabel("failure rate (%)")
    ax.set_ylim(0, max(float(heights.max()) * 1.2, 1.0))
    return ax


def _main_cause(jobs: pd.DataFrame) -> str:
    """'main cause: input_corrupt (user side, 31 %); sides: user 55 %, platform 40 %...'."""
    if "error_kind" not in jobs:
        return ""
    causes = metrics.failure_causes(jobs)
    if causes.empty:
        return "no failures"
    top = causes.iloc[0]
    sides = causes.groupby("side")["share"].sum().sort_values(ascending=False)
    split = ", ".join(f"{side} {share:.0%}" for side, share in sides.items())
    return f"main cause: {top['error_kind']} ({top['side']} side, {top['share']:.0%}); {split}"


def plot_top_errors(frame: pd.DataFrame, *, n: int = 10, ax: Axes | None = None) -> Axes:
    """The most common (normalised) error messages, as horizontal bars."""
    ax = _axes(ax, (9.0, 0.5 * n + 1.5))
    title = "Most common errors (IDs, URLs and numbers masked)"
    data = metrics.top_errors(frame, n=n)
    if data.empty:
        return _empty(ax, title, "occurrences", "error")
    labels = [textwrap.shorten(e, 70, placeholder="...") for e in data["error"]]
    y = np.arange(len(data))[::-1]
    ax.barh(y, data["count"], color="#d62728")
    ax.set_yticks(y, labels, fontsize="small")
    for yi, (count, share) in zip(y, zip(data["count"], data["share"], strict=True), strict=True):
        ax.annotate(
            f"{count:,} ({share:.0%})",
            (count, yi),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.set_xlim(0, float(data["count"].max()) * 1.25)
    ax.set_title(title)
    ax.set_xlabel("occurrences")
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


def plot_stage_breakdown(
    tasks: pd.DataFrame,
    *,
    by: str | None = "job_kind",
    share: str = "typical",
    ax: Axes | None = None,
) -> Axes:
    """Where succeeded jobs' time goes: share per stage and waiting, per group.

    ``share="typical"`` (default) draws the median job's shares (rescaled to 100 %), which
    one job stuck for hours cannot dominate; ``share="pooled"`` the shares of all the
    jobs' seconds added up. The title says which.
    """
    if share not in ("typical", "pooled"):
        raise ValueError(f"share={share!r}: use 'typical' (median job) or 'pooled' (all seconds)")
    column = "typical_share" if share == "typical" else "share"
    ax = _axes(ax)
    title = (
        "Where a typical succeeded job's time goes (median shares per job)"
        if share == "typical"
        else "Share of all succeeded jobs' time by stage (seconds pooled)"
    )
    data = metrics.stage_breakdown(tasks, by=by)
    if data.empty or data["seconds"].sum() == 0:
        return _empty(ax, title, "share of job time (%)", by or "")
    groups = data[by].astype(str).unique().tolist() if by else ["all jobs"]
    y = np.arange(len(groups))
    left = np.zeros(len(groups))
    for stage in ("probe", "import", "encode", "export", "waiting"):
        part = data[data["stage"] == stage]
        shares = (part[column].to_numpy() * 100) if len(part) else np.zeros(len(groups))
        ax.barh(y, shares, left=left, label=stage, color=STAGE_COLORS[stage])
        left = left + shares
    ax.set_yticks(y, groups)
    ax.set_xlim(0, 100)
    ax.set_title(title)
    ax.set_xlabel("share of job time (%)")
    ax.set_ylabel(by or "")
    # Below the axes, so it never covers a bar.
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="small", ncols=5, frameon=False
    )
    return ax


def plot_job_timeline(frames: JobFrames, job_id: str, *, ax: Axes | None = None) -> Axes:
    """Gantt chart of one job's tasks: waiting (light) and running (dark) per task."""
    ax = _axes(ax, (9.0, 3.5))
    tasks = frames.tasks[frames.tasks["job_id"] == job_id].sort_values("task_index")
    title = f"Job {job_id}"
    if tasks.empty:
        return _empty(ax, title, "seconds since the job was created", "task")
    origin = tasks["job_created_at"].iloc[0]
    y = np.arange(len(tasks))[::-1]
    for yi, (_, task) in zip(y, tasks.iterrows(), strict=True):
        created = (task["created_at"] - origin).total_seconds()
        start = task["started_at"]
        end = task["finished_at"]
        status = str(task["status"])
        color = STATUS_COLORS.get(status, "#7f7f7f")
        if pd.notna(start):
            s = (start - origin).total_seconds()
            ax.barh(yi, s - created, left=created, color=color, alpha=0.25)
            if pd.notna(end):
                ax.barh(yi, (end - start).total_seconds(), left=s, color=color)
        elif pd.notna(end):
            ax.barh(
                yi,
                (end - origin).total_seconds() - created,
                left=created,
                color=color,
                alpha=0.25,
                hatch="//",
            )
    labels = [
        f"{k} ({s})"
        for k, s in zip(tasks["kind"].astype(str), tasks["status"].astype(str), strict=True)
    ]
    ax.set_yticks(y, labels)
    job = frames.jobs[frames.jobs["job_id"] == job_id]
    if not job.empty:
        title += f": {job['kind'].iloc[0]}, {job['status'].iloc[0]}"
    ax.set_title(title + " (light: waiting, dark: running)")
    ax.set_xlabel("seconds since the job was created")
    return ax
