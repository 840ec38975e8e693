"""Conformance: ittybit's published examples and the official SDKs' wire-test payloads.

Each file in ``tests/data/conformance`` is ``{"source", "notes", "payload"}`` (see the
README there). Through ``to_frames``, as parsed objects, as JSON text and as NDJSON:
no value is lost (every leaf is in a column, in ``extra``, or in ``problems``), no
documented kind or status is mapped to ``other``, and the durations are the documented
ones.

Where the folder's README expects otherwise, this test follows one rule: a top-level
record is a row of ``jobs`` (in G2-G4 the top-level record is itself a task, so a
standalone task's input file has no ``input_*`` columns: its values are in
``extra`` under ``input.*``, and its duration is ``media_duration_seconds``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames.frames._ndjson import NdjsonReader
from tests.accounting import leaves, lost
from tests.frames_equal import assert_frame_equal

DATA = Path(__file__).parent / "data" / "conformance"
FILES = sorted(DATA.glob("*.json"))

#: Every kind and status word the research found in any version (vocabulary.md).
DOCUMENTED_KINDS = {
    "adaptive_video",
    "animation",
    "audio",
    "chapters",
    "conditions",
    "describe",
    "description",
    "export",
    "http",
    "image",
    "import",
    "ingest",
    "nsfw",
    "outline",
    "probe",
    "prompt",
    "speech",
    "store",
    "subtitles",
    "summary",
    "tags",
    "thumbnails",
    "upload",
    "video",
    "workflow",
}
DOCUMENTED_STATUSES = {
    "cancelled",
    "completed",
    "error",
    "failed",
    "finishing",
    "pending",
    "processing",
    "queued",
    "ready",
    "succeeded",
    "validating",
    "waiting",
}


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())["payload"]


def forms(payload: Any) -> dict[str, Any]:
    """The payload as parsed objects, as JSON text, and (a list) as NDJSON."""
    out: dict[str, Any] = {"objects": payload, "json": json.dumps(payload, indent=2).encode()}
    if isinstance(payload, list) and len(payload) > 1:
        out["ndjson"] = ("\n".join(json.dumps(r) for r in payload) + "\n").encode()
    return out


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_value_kept_and_every_word_known(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["source"] and "payload" in doc
    payload = doc["payload"]
    reference = itf.to_frames(payload)
    assert lost(payload, reference) == []
    for table in (reference.jobs, reference.tasks):
        documented = table["kind_raw"].isin(DOCUMENTED_KINDS)
        assert (table.loc[documented, "kind"] != "other").all()
        documented = table["status_raw"].isin(DOCUMENTED_STATUSES)
        assert (table.loc[documented, "status"] != "other").all()
    for name, data in forms(payload).items():
        # min_lines, min_records=0: a few go the careful way by default.
        for reader in (NdjsonReader(min_lines=0, min_records=0), NdjsonReader(use_sql=False)):
            frames = itf.to_frames(data, _reader=reader)
            assert_frame_equal(frames.jobs, reference.jobs, obj=name)
            assert_frame_equal(frames.tasks, reference.tasks, obj=name)
            assert len(frames.problems) == len(reference.problems), name


def one(name: str) -> itf.JobFrames:
    return itf.to_frames(load(name))


def extra(row: pd.Series) -> dict[str, Any]:
    return {".".join(p): v for p, v in leaves(json.loads(row["extra"]))}


def test_g5_job() -> None:
    frames = one("docs_g5_job")
    job, task = frames.jobs.iloc[0], frames.tasks.iloc[0]
    assert (job["job_id"], job["kind"], job["status"]) == ("job_abc123", "video", "succeeded")
    assert (job["total_seconds"], job["processing_seconds"]) == (45.0, 44.0)
    assert job["created_at"] == pd.Timestamp("2024-03-31T15:46:40Z")
    assert job["input_url"] == "https://example.com/video.mp4"
    assert job["media_duration_seconds"] == 62.5
    assert (task["kind"], task["status"]) == ("probe", "succeeded")
    assert (task["total_seconds"], task["processing_seconds"]) == (5.0, 4.0)
    assert pd.isna(task["progress"])
    assert (task["output_width"], task["output_height"]) == (1920, 1080)
    assert extra(task)["input.object"] == "external_file"
    assert frames.problems.empty


def test_staging_task_with_steps() -> None:
    frames = one("docs_staging_task_with_steps")
    job, step = frames.jobs.iloc[0], frames.tasks.iloc[0]
    assert (job["total_seconds"], step["total_seconds"]) == (45.0, 5.0)
    assert job["media_duration_seconds"] == 62.5
    assert (step["task_id"], step["kind"]) == ("step_001", "probe")
    assert extra(step)["output.object"] == "source"


def test_g5_task_create_requests_have_input_values() -> None:
    frames = one("docs_g5_task_create_requests")
    assert list(frames.jobs["kind"]) == ["probe", "video", "export"]
    assert frames.jobs["job_id"].isna().all()
    assert set(frames.problems["column"]) >= {"job_id", "status"}
    video = extra(frames.jobs.iloc[1])
    assert video["input.width"] == 1920 and video["input.codecs.video"] == "h264"
    assert frames.jobs.loc[1, "media_duration_seconds"] == 62.5


def test_g4_task_list_seconds_and_codec_objects() -> None:
    frames = one("docs_g4_task_list")
    task = frames.jobs.iloc[0]
    assert (task["kind"], task["status_raw"], task["status"]) == ("video", "ready", "succeeded")
    assert (task["total_seconds"], task["processing_seconds"]) == (15.0, 14.0)
    assert task["media_duration_seconds"] == 124.5
    kept = extra(task)
    assert kept["input.codecs.video.profile"] == "high"
    assert kept["input.codecs.video.level"] == "4.0"
    assert kept["input.codecs.audio.sample_rate"] == 48000
    assert kept["input.kind"] == "url" and kept["input.width"] == 1920
    assert kept["created_by"] == "run_5xQ9wKp3vN"


def test_g4_run_list_tasks_and_absent_kind() -> None:
    frames = one("docs_g4_run_list")
    run = frames.jobs.iloc[0]
    assert run["job_id"] == "run_5xQ9wKp3vN" and pd.isna(run["kind_raw"])
    assert (run["total_seconds"], run["processing_seconds"]) == (15.0, 14.0)
    assert list(frames.tasks["kind"]) == ["video", "image"]
    assert (frames.tasks["status"] == "succeeded").all()
    assert (frames.tasks["progress"] == 100).all()


def test_g4_run_unfinished_has_no_durations() -> None:
    run = one("docs_g4_run").jobs.iloc[0]
    assert run["status"] == "processing" and math.isnan(run["total_seconds"])


def test_events_are_their_task() -> None:
    for name, kind in (("docs_g4_event", "video"), ("docs_g4_webhook_event", "speech")):
        frames = one(name)
        task = frames.jobs.iloc[0]
        assert task["job_id"].startswith("task_") and task["kind"] == kind
        assert task["status"] == "succeeded"
        assert extra(task)["envelope.object"] == "event"


def test_error_bodies_are_problems_not_rows() -> None:
    for name in ("docs_g4_error", "docs_g3_error_message"):
        frames = one(name)
        assert frames.jobs.empty and list(frames.problems["column"]) == ["record"]
        with pytest.raises(itf.SchemaError):
            itf.to_frames(load(name), strict=True)


def test_g3_tasks_iso_and_envelopes() -> None:
    bare = one("docs_g3_task_get").jobs
    for name in ("docs_g3_task_get_envelope", "docs_g3_task_list"):
        frames = one(name)
        pd.testing.assert_series_equal(
            frames.jobs.drop(columns="extra").iloc[0], bare.drop(columns="extra").iloc[0]
        )
    task = bare.iloc[0]
    assert task["created_at"] == pd.Timestamp("2025-01-01T01:23:45Z")
    assert task["updated_at"] == pd.Timestamp("2025-01-01T01:23:46Z")
    assert task["media_duration_seconds"] == 123.45
    listed = one("docs_g3_task_list")
    assert list(listed.problems["column"]) == ["record"]  # the "... 19 more" string
    speech = one("docs_g3_task_speech_pending").jobs.iloc[0]
    assert (speech["kind"], speech["status"]) == ("speech", "queued")
    assert speech["created_at"] == pd.Timestamp("2025-01-01T01:23:45.678Z")


def test_g3_nsfw_webhook_keeps_its_completed_time() -> None:
    task = one("docs_g3_webhook_nsfw").jobs.iloc[0]
    assert task["kind"] == "nsfw" and task["status"] == "succeeded"
    # `completed` is not a documented finish-time field: kept, not guessed.
    assert extra(task)["completed"] == "2025-01-10T12:35:22Z"


def test_g2_envelopes_without_kind() -> None:
    for name in ("docs_g2_task_list_20240821", "docs_g2_task_list_20240321"):
        task = one(name).jobs.iloc[0]
        assert task["job_id"] == "tsk_abcdefgh1234" and pd.isna(task["kind_raw"])
        assert task["status_raw"] == "ready" and task["input_url"] == "med_abcdefgh1234"
        assert task["created_at"] == pd.Timestamp("2024-03-30T13:00:00Z")
        assert extra(task)["output.filename"] == "poster.jpg"


def test_sdk_payloads() -> None:
    frames = one("sdk_ts_task_list_envelope")
    assert list(frames.jobs["kind_raw"]) == ["image", "ingest"]
    assert list(frames.jobs["kind"]) == ["image", "import"]
    assert list(frames.jobs["error_message"]) == ["error", "error"]
    assert extra(frames.jobs.iloc[0])["envelope.meta.total"] == 100
    got = one("sdk_ts_task_get_envelope").jobs.iloc[0]
    assert extra(got)["envelope.error.message"] == "message"
    plain = one("sdk_ts_task_get").jobs.iloc[0]
    assert plain["media_duration_seconds"] == 123.45
    created = one("sdk_ts_task_create").jobs.iloc[0]
    assert created["status"] == "queued" and created["created_at"] == created["updated_at"]


def test_files_and_media_are_not_read_silently() -> None:
    for name in ("sdk_ts_file_list", "docs_g3_media_object", "docs_g3_media_list_envelope"):
        frames = one(name)
        assert "object" in set(frames.problems["column"]), name
