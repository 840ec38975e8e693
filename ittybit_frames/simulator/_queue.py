"""The simulated platform as a queue: worker pools, and the incidents a seed schedules.

Jobs wait in one first-come, first-served queue until one of the platform's workers is
free, then run their four stages on it. So waits and in-flight counts come from load:
busy afternoons and batch bursts build a backlog that quiet nights drain. Three incidents,
placed by the seed, make the history worth analysing:

- **outage**: most workers are lost for a few hours; the jobs running on
  them fail ("worker lost", a platform error) and the backlog builds, then drains;
- **bad release**: one kind's encoder fails a third of its jobs for some hours (platform);
- **broken files**: one customer sends files that cannot be read (user errors).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

__all__ = ["Incident", "Schedule", "run_queue", "schedule"]

_HOUR = 3_600_000
_DAY = 24 * _HOUR


@dataclass(frozen=True)
class Incident:
    """One scheduled incident: what, when (epoch ms, end exclusive) and whom it hits."""

    what: str  # "outage", "bad_release" or "broken_files"
    start: int
    end: int
    target: str  # "all", a job kind, or a customer ID
    severity: float  # outage: share of workers lost; others: failure probability


@dataclass(frozen=True)
class Schedule:
    """The incidents of one history (none for histories shorter than three days)."""

    incidents: tuple[Incident, ...] = ()

    def get(self, what: str) -> Incident | None:
        return next((i for i in self.incidents if i.what == what), None)


def schedule(rng: np.random.Generator, t0: int, span: int, customer: str) -> Schedule:
    """Place the three incidents, deterministically for a seed, on whole hours."""
    jitter = rng.uniform(-0.04, 0.04, size=3)
    if span < 3 * _DAY:
        return Schedule()

    def at(fraction: float) -> int:
        t = t0 + int(fraction * span)
        return t - (t - t0) % _HOUR

    outage = at(0.55 + jitter[0])
    release = at(0.78 + jitter[1])
    broken = at(0.30 + jitter[2])
    return Schedule(
        (
            Incident("outage", outage, outage + 3 * _HOUR, "all", 0.85),
            Incident("bad_release", release, release + 8 * _HOUR, "video", 0.35),
            Incident("broken_files", broken, broken + 2 * _DAY, customer, 0.6),
        )
    )


def pool_sizes(pool: np.ndarray, service_ms: np.ndarray, span: int, pools: int) -> np.ndarray:
    """Workers per pool: enough that the average load is about 45 % of the pool.

    Afternoon peaks (1.7x the average on weekdays) then come close to the pool's
    capacity, so queues build and drain every day without running away.
    """
    busy = np.bincount(pool, weights=service_ms, minlength=pools) / max(span, 1)
    return np.maximum(8, np.ceil(busy / 0.45)).astype(np.int64)


def run_queue(
    created: np.ndarray,
    pool: np.ndarray,
    service_ms: np.ndarray,
    workers: np.ndarray,
    outage: Incident | None,
) -> tuple[np.ndarray, np.ndarray]:
    """First come, first served per pool. Returns (start ms, lost-at ms or -1) per job.

    ``created`` must be sorted. During an outage a share of each pool's workers is down:
    a job running on one when the outage begins is lost at that instant (its worker
    comes back at the outage's end), and a down worker takes no job until then.
    """
    n = len(created)
    start = np.empty(n, dtype=np.int64)
    lost = np.full(n, -1, dtype=np.int64)
    heaps = [[(0, w) for w in range(int(c))] for c in workers]
    down = [round(int(c) * outage.severity) if outage else 0 for c in workers]
    o1, o2 = (outage.start, outage.end) if outage else (0, 0)
    created_l, pool_l, service_l = created.tolist(), pool.tolist(), service_ms.tolist()
    for j in range(n):
        heap, arrival = heaps[pool_l[j]], created_l[j]
        while True:
            free, worker = heapq.heappop(heap)
            begin = max(arrival, free)
            if worker >= down[pool_l[j]] or begin >= o2 or begin + service_l[j] <= o1:
                break
            if begin < o1:  # running when the outage hits: lost with its worker
                start[j], lost[j] = begin, o1
                heapq.heappush(heap, (o2, worker))
                break
            heapq.heappush(heap, (o2, worker))  # down: back when the outage ends
        if lost[j] < 0:
            start[j] = begin
            heapq.heappush(heap, (begin + int(service_l[j]), worker))
    return start, lost


def arrivals(
    rng: np.random.Generator, n: int, t0: int, span: int, customers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Creation offsets (ms, sorted) and, for jobs of a batch burst, its customer (else 0).

    Daily cycle (busy afternoons UTC, quiet nights), weekly cycle (weekends at 55 %), and
    about 3 % of the jobs in short bursts: one customer uploading a batch at once.
    """
    bursts = max(1, span // (5 * _DAY)) if span >= 3 * _DAY and n >= 1000 else 0
    in_bursts = int(n * 0.03) if bursts else 0
    steady = np.empty(0, dtype=np.int64)
    while steady.size < n - in_bursts:
        t = rng.integers(0, span, size=max(2 * (n - in_bursts - steady.size), 64))
        hour = ((t0 + t) % _DAY) / _HOUR
        weekday = ((t0 + t) // _DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        weight = (1.0 + 0.7 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)) * np.where(
            weekday >= 5, 0.55, 1.0
        )
        keep = rng.random(t.size) * 1.7 < weight
        steady = np.concatenate([steady, t[keep]])
    steady = steady[: n - in_bursts]
    starts = rng.integers(0, max(span - _HOUR, 1), size=bursts)
    owners = rng.integers(1, customers, size=bursts)
    which = rng.integers(0, max(bursts, 1), size=in_bursts)
    burst_t = starts[which] + rng.integers(0, 45 * 60_000, size=in_bursts) if bursts else which
    offsets = np.concatenate([steady, burst_t]).astype(np.int64)
    owner = np.concatenate([np.zeros(steady.size, np.int64), owners[which] if bursts else which])
    order = np.argsort(offsets, kind="stable")
    return offsets[order], owner[order]
