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

Older checkouts whose dependencies are this environment's may also be run with this
Python, their folder first on ``PYTHONPATH`` (``--checkout``, as often as wanted: a
bisection of a slowdown in one run)::

    git worktree add --detach ../at-37ac14d 37ac14d
    .venv/bin/python -m bench.versus --checkout ../at-37ac14d --checkout ../at-930f9ed

The history is written by the first other version's simulator (``--history-from this``
for ours): an older version reads its own shape at full speed, so the comparison is
fair. The first side is the base of both ratios; on a loaded machine the CPU ratio is
the steadier one.
"""

from __future__ import annotations

import argparse
import os
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


#: A side: the Python that runs it, and the checkout first on its path (None: its own).
Side = tuple[str, str | None]


def _run(side: Side, code: str, *args: str) -> str:
    # From a neutral folder, so that each side imports its own checkout's package.
    python, checkout = side
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [checkout, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, check=True, cwd="/", env=env
    )
    return done.stdout


def _name(checkout: str) -> str:
    """A checkout's folder and commit, for the table."""
    found = subprocess.run(
        ["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = found.stdout.strip()
    return f"{Path(checkout).name} ({commit})" if commit else Path(checkout).name


def _sides(args: argparse.Namespace) -> dict[str, Side]:
    sides: dict[str, Side] = {}
    if args.other_python:
        sides[args.label] = (args.other_python, None)
    for checkout in args.checkout:
        sides[_name(checkout)] = (sys.executable, str(Path(checkout).resolve()))
    if not sides:
        raise SystemExit("give --other-python or --checkout: the version(s) to compare with")
    sides["this checkout"] = (sys.executable, None)
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other-python", help="another checkout's Python (its own venv)")
    parser.add_argument("--label", default="other", help="that version's name")
    parser.add_argument(
        "--checkout", action="append", default=[], help="another checkout run with this Python"
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--history-from", choices=["other", "this"], default="other")
    args = parser.parse_args()
    sides = _sides(args)
    first = next(iter(sides))
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "jobs.ndjson")
        writer = sides[first] if args.history_from == "other" else sides["this checkout"]
        _run(writer, _WRITE, str(args.jobs), path)
        size = Path(path).stat().st_size / 1e6
        wall: dict[str, list[float]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        rows: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, side in sides.items():
                seconds, cpu_seconds, tasks = _run(side, _TIME, path).split()
                wall[name].append(float(seconds))
                cpu[name].append(float(cpu_seconds))
                rows[name] = int(tasks)
    print(
        f"{args.jobs:,} jobs ({size:,.0f} MB of NDJSON written by the {args.history_from} "
        f"version's simulator); `to_frames` in a fresh process per run, sides taken in turn, "
        f"{args.rounds} rounds.\n"
    )
    base, base_cpu = statistics.median(wall[first]), statistics.median(cpu[first])
    table = []
    for name in sides:
        median, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        table.append(
            [
                name,
                f"{rows[name]:,}",
                " / ".join(f"{s:.2f}" for s in wall[name]),
                f"{median:.2f}",
                " / ".join(f"{s:.2f}" for s in cpu[name]),
                f"{median_cpu:.2f}",
                f"{median / base:.2f}x",
                f"{median_cpu / base_cpu:.2f}x",
            ]
        )
    header = [
        "version",
        "task rows",
        "wall s (each round)",
        "median s",
        "CPU s (each round)",
        "median CPU s",
        "wall vs first",
        "CPU vs first",
    ]
    print(markdown_table(header, table))


if __name__ == "__main__":
    main()
