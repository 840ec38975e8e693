"""Run every benchmark and rewrite its table in BENCHMARKS.md.

Each benchmark prints a Markdown table in which every figure stands next to the
baseline measured in the same run; this script runs them one after another (never in
parallel: they would skew each other on a 2-core machine) and replaces the text between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` with the fresh output.

Run: ``.venv/bin/python -m bench.run_all [--only fetch lake ...] [--quick]``.
``--quick`` uses smaller sizes (for a smoke test, not for the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (full-size arguments, quick arguments)
    "fetch": ([], ["--jobs", "3000", "--fetch", "600", "--sequential", "30"]),
    "frames": (["--jobs", "100000", "--repeat", "1"], ["--jobs", "3000"]),
    "lake": (["--jobs", "100000"], ["--jobs", "3000"]),
    "metrics": (["--jobs", "1000000"], ["--jobs", "20000"]),
    "sync_scale": (["--jobs", "1000000"], ["--jobs", "5000"]),
    "simulator": (["--jobs", "1000000", "--runs", "1"], ["--jobs", "20000", "--runs", "1"]),
}


def run(name: str, args: list[str]) -> str:
    command = [sys.executable, "-m", f"bench.{name}", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    shown = " ".join(["python -m", f"bench.{name}", *args])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = result.stdout.strip()
    return f"Command: `{shown}` ({stamp}).\n\n{table}\n"


def replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if not pattern.search(text):
        return (
            text.rstrip()
            + f"\n\n## {name}\n\n<!-- bench:{name} -->\n{body}<!-- /bench:{name} -->\n"
        )
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--file", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    path = Path(args.file)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    for name in args.only or list(BENCHES):
        full, quick = BENCHES[name]
        print(f"running bench.{name} ...", file=sys.stderr)
        text = replace(text, name, run(name, quick if args.quick else full))
        path.write_text(text)  # after each: a later failure keeps what was measured


if __name__ == "__main__":
    main()
