"""The command line on a bad day: odd places, odd input, interruptions.

Each test here failed before the fix it names (see the commit that added it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ittybit_frames.cli import main
from ittybit_frames.simulator import generate_history, serve


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    with serve(generate_history(20, seed=2)) as running:
        yield running


@pytest.fixture
def env(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
    monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
    return api


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("blocked", ["jobs.csv", "tasks.csv"])
def test_a_csv_export_that_cannot_write_one_file_writes_neither(
    tmp_path: Path, env: Any, capsys: pytest.CaptureFixture[str], blocked: str
) -> None:
    """Why: jobs.csv was written before tasks.csv was tried, so a folder named tasks.csv
    in --out (or a full disk, or Ctrl-C between them) left a new jobs.csv beside an old
    or missing tasks.csv. Now the place is checked first (exit 2, no request made) and
    both files are written before either replaces what was there."""
    out = tmp_path / "csv"
    (out / blocked).mkdir(parents=True)
    before = len(env.requests)
    code = main(["export", "--all", "--format", "csv", "--out", str(out)])
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert blocked in line
    assert sorted(p.name for p in out.iterdir()) == [blocked]
    assert len(env.requests) == before


def test_show_png_in_a_folder_yet_to_be_made(
    tmp_path: Path, env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why: --png was checked as a place that can be made, then drawn without making its
    folder: the job was printed, then 'error: No such file or directory', exit 1."""
    png = tmp_path / "new" / "dir" / "job.png"
    job_id = env.jobs[0]["id"]
    code = main(["show", job_id, "--png", str(png)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in png.parent.iterdir()) == ["job.png"]  # no temporary left


def test_ctrl_c_mid_export_writes_nothing(tmp_path: Path) -> None:
    """Ctrl-C while the listing is walked: exit 3, one line, no output and no
    temporary file left (the walk cannot end first: each page takes a second)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.ndjson"
    with serve(generate_history(3000, seed=3), latency=1.0) as slow:
        env = {**os.environ, "ITTYBIT_API_KEY": slow.api_key, "ITTYBIT_BASE_URL": slow.url}
        command = [sys.executable, "-m", "ittybit_frames.cli", "export", "--all"]
        proc = subprocess.Popen(
            [*command, "--format", "ndjson", "--out", str(out), "--concurrency", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not slow.requests:  # the walk has begun: a page was answered
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)  # polling for a request, not waiting for luck
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 3, text
    assert "nothing was written" in _one_line(text)
    assert slow.api_key not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == []
