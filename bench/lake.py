"""Benchmark: writing the lake, and how cheap a second sync of an unchanged lake is.

1. ``write_parquet`` of the frames of 100,000 simulated jobs (day partitions, sorted,
   pinned schema, atomic files) into a new folder, against a bare
   ``pyarrow.parquet.write_table`` of the same two tables, interleaved in the same run
   (the median of three rounds each, the ratio of the medians). Target: at most 1.5x
   its time. Also timed: the same overwrite again, into the lake it just wrote (the
   table's twin and the old files are then in play). The baseline writes with
   pyarrow's defaults plus zstd, the lake's options but for row groups (1Mi rows
   against the lake's 128Ki: every partition here is smaller than either), and with
   ``from_pandas``' own conversion where the lake uses its pinned schema.
2. A merge of 1,000 changed jobs (100 of them moved to another creation day) into that
   100,000-job lake: the cost is the partitions touched plus the job index lookup.
3. A merge of 10 jobs of one day into lakes of 30 and of 365 day partitions (100 jobs a
   day): the cost must not grow with the partitions the merge does not touch (the
   tables are swapped whole through their hard-linked twins, see ``ittybit_frames.lake``).
4. A first ``sync`` of those 100,000 jobs from the simulator (its own process), then a
   second sync of the unchanged lake. Target: the second under 5 % of the first's time
   and requests.
5. The same figures for a lake on S3 (``s3://bench/...``), against moto's S3 server on
   127.0.0.1 in its own process, next to local disk (the last column: S3 / local disk).
   moto is a Python server: its figures show the protocol's requests and round trips
   on a local network, not a cloud's throughput. ``--no-s3`` leaves them out.

Run: ``.venv/bin/python -m bench.lake [--jobs 100000] [--no-s3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import ittybit_frames as itf
from bench._common import markdown_table, simulator_process
from ittybit_frames.simulator import generate_history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--no-s3", action="store_true", help="local disk only")
    args = parser.parse_args()
    frames = itf.to_frames(generate_history(args.jobs, seed=0))
    rows = []
    local: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare, ours, again = _full_writes(frames, root, rounds=3)
        rows.append(
            ["bare `pq.write_table` of jobs + tasks (baseline)", f"{bare:.2f}", "", "1.00x"]
        )
        rows.append(
            [
                "`write_parquet` (day partitions, sorted, atomic), into a new folder",
                f"{ours:.2f}",
                "",
                f"{ours / bare:.2f}x",
            ]
        )
        rows.append(
            [
                "the same `write_parquet` again, overwriting that lake",
                f"{again:.2f}",
                "",
                f"{again / bare:.2f}x",
            ]
        )
        changed = _changed(frames, 1000)
        t = time.perf_counter()
        merged = itf.write_parquet(changed, root / "lake", mode="merge")
        merge = time.perf_counter() - t
        rows.append(
            [
                f"merge 1,000 changed jobs into the {args.jobs:,}-job lake "
                f"({len(merged.partitions)} partitions rewritten)",
                f"{merge:.2f}",
                "",
                f"{merge / ours:.2f}x the full write",
            ]
        )
        narrow, wide = (_one_day_merge(root / f"days{d}", d) for d in (30, 365))
        local.update(write=ours, again=again, merge=merge, narrow=narrow, wide=wide)
        rows.append(["merge 10 jobs of one day into a 30-day lake", f"{narrow:.3f}", "", "1.00x"])
        rows.append(
            [
                "merge 10 jobs of one day into a 365-day lake",
                f"{wide:.3f}",
                "",
                f"{wide / narrow:.2f}x the 30-day lake",
            ]
        )
        with simulator_process("--jobs", str(args.jobs)) as sim:
            options = {"api_key": sim["api_key"], "base_url": sim["url"], "progress": False}
            first = itf.sync(root / "synced", **options)
            second = itf.sync(root / "synced", **options)
            local.update(first=first.elapsed_seconds, second=second.elapsed_seconds)
            s3_rows = [] if args.no_s3 else _on_s3(frames, options, local)
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
    if s3_rows:
        print("\nThe same on S3 (moto's S3 server on 127.0.0.1, its own process)\n")
        print(markdown_table(["what", "seconds", "requests", "vs local disk"], s3_rows))


def _on_s3(
    frames: itf.JobFrames, options: dict[str, Any], local: dict[str, float]
) -> list[list[str]]:
    """Section 5: the local-disk figures again, on a lake in a bucket of moto's server."""
    with s3_server() as bucket:
        url = f"s3://{bucket}/lake"
        timed: dict[str, float] = {}
        for name in ("write", "again"):  # into a new prefix, then over that lake
            t = time.perf_counter()
            itf.write_parquet(frames, url, mode="overwrite")
            timed[name] = time.perf_counter() - t
        t = time.perf_counter()
        merged = itf.write_parquet(_changed(frames, 1000), url, mode="merge")
        timed["merge"] = time.perf_counter() - t
        timed["narrow"] = _one_day_merge(f"s3://{bucket}/days30", 30)
        timed["wide"] = _one_day_merge(f"s3://{bucket}/days365", 365)
        first = itf.sync(f"s3://{bucket}/synced", **options)
        second = itf.sync(f"s3://{bucket}/synced", **options)
        timed.update(first=first.elapsed_seconds, second=second.elapsed_seconds)
    what = {
        "write": "`write_parquet` into a new prefix",
        "again": "the same `write_parquet` again, overwriting that lake",
        "merge": f"merge 1,000 changed jobs ({len(merged.partitions)} partitions rewritten)",
        "narrow": "merge 10 jobs of one day into a 30-day lake",
        "wide": "merge 10 jobs of one day into a 365-day lake",
        "first": f"first `sync` ({first.new_jobs:,} new jobs)",
        "second": "second `sync`, unchanged lake",
    }
    requests = {"first": f"{first.requests:,}", "second": f"{second.requests:,}"}
    return [
        [
            f"S3: {label}",
            f"{timed[key]:.3f}" if timed[key] < 1 else f"{timed[key]:.2f}",
            requests.get(key, ""),
            f"{timed[key] / local[key]:.2f}x",
        ]
        for key, label in what.items()
    ]


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (its own process); yields a new bucket's name. The
    standard AWS variables point the lake at it (credentials are moto's dummies)."""
    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        boto3.client("s3").create_bucket(Bucket="bench")
        yield "bench"
    finally:
        os.environ.clear()
        os.environ.update(saved)
        proc.terminate()
        proc.wait(10)


def _full_writes(frames: itf.JobFrames, root: Path, rounds: int) -> tuple[float, float, float]:
    """Median seconds of (the bare write, ``write_parquet`` into a new folder, the same
    overwrite of that lake), interleaved round by round; ``root / "lake"`` is left."""
    times: list[list[float]] = [[], [], []]
    for i in range(rounds):
        lake, bare = root / ("lake" if i == 0 else f"lake{i}"), root / f"bare{i}"
        bare.mkdir()
        t = time.perf_counter()
        for name, frame in (("jobs", frames.jobs), ("tasks", frames.tasks)):
            pq.write_table(
                pa.Table.from_pandas(frame, preserve_index=False),
                bare / f"{name}.parquet",
                compression="zstd",
            )
        times[0].append(time.perf_counter() - t)
        for kind in (1, 2):  # into a new folder, then over the lake it made
            t = time.perf_counter()
            itf.write_parquet(frames, lake, mode="overwrite")
            times[kind].append(time.perf_counter() - t)
        shutil.rmtree(bare)
        if i:
            shutil.rmtree(lake)
    bare_s, ours, again = (statistics.median(t) for t in times)
    return bare_s, ours, again


def _day_jobs(ids: range, days: int, version: int) -> itf.JobFrames:
    """Finished jobs (one task each) numbered ``ids``, job ``i`` on UTC day ``i % days``."""
    t0, day = 1_790_000_000_000, 86_400_000
    records = []
    for i in ids:
        created = t0 + (i % days) * day + i * 1000
        times = {"created_at": created, "updated_at": created + 60_000 + version * 1000}
        task = {"id": f"task_{i:06d}", "kind": "probe", "status": "succeeded", **times}
        records.append(
            {"id": f"job_{i:06d}", "kind": "video", "status": "succeeded", **times, "tasks": [task]}
        )
    return itf.to_frames(records)


def _one_day_merge(lake: Path | str, days: int) -> float:
    """Median seconds of merging 10 changed jobs of one day into a ``days``-day lake."""
    itf.write_parquet(_day_jobs(range(100 * days), days, 0), lake)
    times = []
    for version in range(1, 6):  # the first merge also links every partition into the twins
        changed = _day_jobs(range(0, 10 * days, days), days, version)  # all on day 0
        t = time.perf_counter()
        itf.write_parquet(changed, lake)
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def _changed(frames: itf.JobFrames, n: int) -> itf.JobFrames:
    """``n`` jobs one second newer; every tenth also created a day later (it moves)."""
    jobs = frames.jobs.sample(n, random_state=0).copy()
    jobs["updated_at"] = jobs["updated_at"] + pd.Timedelta(seconds=1)
    moved = jobs.index[::10]
    jobs.loc[moved, "created_at"] = jobs.loc[moved, "created_at"] + pd.Timedelta(days=1)
    tasks = frames.tasks[frames.tasks["job_id"].isin(set(jobs["job_id"]))].copy()
    shift = jobs.set_index("job_id")["created_at"]
    tasks["job_created_at"] = tasks["job_id"].map(shift).astype(tasks["job_created_at"].dtype)
    return itf.JobFrames(jobs, tasks, frames.problems)


if __name__ == "__main__":
    main()
