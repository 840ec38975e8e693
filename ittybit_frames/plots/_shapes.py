"""Charts of shapes: duration distributions, failure rates, errors, stages, one job."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ittybit_frames import metrics
from ittybit_frames.plots._base import (
    KIND_COLORS,
    STAGE_COLORS,
    STATUS_COLORS,
    _axes,
    _color,
    _empty,
)
from ittybit_frames.rules import FAILURES, FINISHED

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ittybit_frames.frames import JobFrames


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
