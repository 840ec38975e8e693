"""Benchmark: writing the lake, and how cheap a second sync of an unchanged lake is.

1. ``write_parquet`` of the frames of 100,000 simulated jobs (day partitions, sorted,
   pinned schema, atomic files) against a bare ``pyarrow.parquet.write_table`` of the
   same two tables, in the same run. Target: at most 1.5x its time.
2. A first ``sync`` of those 100,000 jobs from the simulator (its own process), then a
   second sync of the unchanged lake. Target: the second under 5 % of the first's time
   and requests.

Run: ``.venv/bin/python -m bench.lake [--jobs 100000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import ittybit_frames as itf
from bench._common import markdown_table, simulator_process
from ittybit_frames.simulator import generate_history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    frames = itf.to_frames(generate_history(args.jobs, seed=0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        for name, frame in (("jobs", frames.jobs), ("tasks", frames.tasks)):
            pq.write_table(
                pa.Table.from_pandas(frame, preserve_index=False),
                root / f"bare_{name}.parquet",
                compression="zstd",
            )
        bare = time.perf_counter() - t
        t = time.perf_counter()
        itf.write_parquet(frames, root / "lake", mode="overwrite")
        ours = time.perf_counter() - t
        rows.append(
            ["bare `pq.write_table` of jobs + tasks (baseline)", f"{bare:.2f}", "", "1.00x"]
        )
        rows.append(
            [
                "`write_parquet` (day partitions, sorted, atomic)",
                f"{ours:.2f}",
                "",
                f"{ours / bare:.2f}x",
            ]
        )
        with simulator_process("--jobs", str(args.jobs)) as sim:
            options = {"api_key": sim["api_key"], "base_url": sim["url"], "progress": False}
            first = itf.sync(root / "synced", **options)
            second = itf.sync(root / "synced", **options)
        rows.append(
            [
                f"first `sync` ({first.new_jobs:,} new jobs)",
                f"{first.elapsed_seconds:.2f}",
                f"{first.requests:,}",
                "1.00x",
            ]
        )
        rows.append(
            [
                f"second `sync`, unchanged lake ({second.updated_jobs + second.unchanged_jobs:,}"
                " unfinished jobs re-read)",
                f"{second.elapsed_seconds:.2f}",
                f"{second.requests:,}",
                f"{second.elapsed_seconds / first.elapsed_seconds:.3f}x time, "
                f"{second.requests / first.requests:.3f}x requests",
            ]
        )
    print(f"{args.jobs:,} jobs, {len(frames.tasks):,} tasks\n")
    print(markdown_table(["what", "seconds", "requests", "vs baseline"], rows))


if __name__ == "__main__":
    main()
