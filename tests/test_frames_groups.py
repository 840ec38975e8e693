"""The NDJSON fast path checks the structure of lines in groups (their JSON joined into
one array, whose structure DuckDB merges). A merged structure can be wider than a
line's own (``{}`` merges into any object, a missing key into a present one, two
integer types into HUGEINT, a text and a number into JSON): each test here puts one
line that a merge could hide among lines of the documented shape, and checks that the
result is the careful path's, with the group check in play."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson, _ndjson_groups
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, ndjson_lines, through_sql

CLEAN = generate_history(200, seed=11)


def _set(path: str, value: Any) -> Any:
    """A change to a job: ``path`` as ``key`` or ``tasks.N.key[.key]``."""

    def change(job: dict[str, Any]) -> None:
        keys = path.split(".")
        target: Any = job
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
        target[keys[-1]] = value

    return change


def _drop(key: str) -> Any:
    return lambda job: job.pop(key)


#: (name, line text or a change to a job): each the kind of line a merged structure
#: could let through where the line's own structure would not.
HOSTILE: list[tuple[str, Any]] = [
    ("null line", "null"),
    ("empty object line", "{}"),
    ("no task list", _drop("tasks")),
    ("null task list", _set("tasks", None)),
    ("empty job error object", _set("error", {})),
    ("empty task error object", _set("tasks.1.error", {})),
    ("empty task input object", _set("tasks.1.input", {})),
    ("empty codecs object", _set("tasks.0.output.codecs", {})),
    ("empty task object", lambda job: job["tasks"].append({})),
    ("error as a number", _set("error", 5)),
    ("error as a list", _set("error", ["x"])),
    ("error with an odd key", _set("error", {"kind": "x", "code": 3})),
    ("error message a number", _set("tasks.1.error", {"message": 5})),
    ("timestamp as an object", _set("created_at", {"ms": 1})),
    ("timestamp as a boolean", _set("tasks.0.finished_at", True)),
    ("timestamp as ISO text", _set("created_at", "2026-11-30T10:00:00Z")),
    ("timestamp as digits text", _set("updated_at", "1793657325779")),
    ("timestamp negative", _set("started_at", -5)),
    ("timestamp fractional", _set("tasks.2.started_at", 1793657325779.5)),
    ("timestamp a list", _set("finished_at", [1])),
    ("progress negative", _set("tasks.0.progress", -1)),
    ("progress fractional", _set("tasks.0.progress", 1.5)),
    ("progress as text", _set("tasks.0.progress", "100")),
    ("progress as hex text", _set("tasks.0.progress", "0x10")),
    ("progress as a word", _set("tasks.0.progress", "abc")),
    ("progress as a boolean", _set("tasks.0.progress", True)),
    ("progress as a list", _set("tasks.0.progress", [1])),
    ("width as a word", _set("tasks.0.output.width", "wide")),
    ("duration as a boolean", _set("tasks.0.output.duration", True)),
    ("codec as a number", _set("tasks.0.output.codecs.video", 264)),
    ("width as a float", _set("tasks.0.output.width", 1920.0)),
    ("width as text", _set("tasks.0.output.width", "1920")),
    ("width past 64 bits", _set("tasks.0.output.width", 2**70)),
    ("duration as text", _set("tasks.0.output.duration", "9.5")),
    ("kind as a number", _set("kind", 3)),
    ("status as an object", _set("status", {"x": 1})),
    ("id as a number", _set("id", 12)),
    ("task list as an object", _set("tasks", {"0": {}})),
    ("task as text", lambda job: job["tasks"].append("probe")),
    ("unknown job key", _set("surprise", 1)),
    ("unknown task key", _set("tasks.1.surprise", "x")),
    ("unknown codecs key", _set("tasks.0.output.codecs.subtitle", "srt")),
    ("input a number", _set("tasks.1.input", 7)),
    ("job input an object", _set("input", {"url": "x"})),
]


def _data(hostile: Any, at: int = 40) -> bytes:
    lines = [json.dumps(job) for job in CLEAN]
    if isinstance(hostile, str):
        lines[at] = hostile
    else:
        job = copy.deepcopy(CLEAN[at])
        hostile(job)
        lines[at] = json.dumps(job)
    return ("\n".join(lines) + "\n").encode()


def _count_taken(monkeypatch: pytest.MonkeyPatch, which: int) -> list[int]:
    """How many lines each group check took: for jobs (``which`` 0) or envelopes (1)."""
    taken: list[int] = []
    grouped = _ndjson_groups.grouped

    def counted(*args: Any) -> Any:
        result = grouped(*args)
        taken.append(int(result[which].sum()))
        return result

    monkeypatch.setattr(_ndjson, "_grouped", counted)
    return taken


@pytest.fixture
def group_taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines each group check took (so that a test sees it in play)."""
    return _count_taken(monkeypatch, 0)


def _careful(data: bytes) -> itf.JobFrames:
    return itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))


@pytest.mark.parametrize(("name", "hostile"), HOSTILE, ids=[name for name, _ in HOSTILE])
def test_a_line_a_merged_structure_could_hide_is_read_as_the_careful_path_reads_it(
    name: str, hostile: Any, group_taken: list[int]
) -> None:
    data = _data(hostile)
    assert_same(through_sql(data), _careful(data))
    # The group check was in play: it took the other groups' lines.
    assert sum(group_taken) >= len(CLEAN) - 2 * _ndjson_groups.GROUP_LINES


def test_two_objects_on_one_line_are_not_read_as_two_jobs(group_taken: list[int]) -> None:
    """Joined with the group's commas into its array, two objects on one line are two
    valid elements; on its own the line is no JSON, and the careful path says so."""
    line = json.dumps(CLEAN[3]) + ", " + json.dumps(CLEAN[4])
    data = _data(line, at=3)
    fast, careful = through_sql(data), _careful(data)
    assert_same(fast, careful)
    assert len(careful.problems) >= 1  # the line is reported, not read
    assert sum(group_taken) >= 1


def test_lines_that_fail_their_group_are_checked_one_by_one(group_taken: list[int]) -> None:
    """A group with one odd line fails whole; its other lines still go the fast way."""
    data = _data(_set("surprise", 1), at=5)
    passes: list[int] = []
    structures = _ndjson._structures

    def counted(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        passes.append(len(lines))
        return structures(con, queries, lines, rows)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_ndjson, "_structures", counted)
        fast = through_sql(data)
    assert_same(fast, _careful(data))
    # Only the failed group's lines were checked one by one.
    assert passes == [_ndjson_groups.GROUP_LINES]
    assert sum(group_taken) == len(CLEAN) - _ndjson_groups.GROUP_LINES


def test_lines_of_every_documented_shape_pass_in_groups(group_taken: list[int]) -> None:
    """Integer and ISO timestamps, string and object errors side by side: the group
    check takes them (the transform then reads timestamps as text)."""
    jobs = copy.deepcopy(CLEAN)
    for i, job in enumerate(jobs):
        if i % 2:
            job["created_at"] = "2026-11-30T10:00:00.250Z"
            job["error"] = "plain text"
    data = ("\n".join(json.dumps(job) for job in jobs) + "\n").encode()
    assert_same(through_sql(data), _careful(data))
    assert sum(group_taken) == len(jobs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ndjson_lines())
def test_ndjson_in_small_groups_equals_careful_path(lines: list[str]) -> None:
    """The property test of the fast path, with groups of two lines: every merge of a
    changed line with a clean one is tried."""
    data = ("\n".join(lines) + "\n").encode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_ndjson_groups, "GROUP_LINES", 2)
        fast = through_sql(data)
    assert_same(fast, _careful(data))


def test_a_block_of_64_bit_offsets_is_grouped_too(group_taken: list[int]) -> None:
    """Lines in a LargeStringArray (a block of 2 GiB or more; here a knob) are joined
    into groups as well (pyarrow has no binary_join of large strings with a plain
    separator: the group check failed with ArrowNotImplementedError)."""
    data = _data(_set("surprise", 1))
    assert_same(through_sql(data, large_block=100), _careful(data))
    assert sum(group_taken) == len(CLEAN) - _ndjson_groups.GROUP_LINES


# Single-object envelopes (``{"meta", "data": job, "links"}``) in groups of their own:
# the merge of their structures is checked as a job line's, inside ``data``.


def _enveloped(job: Any, i: int) -> dict[str, Any]:
    return {"meta": {"request_id": f"req_{i}"}, "data": job, "links": {"self": f"/jobs/{i}"}}


def _envelope_data(hostile: Any = None, at: int = 40, *, of_envelope: bool = False) -> bytes:
    """CLEAN's jobs each in an envelope; the one ``at`` made hostile: a line text, a
    change to its job, or (``of_envelope``) a change to the envelope itself."""
    envelopes = [_enveloped(copy.deepcopy(job), i) for i, job in enumerate(CLEAN)]
    lines = [json.dumps(e) for e in envelopes]
    if isinstance(hostile, str):
        lines[at] = hostile
    elif hostile is not None:
        hostile(envelopes[at] if of_envelope else envelopes[at]["data"])
        lines[at] = json.dumps(envelopes[at])
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def envelopes_taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines each group check took for envelopes."""
    return _count_taken(monkeypatch, 1)


def test_envelopes_pass_in_groups(envelopes_taken: list[int]) -> None:
    """Every line an envelope around a clean job: the group check takes them all, and
    the rows (with each envelope's other fields in ``extra``) are the careful path's."""
    data = _envelope_data()
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    assert sum(envelopes_taken) == len(CLEAN)
    assert len(fast.jobs) == len(CLEAN)
    assert fast.jobs["extra"].notna().all()


#: Changes to an envelope (not its job) that a merged structure could hide.
ENVELOPE_HOSTILE: list[tuple[str, Any]] = [
    ("data null", _set("data", None)),
    ("no data", _drop("data")),
    ("data an empty object", _set("data", {})),
    ("data a page", lambda e: e.update(data=[e["data"]])),
    ("data a string", _set("data", "job_1")),
    ("a task list beside data", lambda e: e.update(tasks=e["data"]["tasks"])),
    ("steps beside data", _set("steps", [])),
    ("meta a number", _set("meta", 5)),
    ("meta holding a list", _set("meta", {"x": [1, {"y": None}]})),
    ("an envelope in data", lambda e: e.update(data=_enveloped(e["data"], 0))),
]


@pytest.mark.parametrize(
    ("name", "hostile"), ENVELOPE_HOSTILE, ids=[name for name, _ in ENVELOPE_HOSTILE]
)
def test_an_odd_envelope_among_envelopes_is_read_as_the_careful_path_reads_it(
    name: str, hostile: Any, envelopes_taken: list[int]
) -> None:
    data = _envelope_data(hostile, of_envelope=True)
    assert_same(through_sql(data), _careful(data))
    assert sum(envelopes_taken) >= len(CLEAN) - 2 * _ndjson_groups.GROUP_LINES


@pytest.mark.parametrize(("name", "hostile"), HOSTILE, ids=[name for name, _ in HOSTILE])
def test_an_odd_job_in_an_envelope_among_envelopes_is_read_as_the_careful_path_reads_it(
    name: str, hostile: Any, envelopes_taken: list[int]
) -> None:
    """Each line a merge could hide, as the job of one envelope among envelopes (or, for
    a line text, the whole line)."""
    data = _envelope_data(hostile)
    assert_same(through_sql(data), _careful(data))
    assert sum(envelopes_taken) >= len(CLEAN) - 2 * _ndjson_groups.GROUP_LINES


@pytest.mark.parametrize(
    "line",
    [
        # An array left open takes the next line into it; ``]}`` further down closes it.
        '{"meta": {"x": [1',
        '{"meta": {}, "data": {"id": "job_x", "tasks": []}, "links": [',
        # Two envelopes on one line: two elements of the group's array.
        json.dumps(_enveloped(CLEAN[3], 3)) + ", " + json.dumps(_enveloped(CLEAN[4], 4)),
    ],
    ids=["open array", "open array after data", "two envelopes on a line"],
)
def test_an_envelope_line_that_is_no_json_alone_is_not_read_with_its_group(line: str) -> None:
    lines = _envelope_data().decode().splitlines()
    lines[10] = line
    lines[12] = lines[12][:-1] + ', "z": 1]}'  # closes what line 10 left open, if it did
    data = ("\n".join(lines) + "\n").encode()
    assert_same(through_sql(data), _careful(data))


def test_envelopes_and_job_lines_side_by_side(group_taken: list[int]) -> None:
    """Every other line an envelope, with ISO timestamps in some: lines that begin alike
    are grouped together, and both kinds are read as the careful path reads them."""
    lines = []
    for i, job in enumerate(copy.deepcopy(CLEAN)):
        if i % 3 == 0:
            job["created_at"] = "2026-11-30T10:00:00.250Z"
        lines.append(json.dumps(_enveloped(job, i) if i % 2 else job))
    data = ("\n".join(lines) + "\n").encode()
    assert_same(through_sql(data), _careful(data))
    assert sum(group_taken) >= 1


def test_checked_line_by_line_job_lines_and_envelopes_stay_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the group check, each line is read once, as what it is: the job lines as
    jobs, the envelope lines as envelopes (the two masks were once one array, so each
    query read both kinds and its filter dropped the others: same rows, twice the
    work). One pass reads both, and its rows come in line order."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    from ittybit_frames.frames._ndjson_shape import query

    texts = [json.dumps(_enveloped(job, i) if i % 10 == 0 else job) for i, job in enumerate(CLEAN)]
    lines = pa.array([t + "\n" for t in texts])
    rows = np.arange(1, len(texts) + 1)
    picks: list[list[int]] = []
    refusable = _ndjson._refusable

    def count_picks(con: Any, name: str, table: Any, sql: str) -> Any:
        picks.append(table["pick"].to_pylist())
        return refusable(con, name, table, sql)

    monkeypatch.setattr(_ndjson, "_refusable", count_picks)
    con = duckdb.connect()
    queries = (query(check_valid=False), query(check_valid=True))
    table = _ndjson._read_lines(con, queries, lines, rows, groups=False)
    assert len(picks) == 1
    assert picks[0] == [2 if i % 10 == 0 else 1 for i in range(len(CLEAN))]
    assert table["r"].to_pylist() == rows.tolist()
    extras = table["extra"].to_pylist()
    assert [e is not None for e in extras] == [i % 10 == 0 for i in range(len(CLEAN))]
    assert len(table) == len(CLEAN)
