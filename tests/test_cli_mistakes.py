"""User mistakes at the command line: each is one line on stderr naming what to fix,
exit 2 (usage or configuration) or 1 (work done, some items failed), never a traceback.

The API is pointed at a closed loopback port: every mistake here must be caught before
any network work (a case that reached the network would fail with another code or
message). ``simulate``'s port mistakes run in a process of their own (a server that
started by mistake would serve forever).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import generate_history, serve

EXPORT = ["export", "--out", "{tmp}/out", "--all"]
SIM = ["simulate", "--jobs", "5"]

#: (what the user did wrong, argv, exit code, words the one line must contain)
CASES: list[tuple[str, list[str], int, str]] = [
    # parsing
    ("unknown command", ["no-such-command"], 2, "invalid choice"),
    ("no command", [], 2, "COMMAND"),
    ("unknown option", ["sync", "{tmp}/lake", "--frobnicate"], 2, "--frobnicate"),
    ("command typo", ["repot", "{tmp}/lake"], 2, "did you mean report?"),
    (
        "option typo, named by its command",
        ["sync", "{tmp}/lake", "--concurency", "3"],
        2,
        "did you mean --concurrency? (see 'ittybit-frames sync --help'",
    ),
    ("choice typo", [*EXPORT, "--format", "parqet"], 2, "did you mean parquet?"),
    ("demo --jobs 0", ["demo", "--out", "{tmp}/d", "--jobs", "0"], 2, "--jobs"),
    ("demo --jobs abc", ["demo", "--out", "{tmp}/d", "--jobs", "abc"], 2, "whole number"),
    ("demo --out FILE", ["demo", "--out", "{file}", "--jobs", "5"], 2, "not a folder"),
    ("export without --out", ["export", "--ids", "job_1"], 2, "--out"),
    ("export --ids and --all", ["export", "--out", "{tmp}/x", "--ids", "a", "--all"], 2, "--all"),
    ("export --format xls", [*EXPORT, "--format", "xls"], 2, "--format"),
    ("export --out - as parquet", ["export", "--out", "-", "--all"], 2, "ndjson"),
    ("export --ids ''", ["export", "--out", "{tmp}/x", "--ids", " "], 2, "empty"),
    # --ids-file
    ("--ids-file missing", ["export", "--out", "{tmp}/x", "--ids-file", "{tmp}/none"], 2, "exist"),
    ("--ids-file DIR", ["export", "--out", "{tmp}/x", "--ids-file", "{dir}"], 2, "folder"),
    ("--ids-file binary", ["export", "--out", "{tmp}/x", "--ids-file", "{binary}"], 2, "UTF-8"),
    ("--ids-file UTF-16", ["export", "--out", "{tmp}/x", "--ids-file", "{utf16}"], 2, "UTF-8"),
    ("--ids-file empty", ["export", "--out", "{tmp}/x", "--ids-file", "{empty}"], 2, "no job IDs"),
    # kinds, statuses and times
    ("export --kind movie", [*EXPORT, "--kind", "movie"], 2, "video"),
    ("export --status faild", [*EXPORT, "--status", "faild"], 2, "failed"),
    ("sync --kind movie", ["sync", "{tmp}/lake", "--kind", "movie"], 2, "video"),
    ("sync --since words", ["sync", "{tmp}/lake", "--since", "last tuesday"], 2, "7d"),
    ("export --until words", [*EXPORT, "--until", "soon"], 2, "--until"),
    (
        "--since after --until",
        [*EXPORT, "--since", "2026-11-02", "--until", "2026-11-01"],
        2,
        "--until",
    ),
    ("report --since words", ["report", "{lake}", "--out", "{tmp}/r", "--since", "x"], 2, "7d"),
    # numbers
    ("--rate-limit 0", ["sync", "{tmp}/lake", "--rate-limit", "0"], 2, "--rate-limit"),
    ("--rate-limit nan", ["sync", "{tmp}/lake", "--rate-limit", "nan"], 2, "--rate-limit"),
    ("--rate-limit -1", [*EXPORT, "--rate-limit", "-1"], 2, "--rate-limit"),
    ("--rate-limit inf", [*EXPORT, "--rate-limit", "inf"], 2, "--rate-limit"),
    ("--rate-limit ten", [*EXPORT, "--rate-limit", "ten"], 2, "--rate-limit"),
    ("--concurrency 0", [*EXPORT, "--concurrency", "0"], 2, "--concurrency"),
    ("--max-attempts -3", ["sync", "{tmp}/lake", "--max-attempts", "-3"], 2, "--max-attempts"),
    ("--batch-jobs 0", ["sync", "{tmp}/lake", "--batch-jobs", "0"], 2, "--batch-jobs"),
    ("--lock-timeout -1", ["sync", "{tmp}/lake", "--lock-timeout", "-1"], 2, "--lock-timeout"),
    ("--lock-timeout nan", ["check", "{lake}", "--lock-timeout", "nan"], 2, "--lock-timeout"),
    ("simulate --fault-rate 5", [*SIM, "--fault-rate", "5"], 2, "--fault-rate"),
    ("simulate --fault-rate -0.1", [*SIM, "--fault-rate", "-0.1"], 2, "--fault-rate"),
    ("simulate --latency-ms -5", [*SIM, "--latency-ms", "-5"], 2, "--latency-ms"),
    ("simulate --retry-after -1", [*SIM, "--retry-after", "-1"], 2, "--retry-after"),
    ("simulate --rate-limit 0", [*SIM, "--rate-limit", "0"], 2, "--rate-limit"),
    ("simulate --advance-every 0", [*SIM, "--advance-every", "0"], 2, "--advance-every"),
    ("simulate --port 99999", [*SIM, "--port", "99999"], 2, "--port"),
    ("simulate --port -1", [*SIM, "--port", "-1"], 2, "--port"),
    # the API's configuration
    ("--base-url http://[::1", [*EXPORT, "--base-url", "http://[::1"], 2, "base URL"),
    ("--base-url ftp://", ["sync", "{tmp}/lake", "--base-url", "ftp://example.com"], 2, "base URL"),
    ("--base-url plain http", [*EXPORT, "--base-url", "http://example.com"], 2, "https"),
    # paths and their kinds
    ("sync FILE", ["sync", "{file}"], 2, "not a folder"),
    ("sync /proc/nope/lake", ["sync", "/proc/nope/lake"], 2, "/proc/nope"),
    ("sync a folder that is not a lake", ["sync", "{notlake}"], 2, "not an ittybit-frames lake"),
    ("export parquet --out FILE", ["export", "--out", "{file}", "--all"], 2, "not a folder"),
    (
        "export csv --out FILE",
        ["export", "--out", "{file}", "--all", "--format", "csv"],
        2,
        "not a folder",
    ),
    (
        "export ndjson --out DIR",
        ["export", "--out", "{dir}", "--all", "--format", "ndjson"],
        2,
        "is a folder",
    ),
    ("report FILE", ["report", "{file}", "--out", "{tmp}/r"], 2, "not a folder"),
    ("report EMPTYDIR", ["report", "{dir}", "--out", "{tmp}/r"], 2, "no lake"),
    ("report missing", ["report", "{tmp}/none", "--out", "{tmp}/r"], 2, "sync"),
    ("report --out FILE", ["report", "{lake}", "--out", "{file}"], 2, "not a folder"),
    ("check FILE", ["check", "{file}"], 2, "not a folder"),
    ("check missing", ["check", "{tmp}/none"], 2, "no lake"),
    ("check a folder that is not a lake", ["check", "{notlake}"], 2, "no lake"),
    (
        "report of an empty time window",
        ["report", "{lake}", "--out", "{tmp}/r", "--since", "2001-01-01", "--until", "2001-01-02"],
        1,
        "the lake covers",
    ),
    ("schema --format xml", ["schema", "--format", "xml"], 2, "--format"),
    (
        "demo --out unwritable",
        ["demo", "--out", "/proc/nope/demo", "--jobs", "5"],
        2,
        "cannot write",
    ),
    (
        "--ids-file unreadable",
        ["export", "--out", "{tmp}/x", "--ids-file", "/proc/self/mem"],
        2,
        "cannot be read",
    ),
    # info and show
    ("info FILE", ["info", "{file}"], 2, "not a folder"),
    ("info EMPTYDIR", ["info", "{dir}"], 2, "no lake"),
    ("show without an ID", ["show"], 2, "JOB_ID"),
    ("show --lake missing", ["show", "job_1", "--lake", "{tmp}/none"], 2, "no lake"),
    ("show --png DIR", ["show", "job_1", "--lake", "{lake}", "--png", "{dir}"], 2, "is a folder"),
    ("show a path as an ID", ["show", "../../admin"], 2, "job ID"),
    ("show --base-url bad", ["show", "job_1", "--base-url", "http://[::1"], 2, "base URL"),
]


@pytest.fixture(scope="module")
def a_lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small lake the cases only read."""
    lake = tmp_path_factory.mktemp("cli-mistakes") / "lake-ok"
    itf.write_parquet(itf.to_frames(generate_history(20, seed=3)), lake)
    return str(lake)


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, a_lake: str) -> dict[str, str]:
    """The paths the cases name, and an API that nothing listens on."""
    monkeypatch.setenv("ITTYBIT_API_KEY", "k")
    monkeypatch.setenv("ITTYBIT_BASE_URL", "http://127.0.0.1:9")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "not-a-lake").mkdir()
    (tmp_path / "not-a-lake" / "holiday.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "ids.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "ids-utf16.txt").write_text("job_1\njob_2\n", encoding="utf-16")
    (tmp_path / "ids-empty.txt").write_text("# nothing yet\n\n")
    return {
        "tmp": str(tmp_path),
        "file": str(tmp_path / "notes.txt"),
        "dir": str(tmp_path / "empty-dir"),
        "notlake": str(tmp_path / "not-a-lake"),
        "binary": str(tmp_path / "ids.bin"),
        "utf16": str(tmp_path / "ids-utf16.txt"),
        "empty": str(tmp_path / "ids-empty.txt"),
        "lake": a_lake,
    }


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_mistake_is_one_line(
    argv: list[str],
    code: int,
    words: str,
    places: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([a.format(**places) for a in argv]) == code
    captured = capsys.readouterr()
    assert words in _one_line(captured.err)
    assert captured.out == ""


def test_there_are_at_least_forty_mistakes() -> None:
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def test_nothing_was_created_by_a_refused_command(
    places: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", f"{places['tmp']}/new-lake", "--rate-limit", "0"]) == 2
    assert main(["export", "--out", f"{places['tmp']}/new-out", "--all", "--kind", "x"]) == 2
    window = ["--since", "2001-01-01", "--until", "2001-01-02"]
    assert main(["report", places["lake"], "--out", f"{places['tmp']}/new-report", *window]) == 1
    assert not Path(places["tmp"], "new-report").exists()
    assert not Path(places["tmp"], "new-lake").exists()
    assert not Path(places["tmp"], "new-out").exists()


def test_a_lake_with_only_a_lock_left_is_still_a_lake(
    places: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A sync killed before its first write leaves its lock: running it again is no
    mistake (here it goes on to the closed API port: exit 1, not 2)."""
    lake = Path(places["tmp"], "stopped-early")
    lake.mkdir()
    (lake / ".ittybit_frames.lock").write_text("")
    assert main(["sync", str(lake), "--max-attempts", "1"]) == 1
    assert "ITTYBIT_BASE_URL" in _one_line(capsys.readouterr().err)


def test_verbose_adds_the_traceback(
    places: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-v", "report", places["file"], "--out", f"{places['tmp']}/r"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "not a folder" in err


def _run_cli(
    *args: str, timeout: float = 60, stdout: Any = subprocess.PIPE, **options: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ittybit_frames.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_simulate_on_impossible_and_busy_ports_exits_2_at_once(busy_port: int) -> None:
    # timeout: a server that started anyway would serve until killed
    for port, words in (("99999", "--port"), (str(busy_port), "in use")):
        done = _run_cli("simulate", "--jobs", "5", "--port", port, timeout=30)
        assert done.returncode == 2, done.stderr
        assert words in _one_line(done.stderr)
        assert done.stdout == ""


def test_a_full_disk_is_one_line_and_exit_1() -> None:
    """Writing to a full device (/dev/full) fails as a full disk does."""
    with open("/dev/full", "w") as full:
        done = _run_cli("schema", stdout=full)
    assert done.returncode == 1, done.stderr
    assert "No space left" in _one_line(done.stderr)


def test_a_full_disk_during_export_is_one_line_and_exit_1() -> None:
    """The jobs are fetched, then writing them fails as on a full disk: exit 1."""
    with serve(generate_history(30, seed=8)) as api:
        env = {**os.environ, "ITTYBIT_API_KEY": api.api_key, "ITTYBIT_BASE_URL": api.url}
        with open("/dev/full", "w") as full:
            done = _run_cli(
                "export", "--all", "--format", "ndjson", "--out", "-", stdout=full, env=env
            )
    assert done.returncode == 1, done.stderr
    assert "No space left" in _one_line(done.stderr)


def test_a_read_only_lake_is_refused_before_any_work(tmp_path: Path) -> None:
    """Permissions do not stop root: as root, the lake is a read-only mount instead
    (in a mount namespace of the command's own, so nothing outlives it)."""
    lake = tmp_path / "lake"
    itf.write_parquet(itf.to_frames(generate_history(10, seed=4)), lake)
    before = sorted(p.name for p in lake.iterdir())
    command = [sys.executable, "-m", "ittybit_frames.cli", "sync", str(lake)]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare(1): no way to make a read-only folder")
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, "sh", str(lake), *command]
    else:
        lake.chmod(0o555)
    env = {**os.environ, "ITTYBIT_API_KEY": "k", "ITTYBIT_BASE_URL": "http://127.0.0.1:9"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=env, check=False
        )
    finally:
        lake.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert "cannot write" in _one_line(done.stderr)
    assert str(lake) in done.stderr
    assert sorted(p.name for p in lake.iterdir()) == before
