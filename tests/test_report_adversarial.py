"""The report on hostile data: scripts nobody's font has, markup in every text field.

Each test here failed before the fix it names (see the commit that added it).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ittybit_frames import to_frames
from ittybit_frames.report import report

EVIL = "<script>alert('x')</script>"


def _failed(i: int, message: str, customer: str) -> dict[str, Any]:
    return {
        "id": f"job_{i}",
        "kind": "video",
        "status": "failed",
        "created_at": "2026-11-01T10:00:00Z",
        "started_at": "2026-11-01T10:01:00Z",
        "finished_at": "2026-11-01T10:05:00Z",
        "error": {"kind": "encode_failed", "message": message},
        "metadata": {"customer_id": customer},
    }


def test_error_messages_in_a_script_the_font_lacks_draw_without_warnings(
    tmp_path: Path,
) -> None:
    """Why: matplotlib warned once per missing glyph while the charts were saved, so
    ``ittybit-frames report`` on a lake with Chinese error messages printed a dozen
    UserWarning lines (and code that turns warnings into errors failed). The charts
    show boxes for those glyphs; the tables hold the text as sent."""
    message = "编码失败: 文件损坏 " + EVIL + " " + "x" * 5000
    frames = to_frames([_failed(i, message, "客户 " + EVIL) for i in range(5)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = report(frames, tmp_path / "report")
    text = page.read_text(encoding="utf-8")
    assert "编码失败" in text
    assert "客户" in text
    assert EVIL not in text
    assert "&lt;script&gt;" in text


def test_jobs_that_took_no_time_draw_without_warnings(tmp_path: Path) -> None:
    """Why: the latency chart is on a log scale, and percentiles of 0 s (jobs answered
    at once: cached, refused) have no place on it: matplotlib warned 'Data has no
    positive values' (a warning line around the CLI's one line; an error where warnings
    are errors). The chart now says it has nothing above 0 s to draw."""
    from matplotlib.figure import Figure

    from ittybit_frames.plots import plot_latency

    at = "2026-11-01T10:00:00Z"
    frames = to_frames(
        [
            {
                "id": f"job_{i}",
                "kind": "video",
                "status": "succeeded",
                "created_at": at,
                "started_at": at,
                "finished_at": at,
            }
            for i in range(3)
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report(frames, tmp_path / "report")
        ax = plot_latency(frames.jobs, ax=Figure().add_subplot())
    assert not ax.get_lines()
    assert ax.get_title().startswith("Latency")


@pytest.mark.parametrize(
    ("span", "freq"), [("4h30min", "10min"), ("4D12h", "1h"), ("4min30s", "10s")]
)
def test_time_axes_of_any_span_draw_without_warnings(span: str, freq: str) -> None:
    """Why: the date axis asked for 5 to 8 ticks, which no tick step gives for spans of
    4 to 5 hours (or days, or minutes): matplotlib warned 'AutoDateLocator was unable to
    pick an appropriate interval' while the chart was saved (a report of a lake holding
    4.5 days, or a job timeline of 4.5 hours)."""
    import io

    from matplotlib.figure import Figure

    from ittybit_frames import plots

    first = pd.Timestamp("2026-11-01T10:00:00Z")
    times = pd.date_range(first, first + pd.Timedelta(span), periods=40).as_unit("ms")
    jobs = pd.DataFrame(
        {
            "created_at": times,
            "started_at": times,
            "finished_at": times,
            "status": "succeeded",
            "queue_seconds": 1.0,
            "processing_seconds": 2.0,
        }
    )
    for draw in (plots.plot_throughput, plots.plot_backlog, plots.plot_in_flight):
        figure = Figure()
        draw(jobs, freq=freq, ax=figure.add_subplot())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            figure.savefig(io.BytesIO(), format="png")
