"""The schema module is the single source of truth; README and CLI follow it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ittybit_frames.cli import main
from ittybit_frames.schema import JOBS, PROVISIONAL, TASKS, data_dictionary

README = Path(__file__).resolve().parents[1] / "README.md"


def test_column_order_is_the_contract() -> None:
    assert JOBS.names == [
        "job_id",
        "kind",
        "kind_raw",
        "status",
        "status_raw",
        "input_url",
        "output_url",
        "options",
        "metadata",
        "error_kind",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
        "queue_seconds",
        "processing_seconds",
        "total_seconds",
        "task_count",
        "failed_task_count",
        "media_duration_seconds",
        "extra",
    ]
    assert TASKS.names == [
        "job_id",
        "task_id",
        "task_index",
        "kind",
        "kind_raw",
        "status",
        "status_raw",
        "progress",
        "input_url",
        "input_kind",
        "input_format",
        "input_width",
        "input_height",
        "input_duration_seconds",
        "input_codec_video",
        "input_codec_audio",
        "input_filesize_bytes",
        "input_bitrate",
        "input_fps",
        "output_url",
        "output_kind",
        "output_format",
        "output_width",
        "output_height",
        "output_duration_seconds",
        "output_codec_video",
        "output_codec_audio",
        "output_filesize_bytes",
        "output_bitrate",
        "output_fps",
        "options",
        "error_kind",
        "error_message",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
        "queue_seconds",
        "processing_seconds",
        "total_seconds",
        "job_kind",
        "job_status",
        "job_created_at",
        "extra",
    ]


def test_timestamps_are_milliseconds_utc_never_ns() -> None:
    for table in (JOBS, TASKS):
        for column in table.columns:
            if column.name.endswith("_at"):
                assert str(column.arrow) == "timestamp[ms, tz=UTC]"
                assert str(column.dtype) == "datetime64[ms, UTC]"


def test_readme_carries_the_generated_dictionary() -> None:
    text = README.read_text()
    start = text.index("<!-- data-dictionary:start -->\n") + len("<!-- data-dictionary:start -->\n")
    end = text.index("<!-- data-dictionary:end -->")
    assert text[start:end] == data_dictionary(), (
        "README data dictionary is stale: paste the output of `ittybit-frames schema`"
    )


def test_cli_prints_both_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == data_dictionary()
    assert main(["schema", "--format", "json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    jobs = [c["column"] for c in parsed["tables"]["jobs"]]
    assert jobs == [*JOBS.names, PROVISIONAL.name]
    kinds = next(c for c in parsed["tables"]["tasks"] if c["column"] == "kind")
    assert "probe" in kinds["categories"] and kinds["type"] == "category"
