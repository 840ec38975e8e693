"""Adversarial pass, session 10: input files as users have them, read as a new user does."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from tests.frames_equal import assert_frame_equal

CAREFUL = _ndjson.NdjsonReader(use_sql=False)


def _sorted_problems(frames: itf.JobFrames) -> pd.DataFrame:
    return frames.problems.sort_values(list(frames.problems.columns)).reset_index(drop=True)


def _assert_same(got: itf.JobFrames, want: itf.JobFrames) -> None:
    assert_frame_equal(got.jobs, want.jobs)
    assert_frame_equal(got.tasks, want.tasks)
    assert_frame_equal(_sorted_problems(got), _sorted_problems(want))


def _huge_job(history: list[dict[str, Any]], tasks: int) -> dict[str, Any]:
    """One finished job of the history with ``tasks`` tasks (its own, repeated under
    new IDs): one NDJSON line of megabytes."""
    job = copy.deepcopy(next(j for j in history if len(j["tasks"]) >= 3))
    own = job["tasks"]
    job["tasks"] = [{**own[i % len(own)], "id": f"task_{i:07d}"} for i in range(tasks)]
    return job


class _Passes:
    """DuckDB's passes over lines, counted: the fast route was taken."""

    def __init__(self) -> None:
        self.lines: list[int] = []

    def __call__(self, con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        table = _ndjson._read(con, queries, lines, rows)
        self.lines.append(0 if table is None else table["st"].to_pylist().count(True))
        return table


def test_one_ndjson_line_of_a_job_with_a_huge_task_list_takes_the_fast_route(
    history: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A job with thousands of tasks on one line (an export of one big job, as a
    file, as bytes, with or without a newline, gzip-compressed, beside a second line)
    was under ``min_lines`` and went the careful way in Python whole: session 8
    measured 8.7 s for 200,000 tasks, against 4.3 s from the same job as a dict. Its
    size, not its line count, is what DuckDB's start is weighed against: it is read by
    SQL now, with the rows the careful path gives."""
    job = _huge_job(history, 6000)
    line = orjson.dumps(job)
    small = orjson.dumps(next(j for j in history if j["id"] != job["id"]))
    assert len(line) > 2**20  # megabytes, one line
    path = tmp_path / "one-job.json.gz"
    path.write_bytes(gzip.compress(line + b"\n"))
    sources: list[tuple[Any, bytes]] = [
        (line, line),
        (line + b"\r\n", line),
        (b"\xef\xbb\xbf" + line + b"\n\n", line),
        (path, line),
        (line + b"\n" + small + b"\n", line + b"\n" + small),
    ]
    for source, text in sources:
        passes = _Passes()
        fast = itf.to_frames(source, _reader=_ndjson.NdjsonReader(read=passes))
        assert passes.lines and passes.lines[0] >= 1, type(source)  # the job: by SQL
        _assert_same(fast, itf.to_frames(text + b"\n", _reader=CAREFUL))
        assert fast.tasks["task_id"].is_unique and len(fast.jobs) == len(text.splitlines())


def test_one_long_line_sql_leaves_is_read_as_the_document_it_is(
    history: list[dict[str, Any]],
) -> None:
    """What SQL does not take on one long line is read as before: a page envelope
    (its records), a job with an odd value (a problem row), text that is no JSON (one
    ValueError line, as for any one document that is not JSON)."""
    job = _huge_job(history, 6000)
    odd = copy.deepcopy(job)
    odd["tasks"][5]["progress"] = "half"
    page = {"meta": {"page": 1}, "data": [job, *history[:5]], "links": {}}
    for record in (odd, page):
        line = orjson.dumps(record)
        got = itf.to_frames(line)
        _assert_same(got, itf.to_frames([record], _reader=CAREFUL))
        _assert_same(got, itf.to_frames(line + b"\n", _reader=CAREFUL))
    assert "progress" in set(itf.to_frames(orjson.dumps(odd)).problems["column"])
    broken = orjson.dumps(job)[:-1] + b",}"
    with pytest.raises(ValueError, match="not valid JSON") as caught:
        itf.to_frames(broken)
    assert "\n" not in str(caught.value)


def test_one_parsed_job_with_a_huge_task_list_takes_the_fast_route(
    history: list[dict[str, Any]],
) -> None:
    """The same job as a dict (the client's, or a pretty-printed file's): one record,
    under ``min_records``, so all of it went the careful way, although its tasks are the
    work of thousands of jobs. A job now weighs its tasks (four a job): it is written
    back to NDJSON and read by SQL, with the rows the careful path gives."""
    job = _huge_job(history, 4 * _ndjson.NdjsonReader().min_records)
    careful = itf.to_frames([job], _reader=CAREFUL)
    for source in ([job], orjson.dumps(job, option=orjson.OPT_INDENT_2)):
        passes = _Passes()
        _assert_same(itf.to_frames(source, _reader=_ndjson.NdjsonReader(read=passes)), careful)
        assert passes.lines and passes.lines[0] >= 1, type(source)
    # With the threshold at 10 jobs: nine ordinary jobs (up to seven tasks) weigh one
    # each, as before; one job of forty tasks weighs ten.
    nine = [{**_huge_job(history, 7), "id": f"job_{i}"} for i in range(9)]
    for records, sql in ((nine, False), ([_huge_job(history, 40)], True)):
        passes = _Passes()
        reader = _ndjson.NdjsonReader(read=passes, min_records=10)
        _assert_same(
            itf.to_frames(records, _reader=reader), itf.to_frames(records, _reader=CAREFUL)
        )
        assert bool(passes.lines) is sql


def test_a_file_name_passed_as_str_says_to_pass_a_path(
    history: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``to_frames("export.ndjson")`` (a notebook's first try) reads the str as JSON
    text, as documented; the error said the records were not valid JSON ('unexpected
    character ... line 1 column 1'), not that a file is read from a ``Path``. It now
    names the text and says to pass ``pathlib.Path(...)``; JSON text is read as before."""
    monkeypatch.chdir(tmp_path)
    Path("export.ndjson").write_bytes(orjson.dumps(history[0]) + b"\n")
    for name in ("export.ndjson", str(tmp_path / "export.ndjson"), "missing.json.gz"):
        with pytest.raises(ValueError, match=r"pathlib\.Path\(") as caught:
            itf.to_frames(name)
        message = str(caught.value)
        assert repr(name) in message and "\n" not in message
    assert len(itf.to_frames(Path("export.ndjson")).jobs) == 1
    assert len(itf.to_frames(orjson.dumps(history[0]).decode()).jobs) == 1
    with pytest.raises(ValueError, match="not valid JSON"):
        itf.to_frames('{"id": "job_1", ')  # text cut short: still what it is


def test_frames_made_with_as_of_write_no_elapsed_so_far_durations_to_a_lake(
    history: list[dict[str, Any]], tmp_path: Path
) -> None:
    """``to_frames(..., as_of=...)`` gives unfinished rows their durations so far,
    flagged in ``durations_provisional``. The lake keeps no such flag, and kept the
    numbers: an unfinished job read back had a processing and total time as if it had
    finished at ``as_of``, which every duration metric on the lake then counted. What
    a lake holds now is what the frames without ``as_of`` hold (a real queue time of
    a job still processing included)."""
    as_of = "2026-11-30T15:37:00Z"
    records = copy.deepcopy(history[:30])
    for job in records[:10]:  # still processing: started, not finished
        job["status"] = "processing"
        job.pop("finished_at", None)
        job["tasks"][-1]["status"] = "processing"
        job["tasks"][-1].pop("finished_at", None)
    for job in records[10:20]:  # still queued
        job["status"] = "queued"
        for record in (job, *job["tasks"]):
            record.pop("started_at", None)
            record.pop("finished_at", None)
    provisional = itf.to_frames(records, as_of=as_of)
    assert provisional.jobs["durations_provisional"].sum() == 20
    plain = itf.to_frames(records)
    provisional.to_parquet(tmp_path / "lake")
    back = itf.read_parquet(tmp_path / "lake")
    for name, keys in (("jobs", ["job_id"]), ("tasks", ["job_id", "task_index"])):
        got = getattr(back, name).sort_values(keys).reset_index(drop=True)
        want = getattr(plain, name).sort_values(keys).reset_index(drop=True)
        assert_frame_equal(got, want)
    # The frames themselves keep their durations so far.
    assert provisional.jobs["total_seconds"].notna().all()
