"""Adversarial pass over session 12's one window rule (``vocabulary.parse_window``).

``since`` and ``until`` given as spans back from now were each read against its own
reading of the clock: equal spans (``"7d"`` and ``"7d"``, ``"1h"`` and ``"60m"``) were
refused as "not before" most of the time, and accepted as a window of a millisecond or
so when the clock moved between the two readings (23 of 20,000 tries on this machine).
Both are now read against one reading of the clock. The clock here moves one
millisecond at each reading, so the test does not wait for that luck."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ittybit_frames.cli import main
from ittybit_frames.errors import ConfigurationError
from ittybit_frames.vocabulary import parse_window

START = 1_795_000_000.0  # seconds, as time.time() gives them


def _ticking() -> Callable[[], float]:
    """A clock that moves one millisecond each time it is read."""
    readings: Iterator[int] = iter(range(10**9))
    return lambda: START + next(readings) / 1000


@pytest.mark.parametrize(("since", "until"), [("7d", "7d"), ("1h", "60m"), ("24h", "1d")])
def test_equal_spans_are_refused_however_the_clock_moves(
    monkeypatch: pytest.MonkeyPatch, since: str, until: str
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", _ticking())
        with pytest.raises(ConfigurationError, match="swap them"):
            parse_window(since, until)


def test_a_span_against_a_time_reads_the_clock_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One hour back, against one hour back written as epoch milliseconds: equal."""
    hour_ago_ms = int(START * 1000) - 3_600_000
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", _ticking())
        with pytest.raises(ConfigurationError, match="swap them"):
            parse_window("1h", hour_ago_ms)
        patch.setattr(time, "time", _ticking())
        assert parse_window("1h", hour_ago_ms + 1) == (hour_ago_ms, hour_ago_ms + 1)


@pytest.mark.parametrize(
    ("since", "until", "window"),
    [
        # time zones: 00:30+01:00 is 23:30 UTC the day before, before 23:45 UTC
        (
            "2026-11-20T00:30:00+01:00",
            "2026-11-19T23:45:00Z",
            (1_795_131_000_000, 1_795_131_900_000),
        ),
        (1_795_000_000, 1_795_000_001_000, (1_795_000_000_000, 1_795_000_001_000)),
    ],
)
def test_zones_and_seconds_against_milliseconds(
    since: object, until: object, window: tuple[int, int]
) -> None:
    assert parse_window(since, until) == window


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (1_795_000_000, 1_795_000_000_000),  # the same instant in seconds and in ms
        ("2026-11-20", "2026-11-20T00:00:00.000Z"),
        ("2026-11-20T01:00:00+01:00", "2026-11-20T00:00:00Z"),
    ],
)
def test_the_same_instant_written_two_ways_is_refused(since: object, until: object) -> None:
    with pytest.raises(ConfigurationError, match="swap them") as caught:
        parse_window(since, until)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("span", ["99999d", "1500w", "300000h"])
def test_a_span_reaching_back_before_2000_is_refused_where_it_is_read(span: str) -> None:
    """``"99999d"`` was read as a time in 1753 (negative epoch milliseconds), which no
    other reader takes: ``sync --since 99999d`` died with a traceback ("cannot read
    -6843696964888 as a time", the number, not what was typed) once the listing was
    asked for it. A span is held to the 2000-2100 range every other time is."""
    with pytest.raises(ValueError, match=span) as caught:
        parse_window(span, None)
    message = str(caught.value)
    assert "\n" not in message and "2000" in message, message


def test_sync_since_a_span_before_2000_is_a_usage_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITTYBIT_API_KEY", "ittybit_test_key")
    monkeypatch.setenv("ITTYBIT_BASE_URL", "http://127.0.0.1:9")  # never asked
    assert main(["sync", str(tmp_path / "lake"), "--since", "99999d"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err and "99999d" in lines[0], err
    assert not (tmp_path / "lake").exists()
