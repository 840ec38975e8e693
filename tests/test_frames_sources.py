"""What a user hands to_frames besides records and text: a path, an open file, gzip bytes.
Each was taken for records and gave 0 jobs (a file object: one 'not a JSON object'
problem per line; gzip: one 'not valid JSON' per line) or a TypeError."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history
from tests.frames_equal import assert_frame_equal

HISTORY = generate_history(8, seed=13)
NDJSON = "".join(json.dumps(job) + "\n" for job in HISTORY)
REFERENCE = itf.to_frames(HISTORY)


def _same(frames: itf.JobFrames) -> None:
    assert_frame_equal(frames.jobs, REFERENCE.jobs)
    assert_frame_equal(frames.tasks, REFERENCE.tasks)
    assert frames.problems.empty


def _gzip_members(data: bytes) -> bytes:
    half = len(data) // 2
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


SOURCES: dict[str, Any] = {
    "binary file": lambda tmp: io.BytesIO(NDJSON.encode()),
    "text file": lambda tmp: io.StringIO(NDJSON),
    "gzip bytes": lambda tmp: gzip.compress(NDJSON.encode()),
    "gzip of two members": lambda tmp: _gzip_members(NDJSON.encode()),
    "gzip of a JSON array": lambda tmp: gzip.compress(json.dumps(HISTORY).encode()),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_each_source_gives_the_records_frames(source: str, tmp_path: Path) -> None:
    _same(itf.to_frames(SOURCES[source](tmp_path)))


@pytest.mark.parametrize("name", ["export.ndjson", "export.ndjson.gz"])
def test_a_path_is_read(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    data = NDJSON.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    _same(itf.to_frames(path))
    with path.open("rb") as handle:  # an open file, as open() gives it
        _same(itf.to_frames(handle))


def test_a_missing_path_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        itf.to_frames(tmp_path / "nope.ndjson")
    assert "nope.ndjson" in str(caught.value) and "\n" not in str(caught.value)


def test_cut_gzip_is_one_line_saying_so() -> None:
    data = gzip.compress(NDJSON.encode())[:-20]
    with pytest.raises(ValueError, match="gzip") as caught:
        itf.to_frames(data)
    assert "\n" not in str(caught.value)


def test_a_plain_string_is_still_text_not_a_path(tmp_path: Path) -> None:
    # A str is JSON text, as before; only a path object is opened.
    (tmp_path / "x").write_text(NDJSON)
    with pytest.raises(ValueError, match="not valid JSON"):
        itf.to_frames(str(tmp_path / "x"))


def test_a_folder_is_one_line_saying_what_to_pass(tmp_path: Path) -> None:
    # A lake is a folder: IsADirectoryError named it but not what to do.
    with pytest.raises(ValueError, match="read_parquet") as caught:
        itf.to_frames(tmp_path)
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)
