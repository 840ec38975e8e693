"""What the command prints at each level, --json on every subcommand, and the help."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.cli._parser import build_parser
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorAPI]:
    with serve(generate_history(60, seed=5)) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        yield api


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    itf.write_parquet(itf.to_frames(generate_history(40, seed=6)), tmp_path / "lake")
    return tmp_path / "lake"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_nothing_on_success(
    where: str, tmp_path: Path, served: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sync", str(tmp_path / "lake")]
    assert main(["-q", *argv] if where == "before" else [*argv, "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert len(itf.read_parquet(tmp_path / "lake").jobs) == 60


def test_default_is_one_summary_line(
    tmp_path: Path, served: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", str(tmp_path / "lake")]) == 0
    captured = capsys.readouterr()
    (line,) = _lines(captured.err)
    assert line.startswith(f"Synced {tmp_path / 'lake'}: 60 new") and "60 jobs in the lake" in line
    assert captured.out == ""


#: (command, level): the fast commands at every level, the ones that draw a report at one
#: each (drawing costs seconds; the levels are the same code for every command).
_LEVEL_RUNS = [
    *((name, level) for name in ("export", "check") for level in ("-q", "", "-v")),
    ("demo", ""),
    ("report", "-q"),
]


def test_each_command_at_each_level(
    tmp_path: Path, served: SimulatorAPI, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-q: nothing at all; default: one line; -v: that line and the steps before it."""
    for run, (name, level) in enumerate(_LEVEL_RUNS):
        argv = {
            "demo": ["demo", "--out", str(tmp_path / f"demo-{run}"), "--jobs", "30"],
            "export": ["export", "--all", "--out", str(tmp_path / f"x-{run}")],
            "check": ["check", str(lake)],
            "report": ["report", str(lake), "--out", str(tmp_path / f"report-{run}")],
        }[name]
        assert main([*argv, *([level] if level else [])]) == 0, (name, level)
        captured = capsys.readouterr()
        assert captured.out == "", (name, level)
        lines = _lines(captured.err)
        expected = {"-q": 0, "": 1}.get(level)
        if expected is not None:
            assert len(lines) == expected, (name, level, lines)
        elif name == "export":  # check has no steps: the lake is read and judged
            assert len(lines) > 1 and "ittybit_frames.cli: " in lines[0], lines


def test_verbose_shows_steps_and_retries_in_our_words(
    tmp_path: Path, served: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    served.inject("503", "503")
    assert main(["sync", str(tmp_path / "lake"), "-v"]) == 0
    err = capsys.readouterr().err
    assert "syncing" in err
    retries = [line for line in _lines(err) if " retry " in line]
    assert len(retries) == 2, err
    assert all("ittybit_frames.client: retry" in line for line in retries)
    assert "stamina.retry_scheduled" not in err and "WARNING" not in err
    assert "(2 retries)" in err


def test_retries_are_not_shown_by_default(
    tmp_path: Path, served: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    served.inject("503", "503")
    assert main(["sync", str(tmp_path / "lake")]) == 0
    (line,) = _lines(capsys.readouterr().err)
    assert "(2 retries)" in line


def test_very_verbose_is_debug(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-vv", "schema"]) == 0
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    assert main(["schema", "-v"]) == 0
    assert logging.getLogger().getEffectiveLevel() == logging.INFO


def test_messages_count_in_words(
    tmp_path: Path, served: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    job = served.jobs[0]["id"]
    assert main(["export", "--ids", job, "--out", str(tmp_path / "one")]) == 0
    (line,) = _lines(capsys.readouterr().err)
    assert line.startswith("Exported 1 job (") and "(1 request, 0 retries)" in line
    assert ".." not in line and "1 jobs" not in line


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_json_on_every_subcommand(
    tmp_path: Path, served: SimulatorAPI, lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each subcommand's --json output parses; simulate is checked in its own process."""
    job = itf.read_parquet(lake).jobs["job_id"].iloc[0]
    runs: dict[str, list[str]] = {
        "demo": ["demo", "--out", str(tmp_path / "demo"), "--jobs", "50", "-q"],
        "sync": ["sync", str(tmp_path / "synced")],
        "export": ["export", "--all", "--out", str(tmp_path / "x")],
        "check": ["check", str(lake)],
        "report": ["report", str(lake), "--out", str(tmp_path / "report")],
        "schema": ["schema"],
        "info": ["info", str(lake)],
        "show": ["show", job, "--lake", str(lake)],
    }
    assert set(runs) | {"simulate"} == set(_subcommands())
    seen = {}
    for name, argv in runs.items():
        assert main([*argv, "--json"]) == 0, name
        seen[name] = _json(capsys)
    assert seen["demo"]["jobs"] == 50 and seen["sync"]["new_jobs"] == 60
    assert seen["export"]["jobs"] == 60 and seen["check"]["healthy"] is True
    assert seen["report"]["jobs"] == 40 and "jobs" in seen["schema"]["tables"]
    assert seen["info"]["jobs"] == 40 and seen["show"]["job"]["job_id"] == job
    assert main(["schema", "--format", "json"]) == 0
    assert _json(capsys)["tables"]["tasks"]


def test_simulate_prints_its_address_as_json() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ittybit_frames.cli", "simulate", "--jobs", "5", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("http://127.0.0.1:") and info["api_key"]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _subcommands() -> dict[str, Any]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    choices: dict[str, Any] = action.choices  # type: ignore[assignment]
    return choices


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_shows_defaults_and_an_example(name: str) -> None:
    parser = _subcommands()[name]
    text = parser.format_help()
    assert all(action.help for action in parser._actions), "an option without a description"
    assert f"examples:\n  ittybit-frames {name}" in text
    if name in ("sync", "export", "demo", "simulate"):
        assert "(default: " in text
    assert "(default: None)" not in text and "(default: False)" not in text


def _readme_cli_section() -> str:
    text = README.read_text()
    start = text.index("## Command line")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_command_line_section_matches_the_help() -> None:
    """Every subcommand is in the README's table, and every option the README shows for
    one exists in its --help."""
    section = _readme_cli_section()
    documented = dict(re.findall(r"^\| `ittybit-frames (\w+)([^`]*)`", section, re.M))
    commands = _subcommands()
    assert set(documented) == set(commands)
    for name, usage in documented.items():
        shown = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", usage))
        help_text = commands[name].format_help()
        missing = {opt for opt in shown if not re.search(rf"(?<![\w-]){opt}\b", help_text)}
        assert not missing, (name, missing)
