"""Benchmark: sync a large history into a lake from the simulator's list endpoint.

The simulator runs in its own process; the sync runs in another (the CLI), so its peak
RSS is its own. Then a one-day ``read_parquet`` window is read and the files it opened
are counted. Target (issue #7): 1,000,000 jobs with the sync's peak RSS under 2 GB.

Run: ``.venv/bin/python -m bench.sync_scale [--jobs 1000000]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

import ittybit_frames as itf
from bench._common import markdown_table, simulator_process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, simulator_process("--jobs", str(args.jobs)) as sim:
        lake = Path(tmp) / "lake"
        env = {**os.environ, "ITTYBIT_API_KEY": sim["api_key"], "ITTYBIT_BASE_URL": sim["url"]}
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ittybit_frames.cli", "sync", str(lake), "-q"],
            env=env,
            check=True,
        )
        elapsed = time.perf_counter() - t
        peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
        files = sorted((lake / "jobs").glob("created_date=*/part-0.parquet"))
        day = pd.Timestamp(files[len(files) // 2].parent.name.split("=")[1], tz="UTC")
        opened: list[str] = []
        import pyarrow.dataset as ds

        original = ds.dataset

        def spy(source: Any, **kwargs: Any) -> Any:
            opened.extend(source if isinstance(source, list) else [source])
            return original(source, **kwargs)

        ds.dataset = spy  # type: ignore[assignment]
        t = time.perf_counter()
        window = itf.read_parquet(lake, since=day, until=day + pd.Timedelta(days=1))
        read_s = time.perf_counter() - t
        ds.dataset = original  # type: ignore[assignment]
        lake_mb = sum(p.stat().st_size for p in lake.rglob("*.parquet")) / 1e6
        total = itf.sync(lake, progress=False, api_key=sim["api_key"], base_url=sim["url"])
    rows = [
        [
            "first sync (CLI process)",
            f"{args.jobs:,} jobs",
            f"{elapsed:.0f} s",
            f"{args.jobs / elapsed:,.0f} jobs/s",
        ],
        [
            "peak RSS of the sync process",
            "",
            f"{peak_mb:,.0f} MB",
            "under 2 GB" if peak_mb < 2048 else "**over 2 GB**",
        ],
        ["lake on disk", f"{len(files)} days", f"{lake_mb:,.0f} MB", ""],
        [
            "read_parquet one day",
            f"{len(window.jobs):,} jobs, {len(window.tasks):,} tasks",
            f"{read_s:.2f} s",
            f"{len(opened)} files opened of {2 * len(files)}",
        ],
        [
            "second sync (unchanged)",
            f"{total.requests:,} requests",
            f"{total.elapsed_seconds:.1f} s",
            "",
        ],
    ]
    print(markdown_table(["what", "size", "measure", "note"], rows))


if __name__ == "__main__":
    main()
