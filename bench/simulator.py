"""How fast the simulator makes a history (issue 15: a million jobs in under 60 s).

Baseline, in the same run: parsing the same history back from its JSON text with orjson
(what any consumer of the history pays at least once). Each figure is the median of
``--runs`` runs, in this process.

Run: ``.venv/bin/python -m bench.simulator --jobs 1000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
    text = orjson.dumps(make())
    parse = timed(lambda: orjson.loads(text), args.runs)
    generate = timed(make, args.runs)
    rows = [
        ["orjson.loads of the same history (baseline)", parse, 1.0],
        ["`generate_history` (queue, incidents, tasks)", generate, generate / parse],
    ]
    table = [
        [what, f"{s:.2f}", f"{args.jobs / s:,.0f}", f"{ratio:.2f}x"] for what, s, ratio in rows
    ]
    size = len(text) / 1e6
    print(f"{args.jobs:,} jobs ({size:,.0f} MB as JSON), median of {args.runs} runs.\n")
    print(markdown_table(["what", "seconds", "jobs/s", "vs baseline"], table))


if __name__ == "__main__":
    main()
