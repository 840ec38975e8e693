"""Adversarial checks of the NDJSON group structure check (groups of lines joined into
one JSON array): the fast path must give the careful path's frames.

The failing case: a group's array is parsed as one text, so a line that is no JSON on
its own can leave a container open and take the next lines into it. A job line whose
``metadata`` (or ``options``, ``error``: values the group check skips) is left as an open
array swallows the next line, and a line ``]}`` closes it (DuckDB allows the trailing
comma the join leaves). The group's structure is then the documented one, the opener
and the closer fail the transform alone and go the careful way, but the swallowed line
between them, valid JSON of its own shape, was never checked: it is read fast with
its unknown keys dropped and its values coerced."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson, _ndjson_groups
from ittybit_frames.simulator import generate_history
from tests.test_frames_groups import _count_taken
from tests.test_frames_properties import assert_same, through_sql

CLEAN = generate_history(90, seed=11)


@pytest.fixture(autouse=True)
def _groups_of_32(monkeypatch: pytest.MonkeyPatch) -> None:
    """These attacks are laid out for groups of 32 lines (the size until session 19): 90
    lines or fewer, hostile lines at group edges. With groups of 64, a block of fewer than
    128 lines is not grouped, and they would no longer reach the group check (a test
    that sets its own size still does)."""
    monkeypatch.setattr(_ndjson_groups, "GROUP_LINES", 32)


def _careful(data: Any) -> itf.JobFrames:
    return itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))


def _changed(job: dict[str, Any], change: Any) -> str:
    job = copy.deepcopy(job)
    change(job)
    return json.dumps(job)


def _lines_data(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------------------------------
# Discrepancy: a valid line swallowed by an open array on the line before it.
# ------------------------------------------------------------------------------------

SWALLOWED = {
    "unknown key": lambda job: job.__setitem__("surprise", 1),
    "id a number": lambda job: job.__setitem__("id", 12),
    "NaN under an unknown key": lambda job: job.__setitem__("nan_probe", "@NAN@"),
    "ISO stamp text in a numeric block": lambda job: job.__setitem__(
        "created_at", "2026-11-30T10:00:00Z"
    ),
}


def _sandwich(swallowed: str, key: str) -> bytes:
    """67 clean job lines, then a job line whose ``key`` is an open array, the
    swallowed line, and a line ``]}`` closing the array and the job (all 70 lines begin
    alike but the last, so the three fall in the third group in this order)."""
    lines = [json.dumps(job) for job in CLEAN[:67]]
    opener = copy.deepcopy(CLEAN[67])
    opener.pop(key, None)
    lines.append(json.dumps(opener)[:-1] + f', "{key}": [1')
    lines.append(swallowed)
    lines.append("]}")
    return _lines_data(lines)


@pytest.mark.parametrize("key", ["metadata", "options", "error"])
@pytest.mark.parametrize("case", list(SWALLOWED))
def test_a_line_swallowed_by_an_open_array_is_read_as_the_careful_path_reads_it(
    case: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    swallowed = _changed(CLEAN[68], SWALLOWED[case]).replace('"@NAN@"', "NaN")
    data = _sandwich(swallowed, key)
    careful = _careful(data)
    # Both invalid lines are reported by the careful path...
    assert careful.problems["problem"].str.contains("not valid JSON").sum() >= 2
    # ...and the line between them must be read as it reads it, with the group check
    # in play (it takes the clean groups).
    taken = _count_taken(monkeypatch, 0)
    assert_same(through_sql(data), careful)
    assert sum(taken) >= 64


def test_the_swallowed_line_alone_is_read_as_the_careful_path_reads_it() -> None:
    """Control: without the open array around it, the same line is caught."""
    lines = [json.dumps(job) for job in CLEAN[:70]]
    lines[68] = _changed(CLEAN[68], SWALLOWED["unknown key"])
    data = _lines_data(lines)
    assert_same(through_sql(data), _careful(data))


# ------------------------------------------------------------------------------------
# Attacks that held on 549ce2e (each could fail if the group check or the checks by
# value behind it were wrong): hostile lines side by side in one group, so that their
# structures merge with each other, not only with clean ones.
# ------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Any:
    def change(job: dict[str, Any]) -> None:
        keys = path.split(".")
        target: Any = job
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
        target[keys[-1]] = value

    return change


#: Pairs of changes put on two lines of the same group (lines 40 and 41).
PAIRS: dict[str, tuple[Any, Any]] = {
    "stamp object beside stamp text": (
        _set("created_at", {"ms": 1}),
        _set("created_at", "2026-11-30T10:00:00Z"),
    ),
    "stamp empty object beside an integer": (_set("created_at", {}), _set("created_at", 5)),
    "stamp empty list beside text": (_set("updated_at", []), _set("updated_at", "17")),
    "stamp true beside text digits": (
        _set("created_at", True),
        _set("created_at", "1793657325779"),
    ),
    "stamp float beside text": (_set("created_at", 1793657325779.0), _set("created_at", "x")),
    "stamp past 64 bits beside text": (_set("created_at", 2**64 + 5), _set("created_at", "1")),
    "stamp 2**63+ beside negative (HUGEINT)": (
        _set("created_at", 2**63 + 5),
        _set("created_at", -1),
    ),
    "stamp NaN beside text": (
        _set("created_at", "@NAN@"),
        _set("created_at", "2026-11-30T10:00:00Z"),
    ),
    "progress -1 beside 2**64-1 (HUGEINT)": (
        _set("tasks.0.progress", -1),
        _set("tasks.0.progress", 2**64 - 1),
    ),
    "progress empty object beside a number": (
        _set("tasks.0.progress", {}),
        _set("tasks.0.progress", 5),
    ),
    "width negative beside 2**63+1": (
        _set("tasks.0.output.width", -3),
        _set("tasks.0.output.width", 2**63 + 1),
    ),
    "codecs empty list beside an object": (
        _set("tasks.0.output.codecs", []),
        _set("tasks.0.output.codecs", {"video": "h264"}),
    ),
    "input empty object beside null": (_set("tasks.0.input", {}), _set("tasks.0.input", None)),
    "error empty list beside a string": (_set("error", []), _set("error", "boom")),
    "error nested message beside a string": (
        _set("error", {"message": {"a": 1}}),
        _set("error", "x"),
    ),
    "tasks [null] beside tasks []": (_set("tasks", [None]), _set("tasks", [])),
    "tasks [null, {}] beside full tasks": (_set("tasks", [None, {}]), lambda job: None),
    "created alias beside created_at": (
        _set("created", 1793657325779),
        _set("created", "2026-11-30T10:00:00Z"),
    ),
    "created alias and created_at on one line": (_set("created", 1793657325779), lambda job: None),
    "framerate beside fps": (
        _set("tasks.0.output.framerate", 30),
        _set("tasks.0.output.fps", 25),
    ),
    "kind empty object beside null": (_set("kind", {}), _set("kind", None)),
    "id empty list beside an id": (_set("id", []), lambda job: None),
    "options NaN beside options": (_set("options", {"x": "@NAN@"}), _set("options", {"x": 1})),
}


def _pair_data(first: Any, second: Any, count: int = 90) -> bytes:
    jobs = copy.deepcopy(CLEAN[:count])
    first(jobs[40])
    second(jobs[41])
    text = [json.dumps(job).replace('"@NAN@"', "NaN") for job in jobs]
    return _lines_data(text)


@pytest.mark.parametrize("case", list(PAIRS))
def test_two_hostile_lines_in_one_group_are_read_as_the_careful_path_reads_them(case: str) -> None:
    data = _pair_data(*PAIRS[case])
    assert_same(through_sql(data), _careful(data))


@pytest.mark.parametrize("case", list(PAIRS))
def test_two_hostile_lines_in_groups_of_two(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ndjson_groups, "GROUP_LINES", 2)
    data = _pair_data(*PAIRS[case])
    assert_same(through_sql(data), _careful(data))


def _numeric_block_with(change: Any) -> bytes:
    """Clean jobs whose every timestamp is a positive integer (numeric transform), one
    line changed."""
    jobs = copy.deepcopy(CLEAN[:80])
    change(jobs[50])
    return _lines_data([json.dumps(job) for job in jobs])


@pytest.mark.parametrize(
    "change",
    [
        _set("created_at", "2026-11-30T10:00:00Z"),
        _set("created_at", "1793657325779"),
        _set("created_at", 1793657325),  # seconds
        _set("created_at", -5),
        _set("created_at", 1793657325779.5),
        _set("created_at", 2**64 - 1),
        _set("created_at", 2**64 + 1),
        _set("tasks.0.started_at", "2026-11-30T10:00:00.250+01:00"),
        _set("created", 1793657325779),
        _set("updated", "2026-11-30T10:00:00Z"),
    ],
    ids=[
        "iso",
        "digits-text",
        "seconds",
        "negative",
        "fraction",
        "u64-max",
        "past-u64",
        "task-iso",
        "alias-int",
        "alias-iso",
    ],
)
def test_one_odd_stamp_in_a_numeric_block(change: Any) -> None:
    data = _numeric_block_with(change)
    assert_same(through_sql(data), _careful(data))


#: Raw lines put among clean ones (text, not a job change).
RAW: dict[str, str] = {
    "blank line": "",
    "spaces only": "   ",
    "a lone CR": "\r",
    "a lone [": "[",
    "a lone ]": "]",
    "a lone ,": ",",
    "an object left open": json.dumps(CLEAN[2])[:-1],
    "a job and a comma": json.dumps(CLEAN[2]) + ",",
    "a job in an array": "[" + json.dumps(CLEAN[3]) + "]",
    "a job then ]": json.dumps(CLEAN[3]) + "]",
    "[ then a job": "[" + json.dumps(CLEAN[3]),
    "BOM before a job": "\ufeff" + json.dumps(CLEAN[1]),
    "NaN": "NaN",
    "a string": '"job"',
    "trailing comma in a job": json.dumps(CLEAN[5])[:-1] + ",}",
    "escaped key error": json.dumps(CLEAN[4]).replace('"error"', '"\\u0065rror"'),
    "escaped key status": json.dumps(CLEAN[4]).replace('"status"', '"st\\u0061tus"'),
    "envelope with a job-like head": '{"id": "x", "data": ' + json.dumps(CLEAN[6]) + "}",
    "envelope": '{"meta": {"page": 1}, "data": ' + json.dumps(CLEAN[6]) + "}",
    "page envelope": '{"data": [' + json.dumps(CLEAN[6]) + "]}",
    "deep metadata": json.dumps({k: v for k, v in CLEAN[7].items() if k != "metadata"})[:-1]
    + ', "metadata": '
    + "[" * 3000
    + "]" * 3000
    + "}",
    "metadata 1,000 deep": json.dumps({k: v for k, v in CLEAN[7].items() if k != "metadata"})[:-1]
    + ', "metadata": '
    + "[" * 1000
    + "]" * 1000
    + "}",
}


@pytest.mark.parametrize("name", list(RAW))
@pytest.mark.parametrize("lines", [63, 64, 65, 90])
def test_a_raw_line_among_clean_ones(name: str, lines: int) -> None:
    text = [json.dumps(job) for job in CLEAN[:lines]]
    text[min(40, lines - 2)] = RAW[name]
    data = _lines_data(text)
    assert_same(through_sql(data), _careful(data))


@pytest.mark.parametrize("name", list(RAW))
def test_raw_lines_with_crlf_ends_and_two_of_them_adjacent(name: str) -> None:
    text = [json.dumps(job) for job in CLEAN[:80]]
    text[30] = RAW[name]
    text[31] = RAW[name]
    data = "\r\n".join(text).encode() + b"\r\n"
    assert_same(through_sql(data), _careful(data))


@pytest.mark.parametrize("case", list(PAIRS))
def test_parsed_records_with_two_hostile_jobs(case: str) -> None:
    """Parsed dicts go through NDJSON too (written by orjson)."""
    jobs = copy.deepcopy(CLEAN)
    first, second = PAIRS[case]
    first(jobs[40])
    second(jobs[41])
    if "NaN" in case:
        pytest.skip("NaN is text in a dict")
    assert_same(through_sql(copy.deepcopy(jobs)), _careful(copy.deepcopy(jobs)))
