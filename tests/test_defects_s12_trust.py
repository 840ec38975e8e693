"""Session 12's trust defects (noticed by session 11, each reproduced here first).

1. ``read_parquet(since="7d", until="30d")`` (and ``read_jobs``) only warned that the
   window was empty, where ``JobFrames.subset`` and the CLI refuse it ("swap them").
2. ``export --format CSV`` (capitals) was refused by argparse's ``choices``.
3. A hand-edited manifest whose ``sync`` entries are not objects (``sync.padded_ids``
   a list, ``sync.frontiers`` a text, ``sync`` itself a list) gave a traceback on the next
   sync instead of one line naming the key.
4. A folder inside an old writer's lake (``jobs/`` with its day partitions, no manifest)
   was accepted for a report, CSV files or a new lake; only the lake's own folder was
   refused.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import MANIFEST
from tests.test_defects_s11_cli import api, env, one_line

__all__ = ["api", "env"]  # the simulator and its environment, as session 11's CLI tests


@pytest.fixture
def lake(env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "lake"
    assert main(["sync", str(root)]) == 0
    capsys.readouterr()
    return root


# 1. ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("since", "until"), [("7d", "30d"), ("2026-11-20", "2026-11-20")])
def test_read_parquet_refuses_a_window_that_ends_before_it_starts(
    lake: Path, since: str, until: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no EmptyWindowWarning instead
        with pytest.raises(itf.ConfigurationError, match="swap them") as raised:
            itf.read_parquet(lake, since=since, until=until)
    message = str(raised.value)
    assert "\n" not in message
    assert f"since {since!r}" in message and f"until {until!r}" in message, message


def test_read_jobs_refuses_a_swapped_window_before_any_request(env: Any) -> None:
    before = len(env.requests)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(itf.ConfigurationError, match="swap them"):
            itf.read_jobs(
                api_key=env.api_key, base_url=env.url, since="7d", until="30d", progress=False
            )
        with pytest.raises(itf.ConfigurationError, match="swap them"):
            itf.read_jobs(
                ["job_x"],
                api_key=env.api_key,
                base_url=env.url,
                since="7d",
                until="30d",
                progress=False,
            )
    assert len(env.requests) == before


def test_a_window_in_order_still_reads(lake: Path) -> None:
    whole = itf.read_parquet(lake)
    part = itf.read_parquet(lake, since="2026-11-01", until="2026-12-01")
    assert 0 < len(part) <= len(whole)


# 2. ----------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["CSV", "Csv", " csv"])
def test_export_takes_the_format_in_any_case(
    env: Any, tmp_path: Path, word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "csv"
    assert main(["export", "--all", "--format", word, "--out", str(out)]) == 0
    assert (out / "jobs.csv").is_file() and (out / "tasks.csv").is_file()


def test_an_unknown_format_still_names_the_choices(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--all", "--format", "xlsx", "--out", str(tmp_path / "x")]) == 2
    err = one_line(capsys.readouterr().err)
    assert "parquet" in err and "csv" in err and "ndjson" in err, err
    assert not (tmp_path / "x").exists()


# 3. ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("padded_ids", ["job_a"]),
        ("padded_ids", {"job_a": 5}),
        ("frontiers", "today"),
        ("walks", [1, 2]),
        ("frontiers", {"*": "yesterday"}),
        (None, ["not", "an", "object"]),
    ],
)
def test_a_hand_edited_sync_entry_is_named_in_one_line(
    lake: Path, key: str | None, value: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((lake / MANIFEST).read_text())
    if key is None:
        manifest["sync"] = value
    else:
        manifest["sync"][key] = value
    (lake / MANIFEST).write_text(json.dumps(manifest))
    before = (lake / MANIFEST).read_bytes()
    code = main(["sync", str(lake)])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert ("sync." + key if key else "sync") in line, line
    assert MANIFEST in line, line
    assert (lake / MANIFEST).read_bytes() == before  # left as found


# 4. ----------------------------------------------------------------------------------
def _old_writers_lake(lake: Path) -> Path:
    """The lake as a writer from before the manifest left it: no manifest."""
    (lake / MANIFEST).unlink()
    return lake


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "{lake}", "--out", "{lake}/report"],
        ["export", "--all", "--format", "csv", "--out", "{lake}/csv"],
        ["export", "--all", "--out", "{lake}/more"],
    ],
)
def test_a_folder_inside_an_old_writers_lake_is_refused(
    lake: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _old_writers_lake(lake)
    before = sorted(p.relative_to(lake) for p in lake.rglob("*"))
    code = main([a.format(lake=lake) for a in argv])
    line = one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "inside the Parquet lake" in line, line
    assert sorted(p.relative_to(lake) for p in lake.rglob("*")) == before


def test_a_folder_beside_a_folder_named_jobs_is_not_a_lake(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parent that merely holds a ``jobs`` folder (say, a project's) is no lake."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "notes.txt").write_text("not parquet")
    out = tmp_path / "csv"
    assert main(["export", "--all", "--format", "csv", "--out", str(out)]) == 0
    assert (out / "jobs.csv").is_file()


def test_check_and_info_name_a_hand_edited_sync_entry_in_one_line(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((lake / MANIFEST).read_text())
    manifest["sync"]["frontiers"] = "today"
    (lake / MANIFEST).write_text(json.dumps(manifest))
    report = itf.check_lake(lake)
    assert not report.healthy
    assert any("sync.frontiers" in p and "\n" not in p for p in report.problems), report
    assert main(["info", str(lake)]) == 2
    assert "sync.frontiers" in one_line(capsys.readouterr().err)


# 5. ----------------------------------------------------------------------------------
# Found by trying the CLI in session 12: ``report LAKE --kind probe`` said "did you mean
# --since?" (difflib matched the dashes); ``show LAKE JOB_ID`` said only "unrecognized
# arguments: JOB_ID" (it had taken the lake for the job's ID).
def _usage_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    return one_line(capsys.readouterr().err)


def test_an_unknown_option_far_from_every_option_suggests_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_line(["report", str(tmp_path), "--out", "r", "--kind", "probe"], capsys)
    assert "unrecognized arguments: --kind probe" in line, line
    assert "did you mean" not in line, line


@pytest.mark.parametrize(
    ("typo", "meant"), [("--sinse", "--since"), ("--lake-timeout", "--lock-timeout")]
)
def test_a_typo_of_an_option_still_suggests_it(
    tmp_path: Path, typo: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_line(["sync", str(tmp_path), typo, "7"], capsys)
    assert f"did you mean {meant}?" in line, line


def test_a_second_positional_names_what_the_command_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_line(["show", str(tmp_path), "job_1"], capsys)
    assert "unrecognized arguments: job_1" in line, line
    assert "JOB_ID" in line and "--lake" in line, line
