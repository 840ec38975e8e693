"""Adversarial pass on session 13's metric changes (d9e1aab stage_breakdown, 4b011c2 in_flight).

Each result is compared with a plain reference written here (loops over jobs and
events), on job IDs in every storage pandas offers (Arrow chunks with empty chunks and
runs across boundaries, IDs repeated apart, object, categorical, nulls), odd durations
(NaN, negative, infinite, NaT), odd timelines (NaT, finish before start, one instant,
time zones, ``as_of``), and a lake read back in chunks against the frames it came from.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames import metrics
from ittybit_frames.metrics._common import ENCODE_KINDS
from tests.frames_equal import assert_frame_equal

T0 = pd.Timestamp("2026-01-01", tz="UTC")
KINDS = ["probe", "import", "video", "audio", "export", "speech", "other"]
STAGES = ("probe", "import", "encode", "export", "waiting")
END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


# --- stage_breakdown -------------------------------------------------------------------


def plain_stage_breakdown(tasks: pd.DataFrame, by: str | None) -> dict[tuple[str, str], tuple]:
    """The documented definition, one task at a time: {(group, stage): (seconds, share,
    typical_share, jobs)} for succeeded jobs (tasks without a job ID or group left out)."""
    stage_of = {"probe": 0, "import": 1, "export": 3, **dict.fromkeys(ENCODE_KINDS, 2)}
    per_job: dict[Any, dict[str, Any]] = {}
    for row in tasks.itertuples(index=False):
        group = "all" if by is None else getattr(row, by)
        if str(row.job_status) != "succeeded" or pd.isna(row.job_id) or pd.isna(group):
            continue
        job = per_job.setdefault(
            row.job_id, {"group": str(group), "end": None, "stages": [0.0] * 4}
        )
        job["created"] = row.job_created_at  # (the last task's, if they differ)
        if pd.notna(row.finished_at) and (job["end"] is None or row.finished_at > job["end"]):
            job["end"] = row.finished_at
        stage = -1 if pd.isna(row.kind) else stage_of.get(str(row.kind), -1)
        secs = row.processing_seconds
        if stage >= 0:
            job["stages"][stage] += 0.0 if pd.isna(secs) else float(secs)
    out: dict[tuple[str, str], tuple] = {}
    for group in sorted({j["group"] for j in per_job.values()}):
        mine = [j for j in per_job.values() if j["group"] == group]
        totals = []
        shares = []
        for j in mine:
            total = 0.0
            if j["end"] is not None and pd.notna(j["created"]):
                total = (j["end"] - j["created"]).total_seconds()
            total = total if math.isfinite(total) else 0.0
            totals.append(total)
            cells = [*j["stages"], max(total - sum(j["stages"]), 0.0)]
            whole = sum(cells)
            if whole and all(math.isfinite(c / whole) for c in cells):
                shares.append([c / whole for c in cells])
        typical = [math.nan] * 5
        if shares:
            median = np.median(np.array(shares), axis=0)
            typical = list(median / median.sum() if median.sum() else median)
        stage_sums = [sum(j["stages"][k] for j in mine) for k in range(4)]
        values = [*stage_sums, sum(totals) - sum(stage_sums)]
        for k, name in enumerate(STAGES):
            share = values[k] / sum(totals) if sum(totals) else math.nan
            out[(group, name)] = (values[k], share, typical[k], len(mine))
    return out


def as_plain(result: pd.DataFrame, by: str | None) -> dict[tuple[str, str], tuple]:
    return {
        ("all" if by is None else str(getattr(r, by)), r.stage): (
            r.seconds,
            r.share,
            r.typical_share,
            r.jobs,
        )
        for r in result.itertuples(index=False)
    }


def assert_close(got: dict[tuple[str, str], tuple], want: dict[tuple[str, str], tuple]) -> None:
    assert got.keys() == want.keys()
    for key, values in want.items():
        assert got[key][3] == values[3], key
        for a, b in zip(got[key][:3], values[:3], strict=True):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-9), (
                key
            )


def _tasks(ids: list[Any], **columns: Any) -> pd.DataFrame:
    n = len(ids)
    finished = columns.get("finished", [10 * (i + 1) for i in range(n)])
    return pd.DataFrame(
        {
            "job_id": ids,
            "kind": pd.Categorical(columns.get("kind", (KINDS * n)[:n])),
            "processing_seconds": columns.get("seconds", [float(i + 1) for i in range(n)]),
            "finished_at": pd.Series(
                [None if f is None else T0 + pd.Timedelta(seconds=f) for f in finished],
                dtype="datetime64[ms, UTC]",
            ),
            "job_created_at": pd.Series([T0] * n, dtype="datetime64[ms, UTC]"),
            "job_status": pd.Categorical(columns.get("status", ["succeeded"] * n)),
            "job_kind": pd.Categorical(columns.get("job_kind", ["video"] * n)),
        }
    )


def _chunked(ids: list[str | None], cuts: list[int], kind: pa.DataType) -> pd.Series:
    bounds = [0, *sorted(min(c, len(ids)) for c in cuts), len(ids)]
    chunks = [pa.array(ids[a:b], kind) for a, b in itertools.pairwise(bounds)]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, kind)))


def _id_variants(ids: list[str | None], cuts: list[int]) -> dict[str, pd.Series]:
    present = sorted({i for i in ids if i is not None})
    return {
        "object": pd.Series(ids, dtype=object),
        "str": pd.Series(ids, dtype="str"),
        "string[pyarrow]": pd.Series(ids, dtype="string[pyarrow]"),
        "string[python]": pd.Series(ids, dtype="string[python]"),
        "ArrowDtype": pd.Series(ids, dtype=pd.ArrowDtype(pa.string())),
        "categorical": pd.Series(pd.Categorical(ids, categories=["zz", *present[::-1], "yy"])),
        "chunks": _chunked(ids, cuts, pa.string()),
        "large chunks": _chunked(ids, cuts, pa.large_string()),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["j1", "j2", "j3", "job_x", ""])),
            st.sampled_from([*KINDS, None]),
            st.one_of(st.none(), st.just(math.nan), st.floats(-100, 1000)),
            st.one_of(st.none(), st.integers(-50, 5000)),
            st.sampled_from(["succeeded", "succeeded", "failed"]),
            st.sampled_from(["video", "audio"]),
        ),
        max_size=14,
    ),
    st.lists(st.integers(0, 14), max_size=5),
    st.sampled_from(["job_kind", None]),
    st.integers(0, 2**32 - 1),
)
def test_every_id_storage_gives_the_plain_definition(
    rows: list[tuple[Any, ...]], cuts: list[int], by: str | None, seed: int
) -> None:
    """IDs repeated apart, runs across chunk boundaries, empty chunks, nulls, the empty
    string; NaN / negative seconds, NaT finishes, failed jobs: every storage agrees with
    the plain definition, and with each other exactly."""
    ids = [r[0] for r in rows]
    # A job is succeeded or not as a whole, and of one kind, as in the API's data.
    status = {i: s for i, _, _, _, s, _ in rows}
    job_kind = {i: k for i, _, _, _, _, k in rows}
    tasks = _tasks(
        ids,
        kind=[r[1] for r in rows],
        seconds=[np.nan if r[2] is None else r[2] for r in rows],
        finished=[r[3] for r in rows],
        status=[status[i] for i in ids],
        job_kind=[job_kind[i] for i in ids],
    )
    tasks.index = np.random.default_rng(seed).permutation(len(tasks)) + 7  # not 0..n-1
    first = None
    for name, series in _id_variants(ids, cuts).items():
        frame = tasks.assign(job_id=series.set_axis(tasks.index))
        got = metrics.stage_breakdown(frame, by=by)
        assert_close(as_plain(got, by), plain_stage_breakdown(frame, by))
        if first is None:
            first = got
        else:
            assert_frame_equal(got, first, check_exact=True, obj=name)


def test_a_job_straddling_three_chunks_and_coming_back_later_is_one_job() -> None:
    ids = ["a", "a", "a", "a", "b", "a", "c", "c"]
    for cuts in ([1, 2, 3], [0, 0, 4, 4, 8], [5], [7]):
        tasks = _tasks(ids).assign(job_id=_chunked(ids, cuts, pa.large_string()))
        got = metrics.stage_breakdown(tasks, by=None)
        assert set(got["jobs"]) == {3}
        assert_close(as_plain(got, None), plain_stage_breakdown(tasks, None))


def test_ids_of_one_width_that_differ_only_past_eight_bytes_stay_apart() -> None:
    """The fast path folds fixed-width IDs to 64-bit numbers: IDs equal in their first
    eight bytes (and in some other word) must still be different jobs."""
    ids = ["abcdefgh_1", "abcdefgh_2", "abcdefgh_1", "abcdefgh_3"]
    tasks = _tasks(ids).assign(job_id=pd.Series(ids, dtype="string[pyarrow]"))
    got = metrics.stage_breakdown(tasks, by=None)
    assert set(got["jobs"]) == {3}
    assert_close(as_plain(got, None), plain_stage_breakdown(tasks, None))


def test_all_failed_and_only_one_stage() -> None:
    ids = ["a", "a", "b"]
    failed = metrics.stage_breakdown(_tasks(ids, status=["failed"] * 3))
    assert failed.empty and list(failed.columns)[-1] == "jobs"
    probes = _tasks(ids, kind=["probe"] * 3)
    got = metrics.stage_breakdown(probes)
    assert_close(as_plain(got, "job_kind"), plain_stage_breakdown(probes, "job_kind"))
    assert got.set_index("stage").loc["import", "seconds"] == 0.0


@pytest.mark.parametrize(
    "seconds", [[np.inf, 1.0, 1.0], [np.inf, -np.inf, 1.0], [1e308, 1e308, 1.0]]
)
def test_infinite_or_overflowing_seconds_give_no_warning(seconds: list[float]) -> None:
    """Nonsense seconds (inf, or two that overflow when added) give inf / NaN cells, as
    the plain definition does, but no RuntimeWarning (an error under this suite)."""
    tasks = _tasks(["a", "a", "b"], kind=["probe", "video", "probe"], seconds=seconds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = metrics.stage_breakdown(tasks, by=None)
    assert got["jobs"].tolist() == [2] * 5
    assert not np.isfinite(got["seconds"]).all()


# --- in_flight -------------------------------------------------------------------------


def plain_in_flight(
    jobs: pd.DataFrame, times: list[pd.Timestamp], horizon: pd.Timestamp
) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """Counts at each sample time, and the first event (arrival or start up to horizon)
    with the most in flight, job by job."""
    spans = [
        (r.created_at, r.started_at, r.finished_at)
        for r in jobs.itertuples(index=False)
        if pd.notna(r.created_at)
    ]

    def count(t: pd.Timestamp) -> tuple[int, int]:
        queued = running = 0
        for c, s, f in spans:
            queue_end = s if pd.notna(s) else f
            queued += (c <= t) - (pd.notna(queue_end) and queue_end <= t)
            if pd.notna(s):
                running += (s <= t) - (pd.notna(f) and f <= t)
        return queued, running

    samples = [count(t) for t in times]
    events = sorted({t for c, s, _ in spans for t in (c, s) if pd.notna(t) and t <= horizon})
    peak: dict[str, Any] = {"in_flight": 0, "at": pd.NaT, "queued": 0, "processing": 0}
    best = None
    for t in events:
        q, p = count(t)
        if best is None or q + p > best:
            best = q + p
            peak = {"in_flight": q + p, "at": t, "queued": q, "processing": p}
    return samples, peak


_MINUTE = st.one_of(st.none(), st.integers(0, 30))
_ZONES = ["UTC", "naive", "Europe/Berlin", "ns"]


def _jobs(spans: list[tuple[int | None, ...]], zone: str) -> pd.DataFrame:
    def at(m: int | None) -> pd.Timestamp | None:
        return None if m is None else T0 + pd.Timedelta(minutes=m)

    frame = pd.DataFrame(
        {
            c: [at(s[k]) for s in spans]
            for k, c in enumerate(["created_at", "started_at", "finished_at"])
        },
        dtype="datetime64[ms, UTC]",
    )
    if zone == "naive":
        return frame.apply(lambda c: c.dt.tz_localize(None))
    if zone == "ns":
        return frame.astype("datetime64[ns, UTC]")
    return frame.apply(lambda c: c.dt.tz_convert(zone))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_MINUTE, _MINUTE, _MINUTE), max_size=8),
    st.one_of(st.none(), st.integers(-5, 35)),
    st.sampled_from(_ZONES),
    st.sampled_from(["UTC", "Asia/Kolkata"]),
)
def test_in_flight_is_the_plain_sweep(
    spans: list[tuple[int | None, ...]], as_of: int | None, zone: str, tz: str
) -> None:
    """NaT anywhere, finish before start, start before arrival, everything at one
    instant, naive / ns / other-zone columns, ``as_of`` before, inside and after."""
    jobs = _jobs(spans, zone)
    horizon = None if as_of is None else T0 + pd.Timedelta(minutes=as_of)
    got = metrics.in_flight(jobs, freq="1min", as_of=horizon, tz=tz)
    utc = _jobs(spans, "UTC")
    stamps = [t for c in utc.columns for t in utc[c] if pd.notna(t)]
    if not any(pd.notna(t) for t in utc["created_at"]):
        assert got.empty and got.attrs["peak"]["in_flight"] == 0
        return
    last = horizon if horizon is not None else max(stamps)
    samples, peak = plain_in_flight(utc, list(got["time"]), last)
    assert list(zip(got["queued"], got["processing"], strict=True)) == samples
    assert (got["in_flight"] == got["queued"] + got["processing"]).all()
    if peak["at"] is not pd.NaT:
        peak["at"] = peak["at"].tz_convert(tz)
    assert got.attrs["peak"] == peak


def test_one_job_zero_jobs_and_one_instant() -> None:
    assert metrics.in_flight(_jobs([], "UTC")).attrs["peak"]["in_flight"] == 0
    one = metrics.in_flight(_jobs([(0, 1, 2)], "UTC"))
    assert one.attrs["peak"] == {"in_flight": 1, "at": T0, "queued": 1, "processing": 0}
    same = metrics.in_flight(_jobs([(0, 0, None)] * 3, "UTC"))
    assert same.attrs["peak"] == {"in_flight": 3, "at": T0, "queued": 0, "processing": 3}


def test_as_of_before_every_arrival_samples_nothing_past_it() -> None:
    """Was a strict xfail: an as_of before the first arrival sampled from that arrival
    back to as_of, counting jobs that had not arrived (a day of minutes here)."""
    jobs = _jobs([(0, 1, None), (2, None, None)], "UTC")
    got = metrics.in_flight(jobs, freq="1min", as_of="2025-12-31T00:00:00Z")
    assert (got["time"] <= pd.Timestamp("2025-12-31", tz="UTC")).all()
    assert got.empty
    assert got.attrs["peak"]["in_flight"] == 0


def test_as_of_between_arrivals_leaves_out_the_later_ones() -> None:
    jobs = _jobs([(0, 1, None), (200, None, None)], "UTC")
    as_of = T0 + pd.Timedelta(seconds=100)
    got = metrics.in_flight(jobs, freq="1min", as_of=as_of)
    assert got["time"].max() <= as_of + pd.Timedelta(minutes=1)
    assert got["in_flight"].max() == 1
    assert got.attrs["peak"]["in_flight"] == 1


def test_decades_of_minutes_are_refused_with_what_to_do() -> None:
    """No guard before: 50 years at 1min made 26M rows (~840 MB)."""
    jobs = _jobs([(0, 1, None)], "UTC")
    with pytest.raises(ValueError, match=r"coarser freq") as caught:
        metrics.in_flight(jobs, freq="1min", as_of="2076-01-01")
    assert "\n" not in str(caught.value)
    # The same span by the day is fine.
    assert len(metrics.in_flight(jobs, freq="1D", as_of="2076-01-01")) > 18_000


# --- lake (chunked) versus frames (one chunk) ------------------------------------------


@pytest.fixture(scope="module")
def frames_and_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from ittybit_frames.simulator import generate_history

    frames = itf.to_frames(generate_history(1500, seed=13, end=END))
    path: Path = tmp_path_factory.mktemp("lake13")
    frames.to_parquet(path)
    return frames, itf.read_parquet(path)


@pytest.mark.parametrize("by", ["job_kind", None])
def test_stage_breakdown_of_the_lake_is_that_of_the_frames(
    frames_and_lake: tuple[Any, Any], by: str | None
) -> None:
    frames, lake = frames_and_lake
    assert pa.array(lake.tasks["job_id"].array).num_chunks > 1  # (what this compares)
    order = ["job_id", "task_id"]
    a = frames.tasks.sort_values(order, ignore_index=True)
    b = lake.tasks.sort_values(order, ignore_index=True)
    want = metrics.stage_breakdown(a, by=by)
    assert_frame_equal(metrics.stage_breakdown(b, by=by), want, check_exact=True)
    # In the lake's own order (IDs in chunks, jobs spread over files) too, up to the
    # order in which seconds are added.
    assert_close(
        as_plain(metrics.stage_breakdown(lake.tasks, by=by), by),
        plain_stage_breakdown(frames.tasks, by),
    )


def test_in_flight_of_the_lake_is_that_of_the_frames(frames_and_lake: tuple[Any, Any]) -> None:
    frames, lake = frames_and_lake
    for as_of in (None, "2026-02-10T12:00:00Z"):
        want = metrics.in_flight(frames.jobs, freq="1h", as_of=as_of)
        got = metrics.in_flight(lake.jobs, freq="1h", as_of=as_of)
        assert_frame_equal(got, want, check_exact=True)
        assert got.attrs["peak"] == want.attrs["peak"]


# --- Spark parity on odd timelines -----------------------------------------------------


def test_spark_in_flight_peak_on_odd_timelines(spark: Any, tmp_path: Path) -> None:
    """NaT starts and finishes, a finish before its start, a start before its arrival,
    three jobs at one instant: Spark's peak and samples are pandas'."""
    from ittybit_frames import spark as itf_spark

    spans = [(0, None, None), (1, 5, 2), (6, 3, None), (4, 4, 4), (4, 4, 4), (4, 4, 4), (7, 8, 9)]
    jobs = _jobs(spans, "UTC")
    jobs.to_parquet(tmp_path / "jobs.parquet")
    sdf = spark.read.parquet(str(tmp_path / "jobs.parquet"))
    for as_of in (None, "2026-01-01T00:05:00Z"):
        want = metrics.in_flight(jobs, freq="1min", as_of=as_of).attrs["peak"]
        assert itf_spark.in_flight_peak(sdf, as_of=as_of) == want
        rows = itf_spark.in_flight(sdf, freq="1min", as_of=as_of).collect()
        samples = metrics.in_flight(jobs, freq="1min", as_of=as_of)
        assert [
            (round(r["time"].timestamp() * 1000), r["queued"], r["processing"]) for r in rows
        ] == [(t.value // 10**6, q, p) for t, q, p, _ in samples.itertuples(index=False)]
