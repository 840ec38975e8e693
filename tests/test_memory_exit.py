"""Frames kept until the interpreter shuts down: a process that imported the package
first and keeps its frames in a module of its own (a cache) exits cleanly. Module
globals are cleared at shutdown, the package's before that module's: the pool the
frames' buffers came from (``memory._OURS``) was freed first, and freeing the buffers
after it crashed the process (SIGSEGV, exit code -11) once its work had succeeded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CACHE = """
import ittybit_frames as itf

KEPT = {}


def keep(records):
    KEPT["frames"] = itf.to_frames(records)
    return KEPT["frames"]
"""

MAIN = """
import ittybit_frames as itf
import cache
from ittybit_frames.simulator import generate_history

frames = cache.keep(generate_history(%d, seed=3))
print(len(frames.jobs))
"""


@pytest.mark.parametrize("jobs", [300, 12_000])  # the careful path, and DuckDB's
def test_frames_kept_in_a_module_until_exit_do_not_crash_it(tmp_path: Path, jobs: int) -> None:
    (tmp_path / "cache.py").write_text(CACHE)
    done = subprocess.run(
        [sys.executable, "-c", MAIN % jobs],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,  # a bound for a hung process, not a timing
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == str(jobs)
