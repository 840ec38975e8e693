"""What goes wrong in the simulator, and how often: injected faults and a rate limit."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "Faults", "TokenBucket"]

FAULT_KINDS = ("429", "500", "502", "503", "drop", "truncate")


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often.

    Parameters
    ----------
    rate : float
        Share of requests (0-1) answered with a fault instead of the real answer.
    kinds : tuple of str
        Faults to draw from, evenly: ``"429"``, ``"500"``, ``"502"``, ``"503"``,
        ``"drop"`` (connection closed without an answer), ``"truncate"`` (body cut short).
    retry_after : {"seconds", "date", "mixed"}
        Form of the ``Retry-After`` header on injected 429s.
    retry_after_seconds : int
        Wait asked for by injected 429s.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: str = "seconds"
    retry_after_seconds: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("Faults.rate must be between 0 and 1")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {list(FAULT_KINDS)}")
        if self.retry_after not in ("seconds", "date", "mixed"):
            raise ValueError("Faults.retry_after must be 'seconds', 'date' or 'mixed'")

    def retry_after_header(self, rng: random.Random) -> str:
        """The ``Retry-After`` value of an injected 429, in the configured form."""
        seconds = self.retry_after_seconds
        form = self.retry_after
        if form == "mixed":
            form = rng.choice(("seconds", "date"))
        if form == "date":
            return email.utils.formatdate(time.time() + seconds, usegmt=True)
        return str(seconds)


class TokenBucket:
    """A server-side rate limit: ``rate`` requests per second, bursts up to ``rate``."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._tokens = float(rate or 0.0)
        self._at = time.monotonic()

    def take(self) -> bool:
        """Take one token; False when the request is over the limit."""
        if not self.rate:
            return True
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
