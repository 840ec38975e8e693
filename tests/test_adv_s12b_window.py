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

import pytest

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
