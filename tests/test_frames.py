"""to_frames on small, hand-checked payloads: one test per drift case."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pytest

import ittybit_frames as itf
from ittybit_frames.frames import JobFrames
from ittybit_frames.schema import JOBS, PROBLEMS, TASKS
from ittybit_frames.simulator import DEFAULT_START, generate_history
from tests.test_frames_properties import assert_same, through_sql

T0 = 1711900000000  # 2024-03-31T15:46:40Z


def make_task(i: int = 0, **fields: Any) -> dict[str, Any]:
    task = {
        "id": f"task_{i:03d}",
        "object": "task",
        "kind": "probe",
        "input": {"object": "external_file", "url": "https://example.com/video.mp4"},
        "options": {},
        "output": {
            "object": "file",
            "kind": "video",
            "url": "https://example.com/video.mp4",
            "format": "mp4",
            "width": 1920,
            "height": 1080,
            "duration": 62.5,
            "codecs": {"video": "h264", "audio": "aac"},
        },
        "status": "succeeded",
        "progress": None,
        "error": None,
        "created_at": T0,
        "started_at": T0 + 1000,
        "finished_at": T0 + 5000,
        "updated_at": T0 + 5000,
    }
    task.update(fields)
    return task


def make_job(jid: str = "job_abc123", tasks: Any = None, **fields: Any) -> dict[str, Any]:
    job = {
        "id": jid,
        "object": "job",
        "kind": "video",
        "input": "https://example.com/video.mp4",
        "output": "https://store.ittybit.net/org_123/video.mp4",
        "options": {"quality": "high", "format": "mp4"},
        "metadata": {},
        "status": "succeeded",
        "error": None,
        "tasks": [make_task()] if tasks is None else tasks,
        "created_at": T0,
        "started_at": T0 + 1000,
        "finished_at": T0 + 45000,
        "updated_at": T0 + 45000,
    }
    job.update(fields)
    return job


def problems_for(frames: JobFrames, column: str) -> pd.DataFrame:
    return frames.problems[frames.problems["column"] == column]


def assert_schema(frames: JobFrames, *, provisional: bool = False) -> None:
    assert frames.jobs.dtypes.to_dict() == JOBS.dtypes(provisional=provisional)
    assert frames.tasks.dtypes.to_dict() == TASKS.dtypes(provisional=provisional)
    assert frames.problems.dtypes.to_dict() == PROBLEMS.dtypes()
    assert list(frames.jobs.columns) == list(JOBS.dtypes(provisional=provisional))


def test_documented_example_job() -> None:
    frames = itf.to_frames([make_job()])
    assert_schema(frames)
    job = frames.jobs.iloc[0]
    assert job["job_id"] == "job_abc123" and job["kind"] == "video"
    assert job["status"] == "succeeded" and job["status_raw"] == "succeeded"
    assert job["created_at"] == pd.Timestamp("2024-03-31T15:46:40Z")
    assert (job["queue_seconds"], job["processing_seconds"], job["total_seconds"]) == (
        1.0,
        44.0,
        45.0,
    )
    assert job["options"] == '{"format":"mp4","quality":"high"}'  # sorted keys
    assert job["task_count"] == 1 and job["failed_task_count"] == 0
    assert job["media_duration_seconds"] == 62.5
    assert pd.isna(job["extra"]) and frames.problems.empty
    task = frames.tasks.iloc[0]
    assert task["job_id"] == "job_abc123" and task["task_index"] == 0
    assert (task["output_width"], task["output_height"]) == (1920, 1080)
    assert (task["output_codec_video"], task["output_codec_audio"]) == ("h264", "aac")
    assert task["input_url"] == "https://example.com/video.mp4"
    assert task["job_kind"] == "video" and task["job_created_at"] == job["created_at"]
    assert (task["queue_seconds"], task["processing_seconds"]) == (1.0, 4.0)


def test_timestamps_in_seconds_iso_and_ms_agree() -> None:
    variants = [
        dict(created_at=T0 // 1000, started_at=T0 // 1000 + 1, finished_at=T0 // 1000 + 45),
        dict(
            created_at="2024-03-31T15:46:40Z",
            started_at="2024-03-31T15:46:41.000Z",
            finished_at="2024-03-31T15:47:25Z",
        ),
        dict(created_at=str(T0), started_at=float(T0 + 1000), finished_at=T0 + 45000),
    ]
    frames = itf.to_frames([make_job(f"job_{i}", **v) for i, v in enumerate(variants)])
    assert frames.problems.empty
    assert frames.jobs["total_seconds"].tolist() == [45.0, 45.0, 45.0]
    assert frames.jobs["created_at"].nunique() == 1


def test_older_field_names_and_bad_timestamps() -> None:
    old = make_job("job_old")
    old["created"] = "2025-01-01T01:23:45.678Z"
    old["updated"] = "2025-01-01T01:24:00Z"
    for key in ("created_at", "updated_at", "started_at", "finished_at"):
        del old[key]
    bad = make_job("job_bad", created_at="yesterday", started_at=12)
    frames = itf.to_frames([old, bad])
    jobs = frames.jobs.set_index("job_id")
    assert jobs.loc["job_old", "created_at"] == pd.Timestamp("2025-01-01T01:23:45.678Z")
    assert jobs.loc["job_old", "updated_at"] == pd.Timestamp("2025-01-01T01:24:00Z")
    assert pd.isna(jobs.loc["job_bad", "created_at"]) and pd.isna(jobs.loc["job_bad", "started_at"])
    cols = set(problems_for(frames, "created_at")["raw_value"]) | set(
        problems_for(frames, "started_at")["raw_value"]
    )
    assert cols == {'"yesterday"', "12"}


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("ready", "succeeded"),
        ("completed", "succeeded"),
        ("error", "failed"),
        ("pending", "queued"),
        ("waiting", "queued"),
        ("validating", "queued"),
        ("finishing", "processing"),
        ("cancelled", "cancelled"),
        ("Succeeded", "succeeded"),
        ("exploded", "other"),
        (None, "other"),
        (3, "other"),
    ],
)
def test_status_vocabularies(raw: Any, canonical: str) -> None:
    frames = itf.to_frames([make_job(status=raw)])
    assert frames.jobs.loc[0, "status"] == canonical
    expected_raw = raw if isinstance(raw, str) or raw is None else json.dumps(raw)
    assert (
        pd.isna(frames.jobs.loc[0, "status_raw"])
        if raw is None
        else frames.jobs.loc[0, "status_raw"] == expected_raw
    )
    assert len(problems_for(frames, "status")) == (canonical == "other")


def test_error_shapes() -> None:
    failed = [
        make_job("job_s", status="failed", error="Encoder exploded"),
        make_job("job_o", status="failed", error={"kind": "encode_failed", "message": "boom"}),
        make_job("job_x", status="failed", error={"code": 7, "message": "m", "detail": [1]}),
        make_job("job_n", status="failed", error=42),
    ]
    frames = itf.to_frames(failed)
    jobs = frames.jobs.set_index("job_id")
    assert pd.isna(jobs.loc["job_s", "error_kind"]) and jobs.loc["job_s", "error_message"] == (
        "Encoder exploded"
    )
    assert tuple(jobs.loc["job_o", ["error_kind", "error_message"]]) == ("encode_failed", "boom")
    assert tuple(jobs.loc["job_x", ["error_kind", "error_message"]]) == ("7", "m")
    assert json.loads(jobs.loc["job_x", "extra"])["error"]["detail"] == [1]
    assert jobs.loc["job_n", "error_message"] == "42"
    assert list(problems_for(frames, "error_message")["job_id"]) == ["job_n"]


def test_output_shapes_and_string_numbers() -> None:
    tasks = [
        make_task(0),
        make_task(1, kind="video", output="https://cdn.example.com/out.mp4"),
        make_task(
            2,
            kind="export",
            output={
                "url": "s3://b/k",
                "width": "1280",
                "duration": "9.5",
                "fps": "x",
                "bucket": "b",
            },
        ),
        make_task(
            3,
            kind="video",
            output=None,
            outputs=[
                {
                    "kind": "video",
                    "url": "https://a",
                    "filesize": 10,
                    "codecs": {"video": {"name": "h264", "profile": "high"}},
                },
                {"kind": "image", "url": "https://b"},
            ],
        ),
    ]
    frames = itf.to_frames([make_job(tasks=tasks, output={"url": "https://o", "id": "file_1"})])
    t = frames.tasks.set_index("task_id")
    assert t.loc["task_001", "output_url"] == "https://cdn.example.com/out.mp4"
    assert pd.isna(t.loc["task_001", "output_width"])
    assert t.loc["task_002", "output_width"] == 1280
    assert t.loc["task_002", "output_duration_seconds"] == 9.5
    assert pd.isna(t.loc["task_002", "output_fps"])
    assert json.loads(t.loc["task_002", "extra"]) == {
        "input": {"object": "external_file"},
        "output": {"bucket": "b"},
    }
    assert t.loc["task_003", "output_url"] == "https://a"
    assert t.loc["task_003", "output_codec_video"] == "h264"
    extra3 = json.loads(t.loc["task_003", "extra"])
    assert len(extra3["outputs"]) == 2
    # A list of files is kept whole (once): its first file's profile is there.
    assert extra3["outputs"][0]["codecs"]["video"]["profile"] == "high"
    assert "output" not in extra3
    assert list(problems_for(frames, "output_fps")["raw_value"]) == ['"x"']
    job = frames.jobs.iloc[0]
    assert job["output_url"] == "https://o" and json.loads(job["extra"]) == {
        "output": {"id": "file_1"}
    }


def test_missing_zero_and_odd_task_lists() -> None:
    no_tasks = make_job("job_none")
    del no_tasks["tasks"]
    frames = itf.to_frames(
        [no_tasks, make_job("job_zero", tasks=[]), make_job("job_odd", tasks=[make_task(), "junk"])]
    )
    jobs = frames.jobs.set_index("job_id")
    assert pd.isna(jobs.loc["job_none", "task_count"])
    assert jobs.loc["job_zero", "task_count"] == 0
    assert jobs.loc["job_odd", "task_count"] == 1
    assert list(frames.tasks["job_id"]) == ["job_odd"]
    assert set(frames.problems["job_id"]) == {"job_none", "job_odd"}


def test_staging_steps_naming() -> None:
    job = make_job(object="task", tasks=None)
    del job["tasks"]
    job["steps"] = [make_task(0, object="step", kind="ingest"), make_task(1, kind="upload")]
    frames = itf.to_frames([job])
    assert list(frames.tasks["kind"]) == ["import", "export"]
    # The older stage name is the canonical one's (import), kept as sent in kind_raw.
    assert frames.tasks.loc[0, "kind_raw"] == "ingest"
    assert json.loads(frames.tasks.loc[0, "extra"]) == {
        "input": {"object": "external_file"},
        "output": {"object": "file"},
        "object": "step",  # a tasks row's own tag (task) is implied; this one is kept
    }
    assert frames.jobs.loc[0, "task_count"] == 2 and frames.problems.empty


def test_duplicates_keep_the_latest_update() -> None:
    old = make_job("job_1", status="processing", finished_at=None, updated_at=T0 + 2000)
    new = make_job("job_1", status="succeeded", updated_at=T0 + 45000)
    for records in ([old, new], [new, old]):
        frames = itf.to_frames(copy.deepcopy(records))
        assert len(frames.jobs) == 1 and frames.jobs.loc[0, "status"] == "succeeded"
        assert len(frames.tasks) == 1
        assert list(problems_for(frames, "job_id")["job_id"]) == ["job_1"]


def test_negative_durations_become_na_with_a_problem() -> None:
    frames = itf.to_frames([make_job(started_at=T0 - 5000)])
    job = frames.jobs.iloc[0]
    assert pd.isna(job["queue_seconds"]) and job["processing_seconds"] == 50.0
    assert list(problems_for(frames, "queue_seconds")["raw_value"]) == ["-5.0"]


def test_as_of_gives_elapsed_so_far() -> None:
    queued = make_job(
        "job_q",
        status="queued",
        started_at=None,
        finished_at=None,
        tasks=[make_task(status="waiting", started_at=None, finished_at=None)],
    )
    running = make_job("job_p", status="processing", finished_at=None)
    done = make_job("job_d")
    as_of = pd.Timestamp(T0 + 60_000, unit="ms", tz="UTC")
    frames = itf.to_frames([queued, running, done], as_of=as_of)
    assert_schema(frames, provisional=True)
    jobs = frames.jobs.set_index("job_id")
    assert list(jobs["durations_provisional"]) == [True, True, False]
    assert jobs.loc["job_q", "queue_seconds"] == 60.0 and pd.isna(
        jobs.loc["job_q", "processing_seconds"]
    )
    assert jobs.loc["job_p", "queue_seconds"] == 1.0
    assert jobs.loc["job_p", "processing_seconds"] == 59.0
    assert jobs.loc["job_d", "total_seconds"] == 45.0
    assert frames.as_of == as_of
    plain = itf.to_frames([queued, running])
    assert plain.jobs["total_seconds"].isna().all()


def test_unknown_fields_land_in_extra_sorted() -> None:
    job = make_job(webhook_url="https://hook", zeta=1, alpha={"b": 2, "a": 1})
    job["tasks"][0]["run_id"] = "run_1"
    frames = itf.to_frames([job])
    assert (
        frames.jobs.loc[0, "extra"]
        == '{"alpha":{"a":1,"b":2},"webhook_url":"https://hook","zeta":1}'
    )
    assert frames.tasks.loc[0, "extra"] == (
        '{"input":{"object":"external_file"},"output":{"object":"file"},"run_id":"run_1"}'
    )


def test_strict_raises_at_the_first_problem() -> None:
    with pytest.raises(itf.SchemaError, match="created_at"):
        itf.to_frames([make_job(created_at="soon")], strict=True)
    with pytest.raises(ValueError):  # SchemaError is a ValueError too
        itf.to_frames([make_job(status="weird")], strict=True)
    assert len(itf.to_frames([make_job()], strict=True)) == 1


def test_strict_on_ndjson_raises_from_either_path(history: list[dict[str, Any]]) -> None:
    lines = [orjson.dumps(j) for j in history]
    for convert in (itf.to_frames, through_sql):  # 400 lines: the careful path, then SQL
        assert len(convert(b"\n".join(lines), strict=True)) == len(history)
    lines[7] = orjson.dumps({**history[7], "status": "weird"})
    for convert in (itf.to_frames, through_sql):
        with pytest.raises(itf.SchemaError, match="status"):
            convert(b"\n".join(lines), strict=True)


def test_empty_input_has_exact_dtypes() -> None:
    for records in ([], b"", b"[]", {"data": []}):
        frames = itf.to_frames(records)
        assert len(frames) == 0 and frames.tasks.empty
        assert_schema(frames)
    assert_schema(itf.to_frames([], as_of="2026-01-01"), provisional=True)


def test_input_forms_agree() -> None:
    jobs = [make_job(f"job_{i}") for i in range(3)]
    as_list = itf.to_frames(jobs)
    ndjson = b"\n".join(orjson.dumps(j) for j in jobs) + b"\n"
    for form in (ndjson, orjson.dumps(jobs), orjson.dumps({"data": jobs}), ndjson.decode()):
        other = itf.to_frames(form)
        pd.testing.assert_frame_equal(other.jobs, as_list.jobs)
        pd.testing.assert_frame_equal(other.tasks, as_list.tasks)


def test_bad_ndjson_lines_and_non_objects_are_reported() -> None:
    data = orjson.dumps(make_job("job_1")) + b"\n{not json\n" + orjson.dumps(make_job("job_2"))
    frames = itf.to_frames(data)
    assert list(frames.jobs["job_id"]) == ["job_1", "job_2"]
    assert "line 2" in frames.problems.loc[0, "problem"]
    # A list among the records is opened (as an NDJSON line that is an array is): each
    # of its non-objects is a problem of its own.
    frames = itf.to_frames([make_job("job_1"), ["not", "a", "job"], 7])
    assert len(frames.jobs) == 1 and len(frames.problems) == 4


def test_ids_missing_or_numeric() -> None:
    frames = itf.to_frames([make_job(jid=None), make_job(jid=12345)])  # type: ignore[arg-type]
    assert frames.jobs["job_id"].isna().sum() == 1
    assert frames.jobs["job_id"].dropna().tolist() == ["12345"]
    assert len(problems_for(frames, "job_id")) == 2


def test_simulated_history_matches_the_schema(history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history)
    assert_schema(frames)
    assert frames.problems.empty
    assert len(frames.jobs) == len(history)
    assert len(frames.tasks) == sum(len(j["tasks"]) for j in history)
    failed = frames.jobs[frames.jobs["status"] == "failed"]
    assert (failed["failed_task_count"] == 1).all()
    videos = frames.jobs[frames.jobs["kind"] == "video"]
    assert videos["media_duration_seconds"].notna().mean() > 0.8


def test_repr_and_notebook_summary(history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history)
    assert len(frames) == len(history)
    assert f"{len(history):,} jobs" in repr(frames)
    page = frames._repr_html_()
    assert page.startswith("<table>") and "problems" in page and "succeeded" in page


def careful_frames(data: bytes) -> JobFrames:
    """to_frames on the same bytes with every line on the careful (Python) path."""
    from ittybit_frames.frames._ndjson import NdjsonReader

    return itf.to_frames(data, _reader=NdjsonReader(use_sql=False))


def sorted_problems(frames: JobFrames) -> pd.DataFrame:
    return frames.problems.sort_values(list(frames.problems.columns)).reset_index(drop=True)


def test_ndjson_fast_path_equals_the_careful_path(history: list[dict[str, Any]]) -> None:
    lines = [orjson.dumps(j) for j in history]
    lines[5] = b"{broken"
    lines[9] = orjson.dumps({**history[9], "created": 1_711_900_000})  # an old alias
    lines[12] = orjson.dumps({**history[12], "created_at": "2024-03-31T10:00:00Z"})
    lines[20] = lines[20].replace(b'"progress":100', b'"progress":"100"', 1)
    lines[33] = lines[33].replace(b'"duration":', b'"duration":NaN,"x":', 1)
    lines[40] = lines[40][:-1] + b",}"  # a trailing comma: DuckDB takes it, JSON does not
    lines[41] = b""
    big = next(i for i in range(50, 99) if b'"progress":100' in lines[i])
    inf = next(i for i in range(50, 99) if b'"duration":' in lines[i] and i != big)
    lines[big] = lines[big].replace(b'"progress":100', b'"progress":123456789012345678901', 1)
    lines[inf] = lines[inf].replace(b'"duration":', b'"duration":Infinity,"y":', 1)
    lines[300] = lines[300].replace(b"job_", "jöb_".encode("latin-1"), 1)  # not UTF-8
    data = b"\n".join(lines) + b"\n" + orjson.dumps(history[3]) + b"\n"  # a duplicate
    fast = through_sql(data, block_bytes=40_000)  # several blocks
    careful = careful_frames(data)
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    pd.testing.assert_frame_equal(sorted_problems(fast), sorted_problems(careful))
    problems = " ".join(fast.problems["problem"])
    assert "line 6 is not valid JSON" in problems and "line 41 is not valid JSON" in problems
    assert "line 34 is not valid JSON" in problems and f"line {inf + 1} is not valid" in problems
    assert "line 301 is not valid JSON" in problems
    assert "progress" in set(fast.problems["column"])  # the 21-digit progress
    # Gone: broken, trailing comma, NaN, Infinity, Latin-1 and blank lines; one duplicate.
    assert len(fast.jobs) == len(history) - 6
    assert fast.jobs["extra"].notna().sum() == 1  # the `created` alias kept beside created_at


def test_ndjson_of_an_older_shape_mostly_skips_sql(history: list[dict[str, Any]]) -> None:
    from ittybit_frames.frames import _ndjson, _ndjson_blocks

    old = [{**{k: v for k, v in j.items() if k != "tasks"}, "steps": j["tasks"]} for j in history]
    data = b"".join(orjson.dumps(j) + b"\n" for j in old)
    reads = []
    read = _ndjson._read
    counted = _ndjson.NdjsonReader(
        block_bytes=20_000, read=lambda *a: reads.append(1) or read(*a), min_lines=0
    )
    fast = itf.to_frames(data, _reader=counted)
    blocks = len(list(_ndjson_blocks.blocks_of(data, 20_000)))
    assert blocks > 40 and len(reads) <= 2 + blocks // _ndjson._RETRY_EVERY + 1
    careful = careful_frames(data)
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    assert fast.jobs["created_at"].notna().all()


def test_ndjson_fast_path_with_64_bit_offsets(history: list[dict[str, Any]]) -> None:
    from ittybit_frames.frames import _ndjson, _ndjson_blocks

    data = b"".join(orjson.dumps(j) + b"\n" for j in history[:50])
    normal = through_sql(data)
    # large_block=1: as for a block with a 2 GiB line
    assert isinstance(_ndjson_blocks.line_array(data, 0, len(data), 1)[0], pa.LargeStringArray)
    # DuckDB took them
    assert not any(block.left for block in _ndjson.scan(data, 1 << 20, large_block=1))
    large = through_sql(data, large_block=1)
    pd.testing.assert_frame_equal(large.jobs, normal.jobs)
    pd.testing.assert_frame_equal(large.tasks, normal.tasks)


def test_ndjson_fast_path_takes_current_shape_lines(history: list[dict[str, Any]]) -> None:
    from ittybit_frames.frames import _ndjson

    data = b"".join(orjson.dumps(j) + b"\n" for j in history)
    blocks = list(_ndjson.scan(data, 1 << 20))
    assert sum(len(b.jobs) for b in blocks) == len(history)
    assert not any(b.left for b in blocks)
    frames = itf.to_frames(data)
    assert_schema(frames)
    assert frames.problems.empty and len(frames.tasks) == sum(len(j["tasks"]) for j in history)


def test_documented_older_shapes_go_the_fast_way(history: list[dict[str, Any]]) -> None:
    """Older field names, second and ISO timestamps, other versions' words, string
    errors and input objects are read by SQL value by value, as the careful path would."""
    import datetime as dt

    from ittybit_frames.frames import _ndjson

    def older(rec: dict[str, Any], n: int) -> dict[str, Any]:
        out = dict(rec)
        for key in ("created_at", "started_at", "finished_at", "updated_at"):
            if isinstance(out.get(key), int):
                out[key] = (
                    out[key] // 1000
                    if n % 3 == 0
                    else dt.datetime.fromtimestamp(out[key] / 1000, dt.UTC)
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z")
                    if n % 3 == 1
                    else out[key]
                )
        out["created"] = out.pop("created_at")
        out["updated"] = out.pop("updated_at")
        out["status"] = {"succeeded": "completed", "queued": "pending"}.get(
            out["status"], out["status"]
        )
        if isinstance(out.get("error"), dict):
            out["error"] = out["error"]["message"]
        return out

    old = []
    for n, job in enumerate(history):
        tasks = [older(t, n) for t in job["tasks"]]
        for t in tasks:
            t["kind"] = {"import": "ingest", "export": "upload"}.get(t["kind"], t["kind"])
        old.append({**older(job, n), "tasks": tasks})
    data = b"".join(orjson.dumps(j) + b"\n" for j in old)
    taken = sum(len(block.jobs) for block in _ndjson.scan(data, 1 << 20))
    assert taken == len(old)
    fast = through_sql(data)
    careful = careful_frames(data)
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    assert (fast.tasks["kind_raw"] == "ingest").any()


def test_subset_refuses_words_that_name_no_category(history: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(history)
    for bad in ({"kind": "vidoe"}, {"status": "faild"}):
        with pytest.raises(ValueError, match="use one of") as info:
            frames.subset(**bad)
        assert "other" in str(info.value)
    # A documented word of any version names its category; `other` is a category.
    assert len(frames.subset(status="ready")) == (frames.jobs["status"] == "succeeded").sum()
    assert len(frames.subset(kind="other")) == (frames.jobs["kind"] == "other").sum()
    odd = itf.to_frames([{"id": "j", "kind": "hologram", "tasks": []}, *history[:3]])
    assert list(odd.subset(kind_raw="hologram").jobs["job_id"]) == ["j"]


def _ndjson_scan(data: bytes) -> list[Any]:
    from ittybit_frames.frames import _ndjson

    return list(_ndjson.scan(data, 1 << 20))


@pytest.mark.parametrize("generation", ["older", "mix"])
def test_every_generation_gives_the_frames_of_the_current_one(generation: str) -> None:
    """The simulator's older-API histories are the same jobs in other words, names and
    units: both paths read them to the frames of the current shape (timestamps to the
    second where the "runs" API sent seconds; an image job's encode task is a
    ``thumbnails`` task there)."""
    current = itf.to_frames(generate_history(400, seed=9, start=DEFAULT_START))
    jobs = generate_history(400, seed=9, start=DEFAULT_START, generation=generation)
    data = b"".join(orjson.dumps(j) + b"\n" for j in jobs)
    # Value by value: SQL reads every line (older words, names, units, envelopes).
    assert sum(len(b.jobs) for b in _ndjson_scan(data)) == len(jobs)
    fast = (through_sql(jobs), through_sql(data))
    for frames in (*fast, itf.to_frames(jobs), careful_frames(data)):
        assert frames.problems.empty
        assert_schema(frames)
        for table, base, volatile in (
            (frames.jobs, current.jobs, ("kind_raw", "status_raw", "error_kind", "extra")),
            (frames.tasks, current.tasks, ("kind_raw", "status_raw", "error_kind", "extra")),
        ):
            assert list(table["job_id"]) == list(base["job_id"])
            spans = ("queue_seconds", "processing_seconds", "total_seconds")
            rounded = spans if generation == "mix" else ()  # seconds from the "runs" API
            same = [c for c in table.columns if c not in (*volatile, *rounded)]
            stamps = [c for c in same if str(table[c].dtype).startswith("datetime")]
            got, want = table[same].copy(), base[same].copy()
            for c in stamps:
                got[c], want[c] = got[c].dt.floor("s"), want[c].dt.floor("s")
            if "task_id" in table:
                thumbs = (table["kind_raw"] == "thumbnails").to_numpy()
                assert (base["kind"][thumbs] == "image").all()
                got.loc[thumbs, ["kind"]] = "image"
            pd.testing.assert_frame_equal(got, want)


def test_framerate_and_single_codec_go_the_fast_way_unless_beside_their_twin() -> None:
    from ittybit_frames.frames import _ndjson

    audio = {"object": "file", "kind": "audio", "url": "https://x/a.mp3", "codec": "mp3"}
    video = {"object": "file", "kind": "video", "url": "https://x/v.mp4", "framerate": 25.0}
    lines = [
        make_job("job_1", [make_task(0, output=audio), make_task(1, output=video)]),
        make_job("job_2", [make_task(0, output={**video, "codec": "h264"})]),
        # Beside their twins: the careful path keeps them in extra.
        make_job("job_3", [make_task(0, output={**video, "fps": 30.0})]),
        make_job("job_4", [make_task(0, output={**audio, "codecs": {"audio": "aac"}})]),
    ]
    data = b"".join(orjson.dumps(j) + b"\n" for j in lines)
    taken = [int(r) for b in _ndjson.scan(data, 1 << 20) for r in b.jobs["r"].to_pylist()]
    assert taken == [1, 2]
    fast, careful = through_sql(data), careful_frames(data)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    t = fast.tasks.set_index("job_id")
    assert t.loc["job_1", "output_codec_audio"].iloc[0] == "mp3"
    assert t.loc["job_1", "output_fps"].iloc[1] == 25.0
    assert t.loc["job_2", "output_codec_video"] == "h264" and t.loc["job_2", "output_fps"] == 25.0
    assert t.loc["job_3", "output_fps"] == 30.0 and "framerate" in t.loc["job_3", "extra"]
    assert (
        t.loc["job_4", "output_codec_audio"] == "aac" and '"codec":"mp3"' in t.loc["job_4", "extra"]
    )


def test_integers_wider_than_64_bits_stay_exact_from_ndjson() -> None:
    wide = 123456789012345678901234
    job = make_job(zz=wide, tasks=[make_task(0, output={"object": "file", "n": -(2**70)})])
    free = make_job("job_2", metadata={"big": wide})  # free-form: read by SQL
    text = json.dumps(job) + "\n" + json.dumps(free) + "\n"
    for frames in (
        itf.to_frames([job, free]),
        through_sql([job, free]),
        through_sql(text),
        through_sql(json.dumps([job, free])),
        careful_frames(text.encode()),
    ):
        assert json.loads(frames.jobs.loc[0, "extra"]) == {"zz": wide}
        assert json.loads(frames.tasks.loc[0, "extra"])["output"]["n"] == -(2**70)
        assert json.loads(frames.jobs.loc[1, "metadata"]) == {"big": wide}


def test_envelope_lines_go_the_fast_way_with_their_fields_in_extra() -> None:
    from ittybit_frames.frames import _ndjson

    meta = {"request_id": "req_1", "version": "2025-01-01", "n": 2**70}
    lines = [
        orjson.dumps(make_job("job_0")),
        b'{"meta":'
        + json.dumps(meta).encode()
        + b',"data":'
        + orjson.dumps(make_job("job_1"))
        + b',"links":{"self":"/jobs/job_1"}}',
        b'{"data":' + orjson.dumps(make_job("job_2")) + b"}",  # nothing beside data
        b'{"meta":{"x":NaN},"data":' + orjson.dumps(make_job("job_3")) + b"}",  # not JSON
        b'{"data":'
        + orjson.dumps(make_job("job_4", tasks=[make_task(0, zz=1)]))
        + b"}",  # unknown key
        orjson.dumps({"data": [make_job("job_5")]}),  # a page: the careful path
    ]
    data = b"\n".join(lines) + b"\n"
    taken = [int(r) for b in _ndjson.scan(data, 1 << 20) for r in b.jobs["r"].to_pylist()]
    assert taken == [1, 2, 3]
    fast, careful = through_sql(data), careful_frames(data)
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    pd.testing.assert_frame_equal(sorted_problems(fast), sorted_problems(careful))
    jobs = fast.jobs.set_index("job_id")
    assert list(jobs.index) == ["job_0", "job_1", "job_2", "job_4", "job_5"]
    envelope = json.loads(jobs.loc["job_1", "extra"])["envelope"]
    assert envelope == {"meta": meta, "links": {"self": "/jobs/job_1"}}
    assert pd.isna(jobs.loc["job_2", "extra"]) and pd.isna(jobs.loc["job_0", "extra"])
    assert "line 4 is not valid JSON" in " ".join(fast.problems["problem"])


_PROGRESS_SCRIPT = """
import orjson
import ittybit_frames as itf
from ittybit_frames.frames import _ndjson
from ittybit_frames.simulator import generate_history

seen = []
query = "SELECT value FROM duckdb_settings() WHERE name = 'enable_progress_bar'"

def read(con, *args):
    seen.append(con.sql(query).fetchall()[0][0])
    return _ndjson._read(con, *args)

data = b"".join(orjson.dumps(j) + b"\\n" for j in generate_history(20))
itf.to_frames(data, _reader=_ndjson.NdjsonReader(read=read, min_lines=0))
print(seen)
"""


def test_ndjson_reader_draws_no_progress_bar() -> None:
    # DuckDB draws a progress bar on stdout for a query over two seconds (seen on a
    # loaded machine). In a process of its own: under pytest DuckDB's default differs.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _PROGRESS_SCRIPT], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "['false']"


def test_parsed_records_go_the_fast_way_in_order(history: list[dict[str, Any]]) -> None:
    """Dicts (what the client returns) are read by SQL, piece by piece; a record whose
    JSON text would not stand for it (a NaN) goes the careful way in its place."""
    import math

    from ittybit_frames.frames import _ndjson

    records = copy.deepcopy(history)
    records[7]["tasks"][0]["progress"] = math.nan
    taken = []
    read = _ndjson._read

    def counted(con: Any, queries: Any, lines: Any, rows: Any) -> Any:
        table = read(con, queries, lines, rows)
        taken.append(0 if table is None else table["st"].to_pylist().count(True))
        return table

    reader = _ndjson.NdjsonReader(block_bytes=20_000, read=counted, min_records=0)
    fast = itf.to_frames(records, _reader=reader)
    assert sum(taken) == len(records) - 1 and len(taken) > 10  # in pieces
    careful = itf.to_frames(records, _reader=_ndjson.NdjsonReader(use_sql=False))
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    pd.testing.assert_frame_equal(sorted_problems(fast), sorted_problems(careful))
    assert list(fast.jobs["job_id"]) == list(dict.fromkeys(r["id"] for r in records))
    assert "progress" in set(fast.problems["column"])


def test_few_records_skip_duckdb_and_many_take_it(history: list[dict[str, Any]]) -> None:
    """DuckDB's start costs more than the careful path takes for a few records: below
    ``min_records`` parsed records (a page counting its records) and ``min_lines`` NDJSON
    lines, DuckDB is not started; from there on it reads them."""
    from ittybit_frames.frames import _ndjson

    passes = []

    def read(*args: Any) -> Any:
        passes.append(1)
        return _ndjson._read(*args)

    jobs = history[:20]
    data = b"".join(orjson.dumps(j) + b"\n" for j in jobs)
    page = [{"meta": {"page": 1}, "data": jobs}]  # one record that stands for 20 jobs
    for source in (jobs, data, page):
        careful = itf.to_frames(source, _reader=_ndjson.NdjsonReader(use_sql=False))
        for knob in (21, 20):
            reader = _ndjson.NdjsonReader(read=read, min_records=knob, min_lines=knob)
            assert_same(itf.to_frames(source, _reader=reader), careful)
            assert len(passes) == (knob == 20), (type(source), knob)
            passes.clear()
    default = _ndjson.NdjsonReader(read=read)
    assert default.min_records > len(jobs) and default.min_lines > len(jobs)
    itf.to_frames(jobs, _reader=default)
    itf.to_frames(data, _reader=default)
    assert passes == []
