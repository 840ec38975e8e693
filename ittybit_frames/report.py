"""A shareable report: one self-contained ``report.html`` plus each chart as a PNG.

Figures are made as :class:`matplotlib.figure.Figure` objects rendered by the Agg
canvas, so the report works on a server without a display and leaves pyplot's global
state alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ittybit_frames import metrics, plots
from ittybit_frames.frames import JobFrames
from ittybit_frames.lake import read_parquet
from ittybit_frames.rules import DURATIONS, RATE, TOTAL_SECONDS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["report"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1rem; }
h1 { margin-bottom: 0; } .meta { color: #666; margin-top: .2rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: .5rem 0 1.5rem; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
"""


def _load(frames_or_path: JobFrames | str | os.PathLike[str], since: Any, until: Any) -> JobFrames:
    if isinstance(frames_or_path, JobFrames):
        return frames_or_path.subset(since=since, until=until)

    return read_parquet(frames_or_path, since=since, until=until)


def _freq_for(jobs: pd.DataFrame) -> str:
    """A bucket size that gives a readable number of bars for the time span."""
    created = jobs["created_at"].dropna()
    if created.empty:
        return "1h"
    span = created.max() - created.min()
    if span > pd.Timedelta(days=20):
        return "1D"
    if span > pd.Timedelta(days=3):
        return "6h"
    return "1h"


def _figure(size: tuple[float, float]) -> tuple[Any, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=size, layout="constrained", dpi=110)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _table(frame: pd.DataFrame, *, floats: str = "{:,.2f}") -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else floats.format(value)
        if isinstance(value, pd.Timestamp):
            return f"{value:%Y-%m-%d %H:%M} UTC"
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            return ""
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


_Draw = Callable[[JobFrames, str, "Axes"], object]
#: The report's charts, in page order: name (also the PNG's), caption, size, drawing.
_CHARTS: tuple[tuple[str, str, tuple[float, float], _Draw], ...] = (
    (
        "throughput",
        "Jobs finished per bucket, by status.",
        (10, 4.5),
        lambda f, freq, ax: plots.plot_throughput(f.jobs, freq=freq, by="status", ax=ax),
    ),
    (
        "latency",
        "Queue and processing time percentiles over time.",
        (10, 4.5),
        lambda f, freq, ax: plots.plot_latency(f.jobs, freq=freq, ax=ax),
    ),
    (
        "durations",
        "How long jobs take end to end, by kind.",
        (10, 4.5),
        lambda f, freq, ax: plots.plot_durations(f.jobs, ax=ax),
    ),
    (
        "failure_rate",
        "Failed jobs (and jobs cancelled by a failed task).",
        (9, 4),
        lambda f, freq, ax: plots.plot_failure_rate(f.jobs, ax=ax),
    ),
    (
        "top_errors",
        "The most common errors.",
        (11, 6),
        lambda f, freq, ax: plots.plot_top_errors(f.jobs, ax=ax),
    ),
    (
        "in_flight",
        "Jobs queued and processing.",
        (10, 4.5),
        lambda f, freq, ax: plots.plot_in_flight(f.jobs, freq="10min", ax=ax),
    ),
    (
        "stage_breakdown",
        "Where the time of succeeded jobs goes.",
        (10, 4),
        lambda f, freq, ax: plots.plot_stage_breakdown(f.tasks, ax=ax),
    ),
)


def report(
    frames_or_path: JobFrames | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    since: Any = None,
    until: Any = None,
) -> Path:
    """Write ``report.html`` (charts embedded, summary tables, data problems) and PNGs.

    Parameters
    ----------
    frames_or_path : JobFrames or path
        Frames, or the folder of a Parquet lake.
    out_dir : str or path
        Where to write. Created if needed; the report appears whole or not at all.
    since, until : optional
        Restrict to jobs created in ``[since, until)``.

    Returns
    -------
    Path
        The ``report.html`` file.
    """
    frames = _load(frames_or_path, since, until)
    jobs = frames.jobs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".report-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        freq = _freq_for(jobs)
        charts: list[tuple[str, str, bytes]] = []
        for name, caption, size, draw in _CHARTS:
            figure, ax = _figure(size)
            draw(frames, freq, ax)
            data = _png(figure)
            (staging / f"{name}.png").write_bytes(data)
            charts.append((name, caption, data))
        page = _html(frames, charts)
        (staging / "report.html").write_text(page, encoding="utf-8")
        for item in staging.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "report.html"


def _html(frames: JobFrames, charts: list[tuple[str, str, bytes]]) -> str:
    jobs = frames.jobs
    created = jobs["created_at"].dropna()
    span = (
        f"{created.min():%Y-%m-%d %H:%M} to {created.max():%Y-%m-%d %H:%M} UTC"
        if len(created)
        else "no jobs"
    )
    finished = jobs[TOTAL_SECONDS].dropna()
    rate = metrics.failure_rate(jobs, by=None)
    failure = float(rate[RATE].iloc[0]) if len(rate) else float("nan")
    errors = metrics.top_errors(jobs, n=10)
    cards = [
        ("jobs", f"{len(jobs):,}"),
        ("tasks", f"{len(frames.tasks):,}"),
        ("failure rate", "" if pd.isna(failure) else f"{failure:.1%}"),
        ("p95 total time", f"{finished.quantile(0.95):,.1f} s" if len(finished) else ""),
        ("main error", errors["error"].iloc[0] if len(errors) else "none"),
        ("data problems", f"{len(frames.problems):,}"),
    ]
    summary = metrics.duration_summary(
        jobs,
        columns=DURATIONS,
        percentiles=(0.5, 0.95, 0.99),
    )
    failure_table = metrics.failure_rate(jobs)
    problems = frames.problems.head(50)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ittybit jobs report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ittybit jobs report</h1>",
        f"<p class='meta'>Jobs created {html.escape(span)}. Generated {generated} by "
        "ittybit-frames.</p>",
        "<div class='cards'>"
        + "".join(
            f"<div class='card'>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in cards
        )
        + "</div>",
    ]
    for name, caption, data in charts:
        encoded = base64.b64encode(data).decode()
        parts.append(
            f"<h2>{html.escape(name.replace('_', ' ').capitalize())}</h2>"
            f"<p>{html.escape(caption)}</p>"
            f"<img alt='{html.escape(name)}' src='data:image/png;base64,{encoded}'>"
        )
        if name == "failure_rate":
            parts.append(_table(failure_table, floats="{:.2%}"))
        if name == "top_errors" and len(errors):
            parts.append(_table(errors.drop(columns=["error_kind"]), floats="{:.1%}"))
        if name == "durations":
            parts.append(_table(summary))
    parts.append("<h2>Data problems</h2>")
    if problems.empty:
        parts.append("<p>None: every value was usable.</p>")
    else:
        parts.append(
            f"<p>{len(frames.problems):,} values could not be used as sent "
            "(first 50 shown).</p>" + _table(problems)
        )
    parts.append("</body></html>")
    return "\n".join(parts)
