"""Matplotlib helpers: data first, everything else keyword-only, ``ax=None`` in, Axes out.

matplotlib is imported only when a plot is drawn. Nothing here calls ``plt.show()`` or
touches rcParams; without ``ax`` a new :class:`matplotlib.figure.Figure` is made (not
registered with pyplot, so nothing leaks between calls), and works with any backend,
Agg included.
"""

from __future__ import annotations

from ittybit_frames.plots._base import KIND_COLORS as KIND_COLORS
from ittybit_frames.plots._base import STAGE_COLORS as STAGE_COLORS
from ittybit_frames.plots._base import STATUS_COLORS as STATUS_COLORS
from ittybit_frames.plots._shapes import (
    plot_durations,
    plot_failure_rate,
    plot_job_timeline,
    plot_stage_breakdown,
    plot_top_errors,
)
from ittybit_frames.plots._time import (
    plot_backlog,
    plot_in_flight,
    plot_incidents,
    plot_latency,
    plot_throughput,
)

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
