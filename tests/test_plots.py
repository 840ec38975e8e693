"""Plots: asserted on their artists (bar heights, line data, labels), never on pixels."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics, plots

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def frames(history: list[dict[str, Any]]) -> itf.JobFrames:
    return itf.to_frames(history)


@pytest.fixture(autouse=True)
def _no_pyplot_figures() -> Any:
    yield
    if "matplotlib.pyplot" in sys.modules:  # nothing here may go through pyplot
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []
        plt.close("all")


def heights(ax: Any) -> list[float]:
    return [patch.get_height() for patch in ax.patches]


def test_throughput_bars_are_the_metric(frames: itf.JobFrames) -> None:
    ax = plots.plot_throughput(frames.jobs, freq="1D", by=None)
    expected = metrics.throughput(frames.jobs, freq="1D")
    assert heights(ax) == expected["jobs"].tolist()
    assert ax.get_xlabel() == "time (UTC)" and ax.get_ylabel() == "jobs per day"
    assert ax.get_title() == "Throughput: jobs finished per day"
    stacked = plots.plot_throughput(frames.jobs, freq="1D", by="status")
    assert sum(heights(stacked)) == expected["jobs"].sum()
    legend = [t.get_text() for t in stacked.get_legend().get_texts()]
    assert set(legend) <= {"succeeded", "failed", "cancelled"} and "succeeded" in legend


def test_failure_rate_bars(frames: itf.JobFrames) -> None:
    ax = plots.plot_failure_rate(frames.jobs)
    expected = metrics.failure_rate(frames.jobs)
    assert heights(ax) == pytest.approx((expected["failure_rate"] * 100).tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == expected["kind"].astype(str).tolist()
    assert ax.get_ylabel() == "failure rate (%)"


def test_latency_lines(frames: itf.JobFrames) -> None:
    ax = plots.plot_latency(frames.jobs, freq="1D")
    expected = metrics.latency_over_time(frames.jobs, freq="1D")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"queue p50", "queue p95", "processing p50", "processing p95"}
    want = expected[expected["column"] == "processing_seconds"]["p95"].to_numpy()
    assert np.allclose(lines["processing p95"].get_ydata(), want)
    assert ax.get_yscale() == "log" and "seconds" in ax.get_ylabel()


def test_duration_ecdf_per_kind(frames: itf.JobFrames) -> None:
    ax = plots.plot_durations(frames.jobs)
    lines = ax.get_lines()
    kinds = frames.jobs.dropna(subset=["total_seconds"])["kind"].astype(str).unique()
    assert len(lines) == len(kinds)
    for line in lines:
        assert line.get_ydata()[-1] == 1.0  # each ECDF ends at 100 %
    assert ax.get_xscale() == "log"
    assert all("(n=" in t.get_text() for t in ax.get_legend().get_texts())
    video = frames.jobs.loc[frames.jobs["kind"] == "video", "total_seconds"].dropna()
    label = next(
        t.get_text() for t in ax.get_legend().get_texts() if t.get_text().startswith("video")
    )
    assert f"p95 {video.quantile(0.95):,.1f} s" in label  # each kind's p95, marked and named


def test_top_errors_bars(frames: itf.JobFrames) -> None:
    ax = plots.plot_top_errors(frames.jobs, n=5)
    expected = metrics.top_errors(frames.jobs, n=5)
    widths = [p.get_width() for p in ax.patches]
    assert widths == expected["count"].tolist()
    assert ax.get_xlabel() == "occurrences"


def test_in_flight_marks_the_exact_peak(frames: itf.JobFrames) -> None:
    ax = plots.plot_in_flight(frames.jobs, freq="1h")
    peak = metrics.in_flight(frames.jobs, freq="1h").attrs["peak"]
    dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert dotted and dotted[0].get_ydata()[0] == peak["in_flight"]
    assert "peak" in dotted[0].get_label()


@pytest.mark.parametrize(("share", "column"), [("typical", "typical_share"), ("pooled", "share")])
def test_stage_breakdown_shares(frames: itf.JobFrames, share: str, column: str) -> None:
    ax = plots.plot_stage_breakdown(frames.tasks, share=share)
    expected = metrics.stage_breakdown(frames.tasks)
    widths = [p.get_width() for p in ax.patches]
    want = []
    for stage in ("probe", "import", "encode", "export", "waiting"):
        want += (expected[expected["stage"] == stage][column] * 100).tolist()
    assert widths == pytest.approx(want)
    assert ax.get_xlim() == (0.0, 100.0)
    assert ("median" in ax.get_title()) == (share == "typical")


def test_job_timeline(frames: itf.JobFrames) -> None:
    job_id = str(frames.jobs[frames.jobs["status"] == "succeeded"]["job_id"].iloc[0])
    ax = plots.plot_job_timeline(frames, job_id)
    assert len(ax.get_yticklabels()) == 4
    assert job_id in ax.get_title()
    assert len(ax.patches) == 8  # a waiting bar and a running bar per task


@pytest.mark.parametrize("name", [n for n in plots.__all__ if n != "plot_job_timeline"])
def test_empty_input_gives_labelled_empty_axes(name: str) -> None:
    empty = itf.to_frames([])
    frame = empty.tasks if name == "plot_stage_breakdown" else empty.jobs
    ax = getattr(plots, name)(frame)
    assert ax.get_title() and ax.get_xlabel()
    assert any(t.get_text() == "no data" for t in ax.texts)


def test_draws_into_a_given_axes(frames: itf.JobFrames) -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert plots.plot_failure_rate(frames.jobs, ax=right) is right
    assert not left.patches and right.patches


def test_duration_histogram_and_missing_job(frames: itf.JobFrames) -> None:
    ax = plots.plot_durations(frames.jobs, style="hist")
    assert ax.patches and ax.get_ylabel() == "jobs"
    empty = plots.plot_job_timeline(frames, "job_does_not_exist")
    assert any(t.get_text() == "no data" for t in empty.texts)


def test_kind_colours_never_reuse_status_colours() -> None:
    from ittybit_frames.plots import KIND_COLORS, STAGE_COLORS, STATUS_COLORS

    assert not set(KIND_COLORS.values()) & set(STATUS_COLORS.values())
    assert len(set(KIND_COLORS.values())) == len(KIND_COLORS)
    assert len(set(STAGE_COLORS.values())) == len(STAGE_COLORS)


def test_a_single_bucket_draws_without_warnings(frames: itf.JobFrames) -> None:
    one = frames.jobs[frames.jobs["finished_at"].notna()].head(1)
    for draw in (plots.plot_latency, plots.plot_throughput, plots.plot_backlog):
        ax = draw(one, freq="1h")
        ax.figure.canvas.draw()  # the date locator runs here (a warning fails the suite)
        lo, hi = ax.get_xlim()
        assert hi > lo


def test_failure_rate_names_the_main_cause_and_incidents_are_labelled(
    frames: itf.JobFrames,
) -> None:
    ax = plots.plot_failure_rate(frames.jobs)
    top = metrics.failure_causes(frames.jobs).iloc[0]
    assert f"main cause: {top['error_kind']} ({top['side']} side" in ax.get_title()
    ax = plots.plot_incidents(frames.jobs, queue_factor=1e12, failure_factor=1e12)
    assert any(t.get_text() == "no data" for t in ax.texts)  # nothing found: said so
