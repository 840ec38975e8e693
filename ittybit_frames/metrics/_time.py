"""Time buckets: a ``freq`` as people write it, edges in a time zone.

``grain("1H")``, ``grain("15min")``, ``grain("D")``, ``grain("weekly")``, ``grain("1M")``:
one :class:`Grain` whatever the spelling (pandas' own aliases, the ones pandas 3 dropped,
and plain words). Fixed grains shorter than a day are cut in absolute time, shifted so
that their edges fall on the zone's wall-clock grid (an hour starts at :00 in Kolkata
too); days, weeks (Monday to Sunday, ISO), months, quarters and years start at local
midnight, so a day is 23 or 25 hours long when the clocks change.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ittybit_frames.rules import check_tz  # one rule for every engine

_DAY = pd.Timedelta(days=1)
#: Every UTC offset in use, and every change of one, falls on a quarter hour.
_QUARTER = pd.Timedelta(minutes=15)

# Unit words and aliases -> (pandas unit for a fixed grain, or a period code; label).
_FIXED = {
    "ms": "ms", "l": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "second": "s", "seconds": "s", "secondly": "s",
    "min": "min", "t": "min", "minute": "min", "minutes": "min", "minutely": "min",
    "h": "h", "hr": "h", "hour": "h", "hours": "h", "hourly": "h",
    "d": "D", "day": "D", "days": "D", "daily": "D",
}  # fmt: skip
_CALENDAR = {
    "w": "W-SUN", "week": "W-SUN", "weeks": "W-SUN", "weekly": "W-SUN",
    "m": "M", "ms": "M", "me": "M", "month": "M", "months": "M", "monthly": "M",
    "q": "Q-DEC", "qs": "Q-DEC", "qe": "Q-DEC", "quarter": "Q-DEC", "quarters": "Q-DEC",
    "quarterly": "Q-DEC",
    "y": "Y-DEC", "a": "Y-DEC", "ys": "Y-DEC", "ye": "Y-DEC", "as": "Y-DEC",
    "year": "Y-DEC", "years": "Y-DEC", "yearly": "Y-DEC", "annual": "Y-DEC",
}  # fmt: skip
_LABELS = {"ms": "millisecond", "s": "second", "min": "minute", "h": "hour", "D": "day"}
_PERIOD_LABELS = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}
_SPELLING = re.compile(r"^\s*(\d+)?\s*([A-Za-z]+)(?:-([A-Za-z]{3}))?\s*$")
_EXAMPLES = "'15min', '1h', '1D', 'W' (weeks from Monday), 'M' (months), 'Q', 'Y'"
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class Grain:
    """One bucket size: a fixed length, or a calendar period (week, month, ...)."""

    text: str
    fixed: pd.Timedelta | None
    period: str | None
    label: str  # "hour", "15 minutes", "week": for titles and axis labels

    @property
    def days(self) -> float:
        """Length in days, approximate for calendar periods (bar widths)."""
        if self.fixed is not None:
            return float(self.fixed / _DAY)
        lengths = {"W": 7.0, "M": 30.4, "Q": 91.3, "Y": 365.2}
        return lengths[self.period[0] if self.period else "W"]


def grain(freq: str | Grain) -> Grain:
    """Parse a bucket size; ``ValueError`` with the accepted spellings if it is none."""
    if isinstance(freq, Grain):
        return freq
    found = _SPELLING.match(freq) if isinstance(freq, str) else None
    if found is None:
        raise ValueError(f"freq={freq!r} is not a bucket size: use one such as {_EXAMPLES}")
    count, unit, anchor = int(found[1] or 1), found[2], found[3]
    if count < 1:
        raise ValueError(f"freq={freq!r}: the count must be at least 1 (e.g. {_EXAMPLES})")
    if unit == "m":
        raise ValueError(f"freq={freq!r} is ambiguous: write 'min' for minutes or 'M' for months")
    word = unit.lower()
    if unit == "MS" or (word in _CALENDAR and word not in ("ms",)) or unit == "M":
        return _calendar(freq, count, _CALENDAR[word], anchor)
    if word in _FIXED and anchor is None:
        fixed = pd.Timedelta(f"{count}{_FIXED[word]}")
        name = _LABELS[_FIXED[word]]
        return Grain(freq, fixed, None, name if count == 1 else f"{count} {name}s")
    raise ValueError(f"freq={freq!r} is not a bucket size: use one such as {_EXAMPLES}")


def _calendar(freq: str, count: int, period: str, anchor: str | None) -> Grain:
    if count != 1:
        raise ValueError(f"freq={freq!r}: calendar buckets come one at a time ({_EXAMPLES})")
    if anchor is not None:
        if not period.startswith("W") or anchor.upper() not in _WEEKDAYS:
            raise ValueError(
                f"freq={freq!r}: only weeks take an anchor day, such as 'W-SUN' "
                "(weeks ending on Sunday)"
            )
        period = f"W-{anchor.upper()}"
    return Grain(freq, None, period, _PERIOD_LABELS[period[0]])


def _utc(times: pd.Series) -> pd.Series:
    naive = getattr(times.dt, "tz", None) is None
    out: pd.Series = times.dt.tz_localize("UTC") if naive else times.dt.tz_convert("UTC")
    return out


def _localize(naive: pd.Series, tz: str) -> pd.Series:
    """Wall-clock starts -> instants; a start the clocks skip moves to the next instant."""
    ambiguous = np.zeros(len(naive), dtype=bool)  # a repeated midnight: its later instant
    out: pd.Series = naive.dt.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward")
    return out


def bucket(times: pd.Series, freq: str | Grain, tz: str = "UTC") -> pd.Series:
    """The start of each time's bucket, as a time in ``tz`` (NaT stays NaT)."""
    g, zone = grain(freq), check_tz(tz)
    utc = _utc(times)
    unit = getattr(utc.dt, "unit", "ns")
    naive = utc.dt.tz_convert(zone).dt.tz_localize(None)
    if g.fixed is not None and g.fixed < _DAY:
        offset = naive - utc.dt.tz_localize(None)  # each instant's own UTC offset
        start = (naive.dt.floor(g.fixed) - offset).dt.tz_localize("UTC").dt.tz_convert(zone)
    else:
        floored = (
            naive.dt.floor(g.fixed)
            if g.fixed is not None
            else naive.dt.to_period(g.period).dt.start_time
        )
        start = _localize(floored, zone)
    out: pd.Series = start.dt.as_unit(unit)
    return out


def edges(buckets: pd.Series, freq: str | Grain, tz: str = "UTC") -> pd.DatetimeIndex:
    """Every bucket start from the first to the last of ``buckets`` (quiet ones included)."""
    g, zone = grain(freq), check_tz(tz)
    present = pd.DatetimeIndex(buckets.dropna().unique()).sort_values()
    if present.empty:
        return present
    first, last = present[0], present[-1]
    if g.fixed is not None and g.fixed < _DAY:
        grid = _fixed_starts(first, last, g, zone)
    else:
        lo, hi = first.tz_localize(None), last.tz_localize(None)
        naive = (
            pd.date_range(lo, hi, freq=g.fixed)
            if g.fixed is not None
            else pd.period_range(lo, hi, freq=g.period).start_time
        )
        grid = pd.DatetimeIndex(_localize(pd.Series(naive), zone))
    # The grid and the buckets agree except where the clocks change mid-bucket: keep both.
    return grid.as_unit(present.unit).union(present)


def next_start(start: pd.Timestamp, freq: str | Grain, tz: str = "UTC") -> pd.Timestamp:
    """The start of the bucket after the one that starts at ``start``."""
    g = grain(freq)
    if g.fixed is not None and g.fixed < _DAY:
        later = _fixed_starts(start, start + g.fixed, g, check_tz(tz))
        found_fixed: pd.Timestamp = later[later > start][0]
        return found_fixed
    # 1.2 lengths on lands inside the next bucket for every grain (days are 23-25 h,
    # months 28-31 days, years 365-366): its start is the one we want.
    probe = pd.Series([start + pd.Timedelta(days=g.days * 1.2)])
    found: pd.Timestamp = bucket(probe, g, tz).iloc[0]
    return found


def _fixed_starts(first: pd.Timestamp, last: pd.Timestamp, g: Grain, zone: str) -> pd.DatetimeIndex:
    """The bucket starts of a grain shorter than a day from ``first`` to ``last``.

    In UTC they are ``g.fixed`` apart. Where the zone's clock changes, a bucket that
    follows the local clock is shorter or longer (a 2h bucket is 1h or 3h long when the
    clocks go back), and the starts after it are no longer ``first + n * g.fixed``: they
    are found by bucketing instants a step apart that no bucket can fall between (every
    bucket edge is a multiple of the step: the grain's edges on the local clock less an
    offset in quarter hours, or a clock change on a quarter hour).
    """
    assert g.fixed is not None
    if zone == "UTC":
        return pd.date_range(first, last, freq=g.fixed)
    step = pd.Timedelta(math.gcd(g.fixed.value, _QUARTER.value), unit="ns")
    probes = pd.Series(pd.date_range(first, last + g.fixed, freq=step))
    starts = pd.DatetimeIndex(bucket(probes, g, zone).unique()).sort_values()
    return starts[(starts >= first) & (starts <= last)]
