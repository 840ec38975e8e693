"""Adversarial checks of the NDJSON fast path's key cut (session 19,
:mod:`ittybit_frames.frames._ndjson_keys`): ``json_transform`` is given only the key
paths the accepted structures of a block hold, and the rows are cast back to the whole
structure's type. A field that one line alone holds must still be read, whichever way
that line was accepted: in a group, alone after its group failed, alone in a block too
small to group, as an envelope among job lines (or a job line among envelopes), in a
block checked again line by line after a line taken with its group was no JSON alone,
and from parsed records (whole or in parts). Each case must give the careful path's
frames, and the rare value must come out in its column (so that a cut that drops the
field on both routes, or sends the line the careful way, is also seen).

Found nothing wrong on 79abba0/0a6faf7: ~1,000 random histories (current, older, mix;
rare file fields, older names, stamps as ms/s/ISO/text digits/null, errors, nulls, ``{}``,
empty and null task lists, shuffled key order, spacing, envelopes, lines no JSON alone,
small blocks, 64-bit offsets, dicts and parts) and ~2,000 targeted cases agreed with the
careful path. These tests are the strongest of those attacks: each fails if the key
paths of one of those routes are left out of the cut (tried by hand on mutants)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson, _ndjson_groups, to_frames_in_parts
from ittybit_frames.frames._ndjson_groups import GROUP_LINES
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql
from tests.test_s19_keys import shapes  # noqa: F401  (a fixture)

CLEAN = generate_history(200, seed=1919)
OLDER = generate_history(200, seed=1919, generation="older")

#: A rare value per file field (none of them written by the simulator on inputs, and
#: framerate/codec not on outputs of the current shape), and the column it lands in.
RARE: dict[str, tuple[Any, str, Any]] = {
    "framerate": (23.5, "fps", 23.5),
    "codec": ("rare_codec", "codec_", "rare_codec"),  # _video or _audio, by the file's kind
    "width": (1234, "width", 1234),
    "bitrate": (4321, "bitrate", 4321),
    "codecs": ({"audio": "rare_audio"}, "codec_audio", "rare_audio"),
}


def _careful(data: Any) -> itf.JobFrames:
    return itf.to_frames(data, _reader=_ndjson.NdjsonReader(use_sql=False))


def _ndjson_of(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _with_rare(job: dict[str, Any], where: str, key: str) -> dict[str, Any]:
    """The job with the rare ``key`` on the ``where`` file of its last task only."""
    job = copy.deepcopy(job)
    task = job["tasks"][-1]
    file = dict(task.get(where) or {})
    file.pop({"framerate": "fps", "codec": "codecs"}.get(key, ""), None)
    file[key] = copy.deepcopy(RARE[key][0])
    task[where] = file
    return job


def _at(jobs: list[dict[str, Any]], start: int) -> int:
    """The first job from ``start`` with at least two tasks (so that the rare field is
    on a task after the first)."""
    return next(i for i in range(start, len(jobs)) if len(jobs[i]["tasks"]) >= 2)


def _rare_read(frames: itf.JobFrames, job: dict[str, Any], where: str, key: str) -> None:
    _, column, expected = RARE[key]
    tasks = frames.tasks[frames.tasks["job_id"] == job["id"]]
    assert len(tasks) == len(job["tasks"])
    row = tasks.iloc[-1]
    values = [row[name] for name in row.index if name.startswith(f"{where}_{column}")]
    assert any(not pd.isna(value) and value == expected for value in values)


@pytest.fixture
def cuts(shapes: list[dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: F811
    """The structures given to json_transform (so a test sees the cut happen)."""
    return shapes


def _cut_held(cuts: list[dict[str, Any]], where: str, key: str) -> bool:
    return any(key in shape["tasks"][0].get(where, {}) for shape in cuts)


@pytest.mark.parametrize(("where", "key"), [("input", "codecs"), ("output", "framerate")])
def test_a_field_only_a_line_checked_alone_after_its_group_failed_holds(
    cuts: list[dict[str, Any]], where: str, key: str
) -> None:
    """The rare field is on a line of a group that fails (another line of it has an
    unknown key); every other group is taken whole, without the field. The line is
    then checked alone: its keys must join the cut."""
    at = _at(CLEAN, 70)
    jobs = copy.deepcopy(CLEAN)
    jobs[at] = _with_rare(jobs[at], where, key)
    lines = [json.dumps(job) for job in jobs]
    other = at + 1 if (at + 1) // GROUP_LINES == at // GROUP_LINES else at - 1
    lines[other] = json.dumps({**jobs[other], "surprise": 1})
    data = _ndjson_of(lines)
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    _rare_read(fast, jobs[at], where, key)
    assert _cut_held(cuts, where, key)
    assert any(not _cut_held([shape], where, key) for shape in cuts) or len(cuts) == 1


@pytest.mark.parametrize("key", ["codec", "width"])
def test_a_field_only_an_envelope_line_among_job_lines_holds(
    cuts: list[dict[str, Any]], key: str
) -> None:
    """One single-object envelope line among job lines (read by the mixed query) holds
    the field; its job's keys must join those of the groups of job lines."""
    at = _at(CLEAN, 100)
    jobs = copy.deepcopy(CLEAN)
    jobs[at] = _with_rare(jobs[at], "input", key)
    lines = [json.dumps(job) for job in jobs]
    lines[at] = json.dumps({"meta": {"page": 3}, "data": jobs[at]})
    data = _ndjson_of(lines)
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    _rare_read(fast, jobs[at], "input", key)
    assert _cut_held(cuts, "input", key)


@pytest.mark.parametrize("rare_on", ["job line", "envelope line"])
def test_a_field_among_envelope_lines_taken_by_groups(
    cuts: list[dict[str, Any]], rare_on: str
) -> None:
    """Envelope lines, taken by groups of their own, and one job line: the field on the
    job line (checked alone), or on one envelope line (its group's merge holds it)."""
    at = _at(CLEAN, 130)
    jobs = copy.deepcopy(CLEAN)
    jobs[at] = _with_rare(jobs[at], "input", "bitrate")
    lines = [json.dumps({"meta": {"i": i}, "data": job}) for i, job in enumerate(jobs)]
    plain = at if rare_on == "job line" else _at(CLEAN, 20)
    lines[plain] = json.dumps(jobs[plain])
    data = _ndjson_of(lines)
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    _rare_read(fast, jobs[at], "input", "bitrate")
    assert _cut_held(cuts, "input", "bitrate")


@pytest.mark.parametrize("block_bytes", [40_000, 150_000])
def test_a_field_in_a_block_too_small_to_group(
    monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    """Blocks of fewer than 2 * GROUP_LINES lines skip the group check: every line's
    structure is its own."""
    grouped = _ndjson_groups.grouped
    sizes: list[int] = []

    def spy(con: Any, lines: Any) -> Any:
        sizes.append(len(lines))
        return grouped(con, lines)

    monkeypatch.setattr(_ndjson, "_grouped", spy)
    at = _at(CLEAN, 90)
    jobs = copy.deepcopy(CLEAN)
    jobs[at] = _with_rare(jobs[at], "input", "codecs")
    data = _ndjson_of([json.dumps(job) for job in jobs])
    fast = through_sql(data, block_bytes=block_bytes)
    assert_same(fast, _careful(data))
    _rare_read(fast, jobs[at], "input", "codecs")
    assert len(sizes) > 1 and max(sizes) < 2 * GROUP_LINES


def test_a_field_in_a_block_checked_again_line_by_line(cuts: list[dict[str, Any]]) -> None:
    """A group is taken whose array hides two lines that are no JSON alone (an open
    ``metadata`` array and the ``]}`` that closes it): DuckDB refuses the block's read,
    and the block is checked again without groups. The rare field, on a clean line of
    another group, must be in that second cut too."""
    at = _at(CLEAN, 10)
    jobs = copy.deepcopy(CLEAN)
    jobs[at] = _with_rare(jobs[at], "output", "framerate")
    # The last group (lines sorted by how they begin: ``]}`` last) holds the opener,
    # the line it swallows and the closer.
    lines = [json.dumps(job) for job in jobs[:198]]
    opener = {k: v for k, v in jobs[198].items() if k != "metadata"}
    lines.append(json.dumps(opener)[:-1] + ', "metadata": [1')
    lines.append(json.dumps(jobs[199]))
    lines.append("]}")
    data = _ndjson_of(lines)
    careful = _careful(data)
    assert careful.problems["problem"].str.contains("not valid JSON").sum() >= 2
    fast = through_sql(data)
    assert_same(fast, careful)
    _rare_read(fast, jobs[at], "output", "framerate")
    # The second reading (line by line) made a cut of its own that holds the field.
    assert len(cuts) >= 2 and _cut_held(cuts[-1:], "output", "framerate")


def test_older_names_on_one_task_after_the_first_in_a_current_history() -> None:
    """``created``/``updated`` on one task after the first of one line, ``codec`` and
    ``framerate`` on its output: every other line writes the current names only."""
    at = _at(CLEAN, 64)
    jobs = copy.deepcopy(CLEAN)
    task = jobs[at]["tasks"][-1]
    task["created"] = task.pop("created_at")
    task["updated"] = task.pop("updated_at")
    output = {k: v for k, v in (task.get("output") or {}).items() if k not in ("codecs", "fps")}
    task["output"] = {**output, "codec": "h263", "framerate": 12.0}
    data = _ndjson_of([json.dumps(job) for job in jobs])
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    row = fast.tasks[fast.tasks["job_id"] == jobs[at]["id"]].iloc[-1]
    assert row["output_codec_video"] == "h263" and row["output_fps"] == 12.0
    assert row["created_at"] is not None and row["updated_at"] is not None


def test_current_names_on_one_line_of_an_older_history() -> None:
    """The other way round: an older history (ISO text stamps, older names) with one
    line of the current API (integer stamps, ``codecs``)."""
    at = _at(OLDER, 120)
    jobs = copy.deepcopy(OLDER)
    jobs[at] = copy.deepcopy(CLEAN[_at(CLEAN, 120)])
    jobs[at] = _with_rare(jobs[at], "input", "codecs")
    data = _ndjson_of([json.dumps(job) for job in jobs])
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    _rare_read(fast, jobs[at], "input", "codecs")


def test_a_field_one_parsed_record_holds_whole_and_in_parts() -> None:
    """Parsed records (written to NDJSON for DuckDB), whole and in parts: the rare
    fields of one record must be read."""
    at = _at(CLEAN, 150)
    jobs = copy.deepcopy(CLEAN)
    jobs[at] = _with_rare(_with_rare(jobs[at], "input", "width"), "output", "codec")
    careful = _careful(jobs)
    reader = _ndjson.NdjsonReader(min_records=0, min_lines=0)
    whole = itf.to_frames(jobs, _reader=reader)
    assert_same(whole, careful)
    _rare_read(whole, jobs[at], "input", "width")
    parts = [jobs[i : i + 70] for i in range(0, len(jobs), 70)]
    in_parts = to_frames_in_parts(parts, piece_bytes=40_000, _reader=reader)
    assert_same(in_parts, careful)
    _rare_read(in_parts, jobs[at], "output", "codec")
