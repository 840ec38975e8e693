"""Argument types: every value is checked when it is parsed, before any work.

Each raises :class:`argparse.ArgumentTypeError` with what to type instead; the parser
turns that into one line naming the option.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from ittybit_frames.vocabulary import category, parse_when


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _at_least(
    parse: Callable[[str], float], low: int, *, above: bool, hint: str
) -> Callable[[str], Any]:
    """A type: ``parse``, then refuse values below ``low`` (or at it when ``above``)."""

    def check(text: str) -> Any:
        value = parse(text)
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"{text} is too small: {hint}")
        return value

    return check


#: A whole number of at least 1; of at least 0.
positive_int = _at_least(_whole, 1, above=False, hint="use a whole number of 1 or more")
non_negative_int = _at_least(_whole, 0, above=False, hint="use 0 or more")
#: A finite number above 0 (``0``, ``nan``, ``inf`` and negatives refused); of at least 0.
positive_float = _at_least(
    _number, 0, above=True, hint="use a number above 0 (leave the option out for none)"
)
non_negative_float = _at_least(_number, 0, above=False, hint="use 0 or more")


def share(text: str) -> float:
    """A share between 0 and 1 (``0.05`` is 5 %)."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (0.05 means 5 %)")
    return value


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    value = _whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text} is not a port: use 1-65535, or 0 for any free one"
        )
    return value


def when(text: str) -> str:
    """A WHEN: an ISO date or time, epoch seconds or milliseconds, or a span like 7d."""
    try:
        parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _word(field: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            return category(text, field=field)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    check.__name__ = field
    return check


#: A job kind or status, checked against every version's words (``movie`` refused).
kind, status = _word("kind"), _word("status")


def choice(text: str) -> str:
    """A word from a fixed list, in any case and with stray spaces (``--format CSV``)."""
    return text.strip().lower()


def job_id(text: str) -> str:
    """A non-empty job ID."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a job ID is empty")
    return text.strip()


def path(text: str) -> str:
    """A path that is not empty (``--out "$OUT"`` with OUT unset would otherwise be the
    current folder, or no option at all)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the path is empty (an unset shell variable?): give a file or folder"
        )
    return text
