"""What to_frames is handed, read as it was handed: generators that hand the same
object again, 0-d arrays, JSON arrays with one bad element, listing pages holding
non-objects."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import ittybit_frames as itf
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history
from tests.frames_equal import assert_frame_equal

HISTORY = generate_history(6, seed=11)
CAREFUL = NdjsonReader(use_sql=False)
FAST = NdjsonReader(min_records=2)  # parsed records through DuckDB even when few


def _reused(history: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each job in one dict, the same object every time, changed between yields (as a
    reader filling one row buffer hands its rows)."""
    row: dict[str, Any] = {}
    for job in history:
        row.clear()
        row.update(copy.deepcopy(job))
        yield row


@pytest.mark.parametrize("reader", [CAREFUL, FAST], ids=["careful", "fast"])
def test_a_generator_handing_one_dict_again_gives_each_record_as_it_was(
    reader: NdjsonReader,
) -> None:
    # The records were kept by reference and converted a chunk later: every row was the
    # last record (one job, the others lost).
    got = itf.to_frames(_reused(HISTORY), _reader=reader)
    want = itf.to_frames(copy.deepcopy(HISTORY), _reader=reader)
    assert sorted(got.jobs["job_id"]) == sorted(want.jobs["job_id"])
    assert len(got.tasks) == len(want.tasks) and got.problems.empty


def _reused_deep(history: list[dict[str, Any]], fresh_top: bool) -> Iterator[dict[str, Any]]:
    """Each job in the same objects all the way down (its task list, each task and file
    object; the job itself too unless ``fresh_top``), refilled between yields, as a
    streaming parser that recycles its containers hands them."""
    row: dict[str, Any] = {}
    listed: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = [{} for _ in range(max(len(j["tasks"]) for j in history))]
    inputs: list[dict[str, Any]] = [{} for _ in tasks]
    for job in history:
        fresh = copy.deepcopy(job)
        for task, slot, inp in zip(fresh["tasks"], tasks, inputs, strict=False):
            slot.clear()
            slot.update(task)
            if isinstance(task.get("input"), dict):
                inp.clear()
                inp.update(task["input"])
                slot["input"] = inp
        listed[:] = tasks[: len(fresh["tasks"])]
        if fresh_top:
            row = {}
        row.clear()
        row.update(fresh, tasks=listed)
        yield row


@pytest.mark.parametrize(
    "reader",
    [CAREFUL, FAST, NdjsonReader(min_records=2, use_sql=False)],
    ids=["careful", "fast", "careful-kept"],
)
@pytest.mark.parametrize("fresh_top", [False, True], ids=["same job dict", "fresh job dicts"])
def test_a_generator_recycling_nested_objects_gives_each_record_as_it_was(
    reader: NdjsonReader, fresh_top: bool
) -> None:
    # Only the top level was copied: the tasks of every job but the last were the last
    # job's tasks when the chunk was converted.
    got = itf.to_frames(_reused_deep(HISTORY, fresh_top), _reader=reader)
    want = itf.to_frames(copy.deepcopy(HISTORY), _reader=reader)
    assert_frame_equal(got.jobs, want.jobs)
    assert_frame_equal(got.tasks, want.tasks)
    assert got.problems.empty


@pytest.mark.parametrize("reader", [CAREFUL, FAST], ids=["careful", "fast"])
def test_a_0d_numpy_array_is_its_scalar(reader: NdjsonReader) -> None:
    # np.array(x).tolist() is x itself: iterated as a list, a number raised TypeError
    # and a text became a list of its letters ("unknown status").
    job = copy.deepcopy(HISTORY[0])
    odd = {
        **job,
        "created_at": np.array(job["created_at"]),
        "status": np.array(job["status"]),
        "tasks": [{**t, "kind": np.array(t["kind"])} for t in job["tasks"]],
    }
    got = itf.to_frames([odd, copy.deepcopy(HISTORY[1])], _reader=reader)
    want = itf.to_frames([job, copy.deepcopy(HISTORY[1])], _reader=reader)
    assert_frame_equal(got.jobs, want.jobs)
    assert_frame_equal(got.tasks, want.tasks)
    assert got.problems.empty


def _with_nan(texts: list[str]) -> list[str]:
    return [texts[0], texts[1].replace('"kind"', '"x": NaN, "kind"', 1), *texts[2:]]


_TEXTS = [json.dumps(job) for job in HISTORY[:3]]
_ARRAYS = {
    "one-line": "[" + ", ".join(_with_nan(_TEXTS)) + "]",
    "one-a-line": "[\n" + ",\n".join(_with_nan(_TEXTS)) + "\n]\n",
    "indented": "[\n" + ",\n".join(_with_nan([json.dumps(j, indent=2) for j in HISTORY[:3]])) + "]",
}


@pytest.mark.parametrize("reader", [CAREFUL, FAST], ids=["careful", "fast"])
@pytest.mark.parametrize("layout", list(_ARRAYS))
def test_a_json_array_with_one_bad_element_keeps_the_others(
    layout: str, reader: NdjsonReader
) -> None:
    # One NaN (not JSON) failed the whole array (one line), or made every line of a
    # pretty-printed one a problem and lost the jobs.
    text = _ARRAYS[layout]
    assert text.count("NaN") == 1
    frames = itf.to_frames(text, _reader=reader)
    assert len(frames.jobs) == 2 and set(frames.jobs["job_id"]) == {
        HISTORY[0]["id"],
        HISTORY[2]["id"],
    }
    [problem] = frames.problems.to_dict("records")
    assert "not valid JSON" in problem["problem"] and "NaN" in problem["raw_value"]


@pytest.mark.parametrize("text", ['[{"id": "a"}, {"id": ', '[{"id": "a"}] trailing', "[1, 2"])
def test_an_array_whose_brackets_do_not_close_is_one_line_saying_what_to_pass(text: str) -> None:
    with pytest.raises(ValueError, match="not valid JSON or NDJSON") as caught:
        itf.to_frames(text)
    assert "\n" not in str(caught.value)


def _page_with_odd_elements() -> dict[str, Any]:
    first, second, third = copy.deepcopy(HISTORY[:3])
    odd = [first, 5, "text", None, True, [], [second], third]
    return {"meta": {"page": 1}, "data": odd, "links": {"next": None}}


@pytest.mark.parametrize("reader", [CAREFUL, NdjsonReader(min_lines=1, min_records=1)])
@pytest.mark.parametrize("form", ["dict", "text", "ndjson"])
def test_every_non_object_in_a_listing_page_is_a_problem_row(
    form: str, reader: NdjsonReader
) -> None:
    # An empty array among a page's jobs was opened to no record and dropped without a
    # word (an array of jobs there is opened, as arrays anywhere are).
    page = _page_with_odd_elements()
    given: Any = {"dict": page, "text": json.dumps(page), "ndjson": json.dumps(page) + "\n"}
    frames = itf.to_frames(given[form], _reader=reader)
    assert list(frames.jobs["job_id"]) == [h["id"] for h in HISTORY[:3]]
    skipped = frames.problems[frames.problems["problem"].str.startswith("not a JSON object")]
    assert list(skipped["raw_value"]) == ["5", '"text"', "null", "true", "[]"]
    assert len(frames.problems) == 5


@pytest.mark.parametrize("reader", [CAREFUL, FAST], ids=["careful", "fast"])
@pytest.mark.parametrize("layout", list(_ARRAYS))
def test_a_bad_array_element_is_named_by_its_place_in_the_array(
    layout: str, reader: NdjsonReader
) -> None:
    # It said "line 2": a one-line array has no line 2, and in the pretty-printed ones
    # line 2 is another part of the text than the second element.
    frames = itf.to_frames(_ARRAYS[layout], _reader=reader)
    [problem] = frames.problems["problem"].tolist()
    assert problem == "element 2 of the JSON array is not valid JSON; skipped"


def test_a_bad_ndjson_line_is_still_named_by_its_line() -> None:
    text = "\n".join(_with_nan(_TEXTS)) + "\n"
    [problem] = itf.to_frames(text, _reader=CAREFUL).problems["problem"].tolist()
    assert problem == "line 2 is not valid JSON; skipped"
