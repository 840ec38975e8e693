"""Adversarial pass, session 10: the command line as a new user meets it."""

from __future__ import annotations

import os
import subprocess
import sys

from ittybit_frames.simulator import SimulatorAPI


def test_export_to_a_pipe_its_reader_closes_is_not_reported_as_done(api: SimulatorAPI) -> None:
    """``export --out - | head -n 1``: the reader goes away while the export is still
    writing. The kernel takes part of the write and the interpreter's buffered write
    returned that short count without a word; the export said it had exported every job
    and exited 0, having written a fraction of them (a scheduled ``export | loader``
    whose loader died looked done). Now a write that is cut short is a broken pipe:
    one line, exit 1, and no claim of jobs exported."""
    # 400 jobs: a megabyte of NDJSON, far more than a pipe holds, so the export is still
    # inside its write when the first line has been read and the pipe is closed.
    env = {**os.environ, "ITTYBIT_API_KEY": api.api_key, "ITTYBIT_BASE_URL": api.url}
    command = [sys.executable, "-m", "ittybit_frames.cli", "export", "--all"]
    with subprocess.Popen(
        [*command, "--format", "ndjson", "--out", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # as `head -n 1` does
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert first.startswith(b'{"id":"job_')
    assert code == 1, stderr
    assert "Exported" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Broken pipe" in lines[0], stderr
