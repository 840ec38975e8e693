"""When to try a request again, and how fast to send them at all.

:class:`RetryPolicy` runs every attempt of a request, the first included, through one
:func:`stamina.retry_context`: jittered exponential backoff capped by attempts and by
total time, with a predicate that says what is retryable and returns the exact wait when
the server sent ``Retry-After`` (on a 429, a 503 or any other retried status; that wait
is slept through the policy's ``sleep``, which tests replace). :class:`RateLimiter`
spaces request starts on the client's side and slows down after a 429.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, TypeVar

from ittybit_frames.client._config import ClientOptions, Sleep
from ittybit_frames.client._results import ClientStats
from ittybit_frames.errors import ConfigurationError, NetworkError, RateLimitError, ServerError

__all__ = ["RateLimiter", "RetryPolicy", "is_server_error", "retry_after_seconds"]

_T = TypeVar("_T")
#: Statuses worth another try besides the whole 5xx range (408: the server timed out).
RETRY_STATUSES = frozenset({408, 500, 502, 503, 504})


def is_server_error(status: int) -> bool:
    """Whether an HTTP status says the server failed (and a retry may succeed)."""
    return status in RETRY_STATUSES or status >= 500


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class RateLimiter:
    """Spaces request starts at least ``1/rate`` apart; pauses everyone after a 429.

    After a 429 the rate is divided by ``slowdown`` (down to ``floor`` times the setting)
    and climbs back by ``recovery`` times the setting with each success, so a client
    settles just under a server's limit.
    """

    rate: float | None
    _: KW_ONLY
    slowdown: float = 2.0
    floor: float = 1 / 32
    recovery: float = 0.05
    current: float | None = field(init=False)
    _next: float = field(default=0.0, init=False, repr=False)
    _paused_until: float = field(default=0.0, init=False, repr=False)
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ConfigurationError("rate_limit must be a positive number of requests/second")
        self.current = self.rate

    async def acquire(self) -> float:
        """Wait for this request's turn; return the seconds waited."""
        began = time.monotonic()
        if not self.current and self._paused_until <= began:
            return 0.0
        if self._lock is None:
            self._lock = asyncio.Lock()
        # One request at a time passes the gate, and the next slot is counted from when
        # this one really left: a sleeper that wakes late cannot bunch up its successors.
        async with self._lock:
            while True:
                now = time.monotonic()
                start = max(self._paused_until, self._next if self.current else now)
                if now >= start:
                    break
                await asyncio.sleep(start - now)
            if self.current:
                # A hair over 1/rate, so that no one-second window ever holds rate + 1.
                self._next = now + 1.001 / self.current
        return now - began

    def penalize(self, wait: float) -> None:
        """A 429: nobody starts for ``wait`` seconds, and the rate drops."""
        self._paused_until = max(self._paused_until, time.monotonic() + wait)
        if self.rate and self.current:
            self.current = max(self.rate * self.floor, self.current / self.slowdown)

    def reward(self) -> None:
        """A success: the rate climbs back towards the setting."""
        if self.rate and self.current and self.current < self.rate:
            self.current = min(self.rate, self.current + self.rate * self.recovery)


def _quiet_stamina() -> None:
    # stamina logs each scheduled retry at WARNING; in an application without logging
    # set up, Python's last-resort handler would print every one to stderr. A NullHandler
    # stops only that fallback: handlers the application configures still get the records.
    stamina_logger = logging.getLogger("stamina")
    if not stamina_logger.handlers:
        stamina_logger.addHandler(logging.NullHandler())


@dataclass
class RetryPolicy:
    """Attempts of one request: what is retried, how long to wait, when to give up.

    Parameters
    ----------
    limiter : RateLimiter
        Told about every 429, so the other requests slow down too.
    max_attempts : int
        Attempts per request, the first included.
    max_retry_time : float
        Seconds one request may take, all attempts and waits included.
    backoff_initial, backoff_max : float
        Jittered exponential backoff: the first wait is ``backoff_initial`` plus up to
        ``backoff_initial`` of jitter, doubling up to ``backoff_max``.
    max_retry_after : float
        Longest ``Retry-After`` honoured, in seconds.
    sleep : async callable, default :func:`asyncio.sleep`
        Waits a server's ``Retry-After`` before the next attempt (tests pass a fake clock).
    """

    limiter: RateLimiter
    _: KW_ONLY
    max_attempts: int
    max_retry_time: float
    backoff_initial: float
    backoff_max: float
    max_retry_after: float
    sleep: Sleep = asyncio.sleep

    def __post_init__(self) -> None:
        _quiet_stamina()

    @classmethod
    def of(cls, options: ClientOptions) -> RetryPolicy:
        """The policy and rate limiter a client's options ask for."""
        return cls(
            RateLimiter(options.rate_limit),
            max_attempts=options.max_attempts,
            max_retry_time=options.max_retry_time,
            backoff_initial=options.backoff_initial,
            backoff_max=options.backoff_max,
            max_retry_after=options.max_retry_after,
            sleep=options.sleep or asyncio.sleep,
        )

    def _stamina(self, waits: list[float]) -> AsyncIterable[Any]:
        import stamina  # noqa: PLC0415

        def judge(exc: Exception) -> bool | float:
            verdict = self.decide(exc)
            if isinstance(verdict, bool):
                return verdict
            # The server named its wait: sleep it through self.sleep before the next
            # attempt (stamina still counts it against its time cap), and tell stamina
            # to add nothing of its own.
            waits.append(verdict)
            return 0.0

        return stamina.retry_context(
            on=judge,
            attempts=self.max_attempts,
            timeout=self.max_retry_time,
            wait_initial=self.backoff_initial,
            wait_max=self.backoff_max,
            wait_jitter=self.backoff_initial,
        )

    def decide(self, exc: Exception) -> bool | float:
        """Whether ``exc`` is worth another attempt; the seconds to wait when the server
        said (``Retry-After``, capped at ``max_retry_after``) or for any 429."""
        if isinstance(exc, RateLimitError):
            wait = exc.retry_after
            if wait is None:
                wait = self.backoff_initial
            wait = min(wait, self.max_retry_after)
            self.limiter.penalize(wait)
            return float(wait)
        if isinstance(exc, ServerError) and exc.retry_after is not None:
            return float(min(exc.retry_after, self.max_retry_after))
        return isinstance(exc, ServerError | NetworkError)

    async def run(self, attempt: Callable[[], Awaitable[_T]], stats: ClientStats) -> _T:
        """Await ``attempt()`` until it succeeds or the policy gives up (then re-raise).

        ``stats`` counts the retries, the failure if any, and the time spent waiting
        between attempts.
        """
        began = time.monotonic()
        busy = 0.0
        first: Exception | None = None
        try:
            try:
                return await attempt()
            except Exception as exc:
                first = exc
            finally:
                busy = time.monotonic() - began
            # stamina's per-call setup costs about a third of a request's CPU, and most
            # requests succeed at once: so it is built only after a failure, and that
            # failure is replayed to it as its attempt 1. stamina thus judges every
            # attempt, counts it against both caps, and picks every wait (BENCHMARKS.md).
            waits: list[float] = []
            async for trial in self._stamina(waits):
                with trial:
                    if trial.num == 1:
                        raise first
                    stats.retries += 1
                    if waits:
                        await self.sleep(waits.pop())
                    t = time.monotonic()
                    try:
                        return await attempt()
                    finally:
                        busy += time.monotonic() - t
        except Exception:
            stats.failures += 1
            raise
        finally:
            if first is not None:
                stats.waited_seconds += max(0.0, time.monotonic() - began - busy)
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover
