"""Session 13's memory work on stage_breakdown keeps its output identical.

Job IDs in Arrow chunks are compared chunk by chunk (no joined copy), a plain float64
``processing_seconds`` is read in place with only the succeeded rows copied, and the
typical shares are worked out one stage at a time. Each route must give what the plain
reference gives, exactly.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ittybit_frames import metrics
from tests.test_speed_s11_metrics import reference_stage_breakdown, task_frames


def _in_chunks(ids: list[str], cuts: list[int]) -> pd.arrays.ArrowStringArray:
    """The IDs as an Arrow array in chunks cut at ``cuts`` (empty chunks included)."""
    bounds = [0, *sorted(min(c, len(ids)) for c in cuts), len(ids)]
    chunks = [pa.array(ids[a:b], pa.large_string()) for a, b in itertools.pairwise(bounds)]
    return pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string()))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task_frames(),
    st.sampled_from(["job_kind", None]),
    st.lists(st.integers(0, 30), max_size=4),
)
def test_chunked_ids_and_plain_float_seconds_give_the_reference(
    tasks: pd.DataFrame, by: str | None, cuts: list[int]
) -> None:
    ids = [str(v) for v in tasks["job_id"]]
    plain = tasks.assign(
        job_id=pd.Series(_in_chunks(ids, cuts), index=tasks.index),
        processing_seconds=tasks["processing_seconds"].astype("float64"),  # NA as NaN
    )
    assert plain["processing_seconds"].dtype == "float64"
    got = metrics.stage_breakdown(plain, by=by)
    want = reference_stage_breakdown(tasks, by)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_a_run_of_one_job_across_a_chunk_boundary_is_one_job() -> None:
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    ids = ["job_a", "job_a", "job_a", "job_b", "job_b"]
    tasks = pd.DataFrame(
        {
            "job_id": pd.Series(_in_chunks(ids, [2, 2, 4])),
            "kind": pd.Categorical(["probe", "video", "export", "probe", "audio"]),
            "processing_seconds": [1.0, float("nan"), 3.0, 4.0, 5.0],
            "finished_at": [t0 + pd.Timedelta(seconds=10 * (i + 1)) for i in range(5)],
            "job_created_at": [t0] * 5,
            "job_status": pd.Categorical(["succeeded"] * 5),
            "job_kind": pd.Categorical(["video"] * 3 + ["audio"] * 2),
        }
    ).astype({"finished_at": "datetime64[ms, UTC]", "job_created_at": "datetime64[ms, UTC]"})
    got = metrics.stage_breakdown(tasks)
    assert got.groupby("job_kind", observed=True)["jobs"].first().to_dict() == {
        "audio": 1,
        "video": 1,
    }
    probe = got[(got["job_kind"] == "video") & (got["stage"] == "probe")]
    assert probe["seconds"].tolist() == [1.0]
    pd.testing.assert_frame_equal(got, reference_stage_breakdown(tasks, "job_kind"))
