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
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ittybit_frames import metrics, plots
from ittybit_frames.frames import JobFrames
from ittybit_frames.lake import read_parquet
from ittybit_frames.rules import RATE, TOTAL_SECONDS, error_side

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
.card small { display: block; color: #666; max-width: 16rem; }
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
    with warnings.catch_warnings():
        # Error messages and customers in a script the font lacks (Chinese, Arabic...)
        # are drawn as boxes; the tables hold their text. One warning per glyph would
        # bury the command's one line.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
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
        "incidents",
        "Windows where the p95 queue wait, or a kind's failure rate, far exceeded its usual"
        " level (metrics.incidents); each is labelled with its peak, the usual level and,"
        " for failures, the main error kind.",
        (10, 4),
        lambda f, freq, ax: plots.plot_incidents(f.jobs, ax=ax),
    ),
    (
        "backlog",
        "Are we keeping up? Jobs created and finished per bucket; the shaded area is the"
        " number of jobs created but not yet finished (the backlog).",
        (10, 4.5),
        lambda f, freq, ax: plots.plot_backlog(f.jobs, freq=freq, ax=ax),
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
        "Where the time of a typical succeeded job goes: the median job's share of its own"
        " time per stage (rescaled to 100 %), so one job stuck for hours cannot dominate.",
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
    customer_key: str = "customer_id",
) -> Path:
    """Write ``report.html`` (charts embedded, summary tables, data problems) and PNGs.

    Parameters
    ----------
    frames_or_path : JobFrames or path
        Frames, or a Parquet lake: its folder, or its URL (``s3://...``, ``gs://...``).
    out_dir : str or path
        Where to write. Created if needed; the report appears whole or not at all.
    since, until : optional
        Restrict to jobs created in ``[since, until)``.
    customer_key : str, default "customer_id"
        The key of the jobs' ``metadata`` that names a customer (the per-customer table).

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
        page = _html(frames, charts, customer_key)
        (staging / "report.html").write_text(page, encoding="utf-8")
        for item in staging.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "report.html"


def _html(frames: JobFrames, charts: list[tuple[str, str, bytes]], customer_key: str) -> str:
    jobs = frames.jobs
    created = jobs["created_at"].dropna()
    span = (
        f"{created.min():%Y-%m-%d %H:%M} to {created.max():%Y-%m-%d %H:%M} UTC"
        if len(created)
        else "no jobs"
    )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    errors = metrics.top_errors(jobs, n=10)
    tables = {
        "durations": _table(_p95_by_kind(jobs)),
        "failure_rate": _table(metrics.failure_rate(jobs), floats="{:.2%}")
        + _table(metrics.failure_causes(jobs).head(10), floats="{:.1%}"),
        "top_errors": _table(_errors_table(errors), floats="{:.1%}") if len(errors) else "",
    }
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ittybit jobs report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ittybit jobs report</h1>",
        f"<p class='meta'>Jobs created {html.escape(span)}. Generated {generated} by "
        "ittybit-frames.</p>",
        "<div class='cards'>"
        + "".join(
            f"<div class='card'>{html.escape(k)}<b>{html.escape(v)}</b>"
            f"<small>{html.escape(note)}</small></div>"
            for k, v, note in _headline(frames)
        )
        + "</div>",
        _incidents_section(jobs),
    ]
    for name, caption, data in charts:
        encoded = base64.b64encode(data).decode()
        parts.append(
            f"<h2>{html.escape(name.replace('_', ' ').capitalize())}</h2>"
            f"<p>{html.escape(caption)}</p>"
            f"<img alt='{html.escape(name)}' src='data:image/png;base64,{encoded}'>"
            + tables.get(name, "")
        )
    parts.append(_customers_section(jobs, customer_key))
    parts.append(_problems_section(frames))
    parts.append("</body></html>")
    return "\n".join(parts)


def _headline(frames: JobFrames) -> list[tuple[str, str, str]]:
    """(label, figure, note) cards: volume, failures and their cause, speed, health."""
    jobs = frames.jobs
    created = jobs["created_at"].dropna()
    days = max((created.max() - created.min()) / pd.Timedelta(days=1), 1.0) if len(created) else 1
    rate = metrics.failure_rate(jobs, by=None)
    failure = float(rate[RATE].iloc[0]) if len(rate) else float("nan")
    causes = metrics.failure_causes(jobs)
    cause = "no failures"
    if len(causes):
        top = causes.iloc[0]
        sides = causes.groupby("side")["share"].sum()
        cause = (
            f"main cause {top['error_kind']} ({top['share']:.0%}); "
            f"{sides.get('user', 0):.0%} user side, {sides.get('platform', 0):.0%} platform"
        )
    p95 = _p95_by_kind(jobs)
    speed = " · ".join(f"{r.kind} {r.p95_total_seconds:,.0f} s" for r in p95.itertuples())
    within = metrics.sla(jobs, within="5min")
    sla = (
        f"{float(within['share'].iloc[0]):.1%}"
        if len(within) and within["finished"].iloc[0]
        else ""
    )
    open_now = int(jobs["finished_at"].isna().sum())
    return [
        ("jobs per day", f"{len(jobs) / days:,.0f}", f"{len(jobs):,} jobs in {days:,.1f} days"),
        ("failure rate", "" if pd.isna(failure) else f"{failure:.1%}", cause),
        ("p95 total time per kind", "", speed or "no finished job"),
        ("finished within 5 min", sla, "share of finished jobs (SLA)"),
        ("stuck now", f"{len(metrics.stuck(jobs)):,}", "open longer than 3x their kind's p95"),
        ("open now", f"{open_now:,}", "queued or processing when the data was read"),
        ("data problems", f"{len(frames.problems):,}", "values that could not be used as sent"),
    ]


def _p95_by_kind(jobs: pd.DataFrame) -> pd.DataFrame:
    summary = metrics.duration_summary(jobs, columns=(TOTAL_SECONDS,), percentiles=(0.5, 0.95))
    summary = summary[summary["count"] > 0]
    return summary.rename(columns={"p50": "p50_total_seconds", "p95": "p95_total_seconds"})[
        ["kind", "count", "p50_total_seconds", "p95_total_seconds", "low_count"]
    ].sort_values("p95_total_seconds", ascending=False)


def _errors_table(errors: pd.DataFrame) -> pd.DataFrame:
    table = errors.assign(side=errors["error_kind"].map(error_side))
    columns = ["error", "error_kind", "side", "count", "share", "first_seen", "last_seen"]
    return table[[*columns, "example_job_ids"]]


def _incidents_section(jobs: pd.DataFrame) -> str:
    found = metrics.incidents(jobs)
    head = "<h2>Incidents</h2>"
    if found.empty:
        return head + "<p>None: queue waits and failure rates stayed near their usual level.</p>"
    items = [f"<li>{html.escape(_incident_text(row))}</li>" for row in found.to_dict("records")]
    return (
        head + "<p>Windows where the p95 queue wait or a kind's failure rate far exceeded its usual"
        " level (<code>metrics.incidents</code>).</p><ul>" + "".join(items) + "</ul>"
    )


def _incident_text(row: dict[Any, Any]) -> str:
    when = f"{row['start']:%Y-%m-%d %H:%M} to {row['end']:%Y-%m-%d %H:%M} UTC"
    if row["signal"] == "queue_wait":
        return (
            f"Queue backlog, {when}: p95 wait reached {row['peak']:,.0f} s "
            f"(usually {row['usual']:,.1f} s) for {row['jobs']:,} jobs created then."
        )
    error = row["main_error"]
    cause = f" Main error: {error} ({row['main_error_kind']})." if isinstance(error, str) else ""
    return (
        f"{row['group']} failures, {when}: failure rate {row['peak']:.0%} "
        f"(usually {row['usual']:.1%}), {row['failures']:,} failed jobs.{cause}"
    )


def _customers_section(jobs: pd.DataFrame, key: str) -> str:
    if "metadata" not in jobs or jobs["metadata"].isna().all():
        return ""
    table = metrics.by_customer(jobs, key=key).head(15)
    if (table["customer"] == "(none)").all():
        return f"<h2>Customers</h2><p>No job has <code>metadata.{html.escape(key)}</code>.</p>"
    return (
        f"<h2>Customers</h2><p>By <code>metadata.{html.escape(key)}</code>, most jobs first"
        " (top 15);"
        " <code>user_side</code> is the share of a customer's failures caused by what they"
        " sent; <code>low_count</code> marks customers with too few finished jobs to judge.</p>"
        + _table(table, floats="{:,.3f}")
    )


def _problems_section(frames: JobFrames) -> str:
    problems = frames.problems.head(50)
    if problems.empty:
        return "<h2>Data problems</h2><p>None: every value was usable.</p>"
    return (
        f"<h2>Data problems</h2><p>{len(frames.problems):,} values could not be used as sent "
        "(first 50 shown).</p>" + _table(problems)
    )
