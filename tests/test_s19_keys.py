"""DuckDB reads only the fields a block's lines hold (:mod:`ittybit_frames.frames._ndjson_keys`):
the structure given to ``json_transform`` is cut to the keys its structures show, and
the rows are cast back to the whole structure's type. Each test here attacks that cut:
a field one line in a group holds, fields no line holds, empty task lists, null files;
each result must be the careful path's, and the cut must be seen to happen."""

from __future__ import annotations

import copy
import json
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from ittybit_frames.frames import _ndjson, _ndjson_groups, _ndjson_shape
from ittybit_frames.frames._ndjson_keys import arrow_type, keys_of, pruned
from ittybit_frames.simulator import generate_history
from tests.test_frames_groups import _careful, group_taken  # noqa: F401  (a fixture)
from tests.test_frames_properties import assert_same, through_sql

#: At least 2 * GROUP_LINES lines, so that the group check runs (a block of fewer lines
#: skips it: with 120 jobs, groups of 64 lines were never formed here).
CLEAN = generate_history(200, seed=19)


def _ndjson_of(jobs: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(job) for job in jobs) + "\n").encode()


@pytest.fixture
def shapes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The structures given to json_transform, parsed (so a test sees the cut)."""
    seen: list[dict[str, Any]] = []
    shape = _ndjson_shape._shape

    def spy(numeric: bool = False, keys: Any = None) -> str:
        text = shape(numeric, keys)
        seen.append(json.loads(text))
        return text

    monkeypatch.setattr(_ndjson_shape, "_shape", spy)
    return seen


def _file_keys(shape: dict[str, Any], name: str) -> set[str]:
    return set(shape["tasks"][0][name])


def test_fields_no_line_holds_are_not_read_and_come_out_null(
    shapes: list[dict[str, Any]],
) -> None:
    data = _ndjson_of(CLEAN)
    assert_same(through_sql(data), _careful(data))
    assert shapes, "json_transform was not used"
    for shape in shapes:
        # The simulator's current shape writes no older names, and four fields on inputs.
        assert not {"created", "updated"} & set(shape)
        assert not {"framerate", "codec"} & _file_keys(shape, "output")
        assert _file_keys(shape, "input") <= {"object", "url", "kind", "format"}


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("output", "framerate", 29.97),
        ("output", "codec", "av1"),
        ("input", "width", 640),
        ("input", "duration", 12.5),
        ("input", "codecs", {"video": "vp9"}),
    ],
)
@pytest.mark.parametrize("at", [0, 100, 199])
def test_a_field_one_line_holds_is_read_for_that_line(
    shapes: list[dict[str, Any]],
    group_taken: list[int],  # noqa: F811
    where: str,
    key: str,
    value: Any,
    at: int,
) -> None:
    """One line in its group (first, middle, last of the input) holds a field no other
    line does: the group's merged structure holds it, so it is read, not cut."""
    jobs = copy.deepcopy(CLEAN)
    at = next(i for i in [*range(at, len(jobs)), *range(at)] if jobs[i]["tasks"])
    task = jobs[at]["tasks"][0]
    if not isinstance(task.get(where), dict):
        task[where] = {}
    task[where][key] = value
    # The current name, where the file has it, wins over the older one.
    task[where].pop({"framerate": "fps", "codec": "codecs"}.get(key, ""), None)
    data = _ndjson_of(jobs)
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    assert any(key in _file_keys(shape, where) for shape in shapes)
    assert sum(group_taken) >= len(jobs) - 2 * _ndjson_groups.GROUP_LINES  # groups in play
    column = {
        "framerate": "fps",
        "codec": "codec_video",
        "width": "width",
        "duration": "duration_seconds",
        "codecs": "codec_video",
    }[key]
    row = fast.tasks[fast.tasks["job_id"] == jobs[at]["id"]].iloc[0]
    expected = value["video"] if isinstance(value, dict) else value
    assert row[f"{where}_{column}"] == expected


def test_older_timestamp_names_on_one_line_are_read(shapes: list[dict[str, Any]]) -> None:
    jobs = copy.deepcopy(CLEAN)
    jobs[50]["created"] = jobs[50].pop("created_at")
    jobs[50]["tasks"][1]["updated"] = jobs[50]["tasks"][1].pop("updated_at")
    data = _ndjson_of(jobs)
    fast = through_sql(data)
    assert_same(fast, _careful(data))
    assert any("created" in shape for shape in shapes)
    assert fast.jobs.loc[fast.jobs["job_id"] == jobs[50]["id"], "created_at"].notna().all()


def test_blocks_whose_jobs_have_no_tasks_or_null_files(shapes: list[dict[str, Any]]) -> None:
    """Every task list empty (the task structure is cut to one field), or every file
    null (a file structure with no key shown): read as the careful path reads them."""
    empty = copy.deepcopy(CLEAN)
    for job in empty:
        job["tasks"] = []
    nulls = copy.deepcopy(CLEAN)
    for job in nulls:
        for task in job["tasks"]:
            task["input"] = task["output"] = None
    for jobs in (empty, nulls):
        data = _ndjson_of(jobs)
        assert_same(through_sql(data, must_read=False), _careful(data))
    assert any(list(shape["tasks"][0]) == ["id"] for shape in shapes)


@pytest.mark.parametrize("numeric", [True, False])
def test_the_whole_structure_type_is_what_duckdb_gives(numeric: bool) -> None:
    """The type the cut rows are cast to is the uncut query's, field for field."""
    line = json.dumps(CLEAN[0])
    con = duckdb.connect()
    con.register("src", pa.table({"r": [1], "line": [line], "pick": [True]}))
    table = con.sql(_ndjson_shape.transform_query(numeric)).to_arrow_table()
    assert table.schema.field("j").type == arrow_type(_ndjson_shape.shape_dict(numeric))
    assert _ndjson_shape.full_type(numeric) == table.schema.field("j").type


def test_cut_and_cast_rows_equal_the_uncut_rows() -> None:
    """On every documented shape the simulator writes (current, older, mix), the rows
    read with the cut structure and cast back equal those read whole."""
    lines = [
        json.dumps(job["data"] if "data" in job and "id" not in job else job)
        for generation in ("current", "older", "mix")
        for job in generate_history(60, seed=3, generation=generation)
    ]
    con = duckdb.connect()
    held = frozenset().union(
        *(keys_of(json.loads(s), _ndjson_shape.shape_dict()) for s in _structures(con, lines))
    )
    table = pa.table({"r": np.arange(len(lines)), "line": lines, "pick": [True] * len(lines)})
    con.register("src", table)
    whole = con.sql(_ndjson_shape.transform_query(False)).to_arrow_table()
    cut = _ndjson._whole(
        con.sql(_ndjson_shape.transform_query(False, held)).to_arrow_table(), False
    )
    assert cut is not None
    assert cut.equals(whole)
    assert len(json.dumps(pruned(_ndjson_shape.shape_dict(), held))) < len(
        _ndjson_shape._shape(False)
    )


def _structures(con: Any, lines: list[str]) -> list[str]:
    con.register("lines", pa.table({"line": lines}))
    return [s for (s,) in con.sql("SELECT json_structure(line) FROM lines").fetchall()]


def test_keys_of_walks_only_what_is_read() -> None:
    template = _ndjson_shape.shape_dict()
    structure = {
        "id": "VARCHAR",
        "surprise": "VARCHAR",
        "options": {"deep": {"x": "UBIGINT"}},
        "tasks": [{"id": "VARCHAR", "output": {"codecs": {"video": "VARCHAR"}}}],
    }
    assert keys_of(structure, template) == {
        ("id",),
        ("options",),
        ("tasks",),
        ("tasks", "id"),
        ("tasks", "output"),
        ("tasks", "output", "codecs"),
        ("tasks", "output", "codecs", "video"),
    }
    assert keys_of("NULL", template) == frozenset()
    assert keys_of({"tasks": ["NULL"]}, template) == {("tasks",)}


def test_tapered_blocks_shrink_towards_the_end_and_keep_every_line() -> None:
    """``blocks_of`` with a taper: whole lines, in order, numbered on; no block above the
    cap, each at most the taper-th part of what is left (or the floor), so the last
    blocks are the small ones."""
    from ittybit_frames.frames._ndjson_blocks import blocks_of

    data = b"".join(b'{"id":"%d","pad":"%s"}\n' % (i, b"x" * (i % 97)) for i in range(20_000))
    blocks = list(blocks_of(data, 200_000, taper=2, floor=10_000))
    sizes = [int(b[2][-1] - b[2][0]) for b in blocks]
    starts = [int(b[3][0]) for b in blocks]
    assert b"".join(data[int(b[2][0]) : int(b[2][-1])] for b in blocks) == data
    assert starts == [1, *np.cumsum([len(b[1]) for b in blocks])[:-1] + 1]
    assert max(sizes) <= 200_000 + 200
    assert sizes[0] > 150_000 and sizes[-2] < 20_000
    left = len(data)
    for size in sizes:
        assert size <= max(10_000, left // 2) + 200
        left -= size
    plain = list(blocks_of(data, 200_000))
    assert all(int(b[2][-1] - b[2][0]) >= 200_000 for b in plain[:-1])
