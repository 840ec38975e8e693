"""``realtime_factor`` against a plain reference: encode time over media duration, rows
without a usable ratio (no duration, zero duration, negative) left out, per group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ittybit_frames as itf
from ittybit_frames import metrics
from ittybit_frames.metrics._common import ENCODE_KINDS
from ittybit_frames.simulator import generate_history
from tests.frames_equal import assert_frame_equal


@pytest.fixture(scope="module")
def frames() -> itf.JobFrames:
    return itf.to_frames(
        generate_history(3000, seed=21, start=pd.Timestamp("2026-03-01", tz="UTC"))
    )


def reference(rows: pd.DataFrame, media: str, by: str) -> pd.DataFrame:
    ratio = (rows["processing_seconds"] / rows[media]).replace([np.inf, -np.inf], np.nan)
    usable = rows.assign(r=ratio)[ratio.notna() & (ratio >= 0)]
    grouped = usable.groupby(usable[by].astype("string"))["r"]
    return pd.DataFrame(
        {"count": grouped.size(), "mean": grouped.mean(), "p50": grouped.quantile(0.5)}
    )


@pytest.mark.parametrize("by", [None, "status"])
def test_tasks_and_jobs_match_the_reference(frames: itf.JobFrames, by: str | None) -> None:
    tasks = frames.tasks.copy()
    encode = tasks.index[tasks["kind"].astype("string").isin(ENCODE_KINDS)]
    # Odd rows: a zero duration (inf), a negative time, a missing duration.
    tasks.loc[encode[0], "output_duration_seconds"] = 0.0
    tasks.loc[encode[1], "processing_seconds"] = -1.0
    tasks.loc[encode[2], "output_duration_seconds"] = np.nan
    before = tasks.copy()
    for frame, media, rows in (
        (tasks, "output_duration_seconds", tasks.loc[encode]),
        (frames.jobs, "media_duration_seconds", frames.jobs),
    ):
        key = by or "kind"
        got = metrics.realtime_factor(frame, by=by).set_index(key)
        want = reference(rows, media, key)
        assert sorted(got.index.astype(str)) == sorted(want.index)
        want = want.loc[list(got.index.astype(str))]
        assert got["count"].tolist() == want["count"].tolist()
        np.testing.assert_allclose(got["mean"], want["mean"])
        np.testing.assert_allclose(got["p50"], want["p50"])
        assert "realtime_factor" not in frame.columns
    assert_frame_equal(tasks, before)  # the caller's frame unchanged
