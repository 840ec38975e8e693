"""Benchmark: every metric over 1,000,000 simulated jobs, each timed.

Targets: every metric under 2 s (wall) on this machine; ``in_flight`` within 3x of a plain
``numpy.searchsorted`` count over the same timestamps (measured in the same run).

Run: ``.venv/bin/python -m bench.metrics [--jobs 1000000]``. The history is built in
chunks of 100,000 jobs (three days each) so that building it stays within memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import ittybit_frames as itf
from bench._common import markdown_table
from ittybit_frames import metrics
from ittybit_frames.simulator import DEFAULT_START, generate_history


def build(n_jobs: int) -> itf.JobFrames:
    chunk = 100_000
    parts = []
    for i in range(0, n_jobs, chunk):
        start = DEFAULT_START + dt.timedelta(days=3 * (i // chunk))
        parts.append(
            itf.to_frames(
                generate_history(min(chunk, n_jobs - i), seed=i // chunk, start=start, days=3)
            )
        )
    jobs = pd.concat([p.jobs for p in parts], ignore_index=True)
    tasks = pd.concat([p.tasks for p in parts], ignore_index=True)
    return itf.JobFrames(jobs, tasks, parts[0].problems)


def searchsorted_baseline(jobs: pd.DataFrame, freq: str) -> np.ndarray:
    """The bare computation: sorted interval ends, counted at each sample edge."""

    def ms(column: str) -> np.ndarray:
        values = jobs[column].to_numpy(dtype="datetime64[ms]", na_value=np.datetime64("NaT"))
        return values.astype("int64")

    created, started, finished = ms("created_at"), ms("started_at"), ms("finished_at")
    nat = np.iinfo(np.int64).min
    queue_end = np.where(started != nat, started, finished)
    queue_end = np.where(queue_end == nat, np.iinfo(np.int64).max, queue_end)
    run_end = np.where(finished == nat, np.iinfo(np.int64).max, finished)
    ran = started != nat
    step = int(pd.Timedelta(freq).total_seconds() * 1000)
    edges = np.arange(created.min() // step * step, created.max() + step, step)
    sorted_arrays = [np.sort(a) for a in (created, queue_end, started[ran], run_end[ran])]
    counts = [np.searchsorted(a, edges, "right") for a in sorted_arrays]
    return (counts[0] - counts[1]) + (counts[2] - counts[3])


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all its threads) of one call: on a shared
    machine the wall time swings with the other load, the CPU time much less."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    args = parser.parse_args()
    t = time.perf_counter()
    frames = build(args.jobs)
    built = time.perf_counter() - t
    jobs, tasks = frames.jobs, frames.tasks
    cases: list[tuple[str, Callable[[], Any]]] = [
        (
            "throughput(freq='1h', by='status')",
            lambda: metrics.throughput(jobs, freq="1h", by="status"),
        ),
        ("duration_summary(jobs)", lambda: metrics.duration_summary(jobs)),
        ("duration_summary(tasks)", lambda: metrics.duration_summary(tasks)),
        ("latency_over_time(freq='1h')", lambda: metrics.latency_over_time(jobs, freq="1h")),
        ("failure_rate(by='kind')", lambda: metrics.failure_rate(jobs)),
        ("failure_rate(freq='1D')", lambda: metrics.failure_rate(jobs, freq="1D")),
        ("top_errors(jobs)", lambda: metrics.top_errors(jobs)),
        ("in_flight(freq='1min')", lambda: metrics.in_flight(jobs, freq="1min")),
        ("stage_breakdown(tasks)", lambda: metrics.stage_breakdown(tasks)),
        ("realtime_factor(tasks)", lambda: metrics.realtime_factor(tasks)),
        ("stuck(jobs)", lambda: metrics.stuck(jobs)),
        ("sla(within='5min', by='kind')", lambda: metrics.sla(jobs, within="5min", by="kind")),
    ]
    rows = []
    for name, fn in cases:
        seconds, cpu = timed_cpu(fn)
        rows.append(
            [f"`{name}`", f"{seconds:.2f}", f"{cpu:.2f}", "yes" if seconds < 2 else "**no**"]
        )
    base, counts = timed(lambda: searchsorted_baseline(jobs, "1min"))
    ours, result = timed(lambda: metrics.in_flight(jobs, freq="1min"))
    assert np.array_equal(result["in_flight"].to_numpy()[: len(counts)], counts[: len(result)])
    rows.append(["plain `numpy.searchsorted` count, 1 min edges (baseline)", f"{base:.2f}", "", ""])
    rows.append(
        [
            "`in_flight` vs that baseline",
            f"{ours / base:.1f}x",
            "",
            "yes" if ours / base <= 3 else "**no**",
        ]
    )
    print(f"{len(jobs):,} jobs, {len(tasks):,} tasks (built in {built:.0f} s)\n")
    print(markdown_table(["metric", "seconds", "CPU seconds", "within target"], rows))


if __name__ == "__main__":
    main()
