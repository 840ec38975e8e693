"""Session 9's input defect (3): a text-mode handle of a gzip file. ``gzip.open(p, "rt")``
is valid NDJSON text and reads; ``open(p, "r")`` of the gzip bytes is one line saying to
open the file in binary mode or pass its path (it was a UnicodeDecodeError traceback),
and so is the same file decoded as Latin-1 (which decodes, into text that is no JSON)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

import ittybit_frames as itf
from tests.frames_equal import assert_frame_equal
from tests.test_lake_safety import records


@pytest.fixture
def gz(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.ndjson.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(r) for r in records("g", 3))))
    return path


def one_line_saying_binary(exc: pytest.ExceptionInfo[ValueError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "binary mode" in text and "path" in text, text
    assert not isinstance(exc.value, UnicodeError), repr(exc.value)
    context = exc.value.__context__ is None or exc.value.__suppress_context__
    assert exc.value.__cause__ is None and context, repr(exc.value)
    return text


def test_a_gzip_text_handle_reads_as_the_path_does(gz: Path) -> None:
    with gzip.open(gz, "rt", encoding="utf-8") as handle:
        frames = itf.to_frames(handle)
    want = itf.to_frames(gz)
    assert len(frames.jobs) == 3 and frames.problems.empty
    assert_frame_equal(frames.jobs, want.jobs)
    assert_frame_equal(frames.tasks, want.tasks)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_text_handle_of_gzip_bytes_is_one_line_saying_open_it_in_binary(
    gz: Path, encoding: str
) -> None:
    """Why: ``open(p, "r")`` raised UnicodeDecodeError from inside ``read()`` (a
    traceback), and a Latin-1 handle gave no jobs and five problem rows."""
    with open(gz, encoding=encoding) as handle, pytest.raises(ValueError) as exc:
        itf.to_frames(handle)
    text = one_line_saying_binary(exc)
    assert "are gzip-compressed" in text, text


def test_a_text_handle_of_text_in_another_encoding_is_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "jobs.ndjson"
    path.write_bytes(orjson.dumps(records("u", 1)[0]).decode().encode("utf-16"))
    with open(path, encoding="utf-8") as handle, pytest.raises(ValueError) as exc:
        itf.to_frames(handle)
    text = one_line_saying_binary(exc)
    assert "are gzip-compressed" not in text and "not UTF-8 text" in text, text
    assert len(itf.to_frames(path).jobs) == 1  # the path reads (the mark says UTF-16)
