"""Benchmark: this checkout's ``to_frames`` against another version's, same file, same run.

The figures of ``bench/frames.py`` are ratios to baselines (naive pandas, bare pyarrow)
whose own speed drifts with the machine (this VM's multi-threaded C++ against its
single-threaded Python changed by ~1.8x between sessions). To tell whether the code got
slower, run the code of another version on the same NDJSON in the same run: each side in
a fresh process, taken in turn, ``--rounds`` times; the medians are compared.

The other version is another checkout with its own environment, named by its Python
(``--other-python``), e.g. a worktree of an old commit::

    git worktree add --detach ../old 68143aa
    python3.11 -m venv ../old/.venv && ../old/.venv/bin/pip install -e ../old
    .venv/bin/python -m bench.versus --other-python ../old/.venv/bin/python

The history is written by the *other* version's simulator (``--history-from this`` for
ours): an older version reads its own shape at full speed, so the comparison is fair.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._common import markdown_table

_WRITE = """
import sys, orjson
from ittybit_frames.simulator import generate_history
with open(sys.argv[2], "wb") as fh:
    for job in generate_history(int(sys.argv[1]), seed=0):
        fh.write(orjson.dumps(job) + b"\\n")
"""

_TIME = """
import sys, time
from pathlib import Path
from ittybit_frames import to_frames
data = Path(sys.argv[1]).read_bytes()
t, c = time.perf_counter(), time.process_time()
frames = to_frames(data)
print(time.perf_counter() - t, time.process_time() - c, len(frames.tasks))
"""


def _run(python: str, code: str, *args: str) -> str:
    # From a neutral folder, so that each Python imports its own checkout's package.
    done = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, check=True, cwd="/"
    )
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other-python", required=True, help="the other checkout's Python")
    parser.add_argument("--label", default="other", help="the other version's name")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--history-from", choices=["other", "this"], default="other")
    args = parser.parse_args()
    sides = {args.label: args.other_python, "this checkout": sys.executable}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "jobs.ndjson")
        writer = args.other_python if args.history_from == "other" else sys.executable
        _run(writer, _WRITE, str(args.jobs), path)
        size = Path(path).stat().st_size / 1e6
        wall: dict[str, list[float]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        rows: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, python in sides.items():
                seconds, cpu_seconds, tasks = _run(python, _TIME, path).split()
                wall[name].append(float(seconds))
                cpu[name].append(float(cpu_seconds))
                rows[name] = int(tasks)
    print(
        f"{args.jobs:,} jobs ({size:,.0f} MB of NDJSON written by the {args.history_from} "
        f"version's simulator); `to_frames` in a fresh process per run, sides taken in turn, "
        f"{args.rounds} rounds.\n"
    )
    base = statistics.median(wall[args.label])
    table = []
    for name in sides:
        median = statistics.median(wall[name])
        table.append(
            [
                name,
                f"{rows[name]:,}",
                " / ".join(f"{s:.2f}" for s in wall[name]),
                f"{median:.2f}",
                f"{statistics.median(cpu[name]):.2f}",
                f"{median / base:.2f}x",
            ]
        )
    header = ["version", "task rows", "wall s (each round)", "median s", "median CPU s", "vs other"]
    print(markdown_table(header, table))


if __name__ == "__main__":
    main()
