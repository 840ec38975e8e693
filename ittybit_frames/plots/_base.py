"""Shared by the charts: colours, empty axes, time axes and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ittybit_frames import metrics

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
    # 3 to 8 ticks: some step of the unit gives that for every span (5 to 8 did not for
    # spans of 4 to 5 hours, days or minutes, and matplotlib warned while saving).
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _naive(times: Any, tz: str = "UTC") -> pd.DatetimeIndex:
    """Matplotlib wants naive datetimes: wall-clock times in ``tz``, as the axis label says."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert(tz).tz_localize(None)
    return index


def _day_number(when: Any) -> float:
    """Matplotlib's date number (days) of a naive timestamp."""
    import matplotlib.dates as mdates  # noqa: PLC0415

    return float(mdates.date2num(when))  # type: ignore[no-untyped-call]
