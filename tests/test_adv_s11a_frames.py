"""Adversarial pass (session 11): numpy scalars read by the careful path as the numbers
they are, as the dict fast route and issue 14 point 4 read them."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import ittybit_frames as itf
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history
from tests.test_frames_properties import assert_same, through_sql

HISTORY = generate_history(6, seed=21)
CAREFUL = NdjsonReader(use_sql=False)


def _with_codec(value: Any) -> dict[str, Any]:
    job = copy.deepcopy(HISTORY[0])
    job["tasks"][0].setdefault("output", {}).setdefault("codecs", {})["video"] = value
    return job


@pytest.mark.parametrize("value", [np.int64(5), np.float64(2.5), np.str_("h264")])
def test_a_numpy_scalar_codec_is_its_value_on_the_careful_path(value: Any) -> None:
    careful = itf.to_frames([_with_codec(value)], _reader=CAREFUL)
    plain = itf.to_frames([_with_codec(value.item())], _reader=CAREFUL)
    assert len(careful.problems) == len(plain.problems)
    column = "output_codec_video"
    assert careful.tasks[column].tolist() == plain.tasks[column].tolist()
    assert_same(through_sql([_with_codec(value)], must_read=False), careful)


def test_numpy_numbers_among_text_in_a_number_column_are_numbers() -> None:
    """A column that goes the value-by-value way (a number written as text beside it)
    reads numpy numbers as numbers, not as problems."""
    jobs = copy.deepcopy(HISTORY[:3])
    for job, size, fps in zip(
        jobs,
        [np.int64(5), "6", np.int32(7)],
        [np.float64(1.5), "2.5", np.float32(3.0)],
        strict=True,
    ):
        job["tasks"][0].setdefault("output", {}).update(filesize=size, fps=fps)
    frames = itf.to_frames(copy.deepcopy(jobs), _reader=CAREFUL)
    tasks = frames.tasks.set_index("task_id")
    ids = [j["tasks"][0]["id"] for j in jobs]
    assert [int(tasks.loc[i, "output_filesize_bytes"]) for i in ids] == [5, 6, 7]
    assert [float(tasks.loc[i, "output_fps"]) for i in ids] == [1.5, 2.5, 3.0]
    assert frames.problems.empty
