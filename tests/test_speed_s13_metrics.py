"""Session 13's memory work on stage_breakdown keeps its output identical.

Job IDs in Arrow chunks are compared chunk by chunk (no joined copy), a plain float64
``processing_seconds`` is read in place with only the succeeded rows copied, and the
typical shares are worked out one stage at a time. Each route must give what the plain
reference gives, exactly.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ittybit_frames import metrics
from tests.frames_equal import assert_frame_equal
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
    assert_frame_equal(got, want, check_exact=True)


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
    assert_frame_equal(got, reference_stage_breakdown(tasks, "job_kind"))


def _reference_peak(jobs: pd.DataFrame, as_of: pd.Timestamp | None) -> dict[str, object]:
    """The peak as it was worked out before: queued and processing counted at every
    event (each arrival and each start up to the horizon), the first largest sum."""
    ms = {
        c: jobs[c].astype("datetime64[ms, UTC]")
        for c in ("created_at", "started_at", "finished_at")
    }
    rows = ms["created_at"].notna()
    created, started, finished = (
        ms[c][rows].to_numpy(dtype="datetime64[ms]").astype("int64").astype(float) for c in ms
    )
    best: dict[str, object] = {"in_flight": 0, "at": pd.NaT, "queued": 0, "processing": 0}
    if not len(created):
        return best
    nat = float(np.iinfo(np.int64).min)
    started[started == nat] = np.nan
    finished[finished == nat] = np.nan
    horizon = (
        float(as_of.value // 1_000_000)
        if as_of is not None
        else float(np.nanmax(np.concatenate([created, started, finished])))
    )
    events = sorted({float(t) for t in [*created, *started] if not np.isnan(t) and t <= horizon})
    top = None
    for t in events:
        queued = processing = 0
        for c, s, f in zip(created, started, finished, strict=True):
            q_end = s if not np.isnan(s) else (f if not np.isnan(f) else np.inf)
            r_end = f if not np.isnan(f) else np.inf
            queued += int(c <= t) - int(q_end <= t)
            if not np.isnan(s):
                processing += int(s <= t) - int(r_end <= t)
        if top is None or queued + processing > top:
            top = queued + processing
            at = pd.Timestamp(t, unit="ms", tz="UTC")
            best = {"in_flight": top, "at": at, "queued": queued, "processing": processing}
    return best


_MINUTE = st.one_of(st.none(), st.integers(0, 40))


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), _MINUTE, _MINUTE), max_size=12),
    st.one_of(st.none(), st.integers(0, 45)),
)
def test_in_flight_peak_is_the_first_largest_sum_over_every_event(
    spans: list[tuple[int, int | None, int | None]], as_of: int | None
) -> None:
    """Any order of times (a start before its arrival, a finish before its start), gaps,
    a horizon before some events: the peak found with two counts is the one found with
    the four counts at every event."""
    t0 = pd.Timestamp("2026-01-01", tz="UTC")

    def at(minute: int | None) -> pd.Timestamp | None:
        return None if minute is None else t0 + pd.Timedelta(minutes=minute)

    jobs = pd.DataFrame(
        {
            "created_at": [at(c) for c, _, _ in spans],
            "started_at": [at(s) for _, s, _ in spans],
            "finished_at": [at(f) for _, _, f in spans],
        },
        dtype="datetime64[ms, UTC]",
    )
    horizon = None if as_of is None else at(as_of)
    got = metrics.in_flight(jobs, freq="1min", as_of=horizon).attrs["peak"]
    assert got == _reference_peak(jobs, horizon)
