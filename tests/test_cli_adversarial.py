"""The command line on a bad day: odd places, odd input, interruptions.

Each test here failed before the fix it names (see the commit that added it).
"""

from __future__ import annotations

import signal
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


class _PressCtrlC:
    """A server of the test's own in front of the simulator: the first page is the
    simulator's; asked for the second, it presses Ctrl-C in the command (SIGINT) and
    holds the answer back, so the command is always waiting for a page when it lands."""

    def __init__(self, upstream: Any) -> None:
        import http.server
        import threading
        import urllib.request

        self.proc: Any = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if outer.served:
                    outer.proc.send_signal(signal.SIGINT)
                    outer.released.wait(60)  # the command hangs up, or the test ends
                    return
                outer.served = True
                ask = urllib.request.Request(upstream.url + self.path, headers=dict(self.headers))
                with urllib.request.urlopen(ask) as answer:
                    body = answer.read()
                    link = answer.headers.get("Link", "").replace(upstream.url, outer.url)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.served = False
        self.released = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def test_ctrl_c_mid_export_writes_nothing(tmp_path: Path) -> None:
    """Why: Ctrl-C while export waited for a page of the listing ended, one time in
    two, in a traceback (exit 1): the listing's generator was closed while its page was
    still being cancelled ('aclose(): asynchronous generator is already running').
    Now: exit 3, one line, no output and no temporary file left."""
    with serve(generate_history(300, seed=3)) as api:
        _export_and_press_ctrl_c(api, tmp_path)


def _export_and_press_ctrl_c(api: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    front = _PressCtrlC(api)
    try:
        env = {**os.environ, "ITTYBIT_API_KEY": api.api_key, "ITTYBIT_BASE_URL": front.url}
        command = [sys.executable, "-m", "ittybit_frames.cli", "export", "--all"]
        front.proc = subprocess.Popen(
            [*command, "--format", "ndjson", "--out", str(tmp_path / "out.ndjson")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, err = front.proc.communicate(timeout=60)
    finally:
        front.close()
    text = err.decode()
    assert front.proc.returncode == 3, text
    assert "nothing was written" in _one_line(text)
    assert api.api_key not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == []


EMPTY_PATHS = [
    ["export", "--all", "--format", "csv", "--out", ""],
    ["export", "--ids-file", "", "--format", "ndjson", "--out", "{tmp}/x.ndjson"],
    ["report", "{lake}", "--out", ""],
    ["report", "", "--out", "{tmp}/r"],
    ["show", "job_1", "--lake", ""],
    ["show", "job_1", "--lake", "{lake}", "--png", ""],
    ["sync", ""],
    ["demo", "--out", "", "--jobs", "5"],
    ["info", ""],
    ["check", ""],
]


@pytest.mark.parametrize("argv", EMPTY_PATHS, ids=[" ".join(a) for a in EMPTY_PATHS])
def test_an_empty_path_is_refused(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Why: an empty path (``--out "$OUT"`` with OUT unset) was read as the current
    folder, or as no option at all: ``export --ids-file ""`` walked and exported the
    whole listing, ``show --lake ""`` asked the API, ``export --format csv --out ""`` and
    ``report --out ""`` wrote into the current folder. Now: exit 2 before any work."""
    import ittybit_frames as itf

    lake = tmp_path / "lake"
    itf.write_parquet(itf.to_frames(generate_history(5, seed=1)), lake)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("ITTYBIT_API_KEY", "k")
    monkeypatch.setenv("ITTYBIT_BASE_URL", "http://127.0.0.1:9")  # nothing listens
    args = [a.format(tmp=tmp_path, lake=lake) for a in argv]
    code = main(args)
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "empty" in line
    assert list(here.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "lake"]


@pytest.mark.parametrize("name", ["job.jpg", "job.svg", "job"])
def test_show_png_into_a_file_of_another_kind_is_refused_at_once(
    name: str, env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why: --png x.jpg wrote PNG bytes into a file named .jpg (a viewer then refuses
    it, or a pipeline treats it as a JPEG). Now: exit 2, one line, before any request."""
    before = len(env.requests)
    code = main(["show", env.jobs[0]["id"], "--png", str(tmp_path / name)])
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert ".png" in line
    assert list(tmp_path.iterdir()) == [] and len(env.requests) == before


def test_since_on_a_later_sync_says_it_is_not_used(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why: --since is read by a lake's first sync only; given again later it was
    ignored without a word (the user believes the lake now reaches back that far)."""
    lake = str(tmp_path / "lake")
    assert main(["sync", lake, "--since", "3650d"]) == 0
    first = capsys.readouterr().err
    assert "--since" not in first
    assert main(["sync", lake, "--since", "1d"]) == 0
    err = capsys.readouterr().err
    [note] = [line for line in err.splitlines() if "--since" in line]
    assert "first sync" in note and "Traceback" not in err
    assert main(["sync", lake]) == 0
    assert "--since" not in capsys.readouterr().err
