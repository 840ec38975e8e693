"""How fast the simulator makes a history (issue 15: a million jobs in under 60 s).

Baseline, in the same run: serialising the same history to JSON text with orjson (the
least any producer of such a history pays, in C). Each figure is the median of ``--runs``
runs, in this process; a million jobs need several GB of memory.

Run: ``.venv/bin/python -m bench.simulator --jobs 1000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import statistics
import time

import orjson

from bench._common import markdown_table
from ittybit_frames.simulator import generate_history

END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def timed(make: object, runs: int) -> float:
    seconds = []
    for _ in range(runs):
        gc.collect()
        began = time.perf_counter()
        result = make()  # type: ignore[operator]
        seconds.append(time.perf_counter() - began)
        del result
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    make = lambda: generate_history(args.jobs, seed=0, end=END)  # noqa: E731
    generate = timed(make, args.runs)
    history = make()
    dump = timed(functools.partial(orjson.dumps, history), args.runs)
    size = len(orjson.dumps(history)) / 1e6
    del history
    rows = [
        ["orjson.dumps of the same history (baseline)", dump, 1.0],
        ["`generate_history` (queue, incidents, tasks)", generate, generate / dump],
    ]
    table = [
        [what, f"{s:.2f}", f"{args.jobs / s:,.0f}", f"{ratio:.2f}x"] for what, s, ratio in rows
    ]
    print(f"{args.jobs:,} jobs ({size:,.0f} MB as JSON), median of {args.runs} runs.\n")
    print(markdown_table(["what", "seconds", "jobs/s", "vs baseline"], table))


if __name__ == "__main__":
    main()
