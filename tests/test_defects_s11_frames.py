"""Session 11's frames defects (noticed by session 10).

5. ``JobFrames.subset(since="7d", until="30d")`` (since after until) only warned that
   the window was empty, where the CLI says "swap them"; the repr said "1 jobs".
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import generate_history

END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def frames() -> itf.JobFrames:
    return itf.to_frames(generate_history(40, seed=5, end=END))


@pytest.mark.parametrize(
    ("since", "until"), [("7d", "30d"), ("2026-11-20", "2026-11-10"), ("2026-11-20", "2026-11-20")]
)
def test_a_window_that_ends_before_it_starts_is_refused_in_one_line(
    frames: itf.JobFrames, since: str, until: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no EmptyWindowWarning instead
        with pytest.raises(ValueError, match="swap them") as raised:
            frames.subset(since=since, until=until)
    message = str(raised.value)
    assert "\n" not in message
    assert f"since {since!r}" in message and f"until {until!r}" in message, message


def test_a_window_in_order_still_subsets(frames: itf.JobFrames) -> None:
    part = frames.subset(since="2026-11-10", until="2026-11-20")
    assert 0 < len(part) < len(frames)


def test_the_cli_report_refuses_the_swapped_window_in_one_line(
    tmp_path: Path, frames: itf.JobFrames, capsys: pytest.CaptureFixture[str]
) -> None:
    itf.write_parquet(frames, tmp_path / "lake")
    argv = ["report", str(tmp_path / "lake"), "--out", str(tmp_path / "r")]
    assert main([*argv, "--since", "7d", "--until", "30d"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "swap them" in err[0], err
    assert not (tmp_path / "r").exists()


def test_the_repr_counts_in_the_singular_and_the_plural(frames: itf.JobFrames) -> None:
    one = itf.to_frames([generate_history(1, seed=5, end=END)[0]])
    assert len(one) == 1
    text = repr(one)
    assert text.startswith("JobFrames(1 job, "), text
    assert "1 jobs" not in text
    assert repr(frames).startswith(f"JobFrames({len(frames)} jobs, "), repr(frames)
    empty = repr(itf.to_frames([]))
    assert empty.startswith("JobFrames(0 jobs, 0 tasks, 0 problems;"), empty
