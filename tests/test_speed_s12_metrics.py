"""Session 12's speed work on stage_breakdown keeps its output identical.

Job codes: when the IDs at the start of each run of a job's tasks are all of one byte
length, they are folded to 64-bit numbers and, none equal, numbered 0, 1, 2... without
Arrow's dictionary; a repeat (a job's tasks apart) or IDs of several lengths take the
dictionary. Timestamps of the schema's millisecond unit are read as their integers,
other units converted as before. Each route must give what the others give, exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from ittybit_frames import metrics
from ittybit_frames.metrics._durations import _first_seen_codes
from tests.frames_equal import assert_frame_equal
from tests.test_speed_s11_metrics import reference_stage_breakdown, task_frames

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _chunked(tasks: pd.DataFrame, parts: int) -> pd.DataFrame:
    """``tasks`` as ``pd.concat`` of ``parts`` pieces leaves them (IDs in several chunks)."""
    step = max(1, -(-len(tasks) // parts))
    pieces = [tasks.iloc[i : i + step] for i in range(0, len(tasks), step)] or [tasks]
    return pd.concat(pieces, ignore_index=True)


def _tasks(ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "job_id": pd.array(ids, dtype="string[pyarrow]"),
            "kind": pd.Categorical(["probe", "video", "export", "import", "speech"] * n)[:n],
            "processing_seconds": np.arange(n, dtype=float) + 0.5,
            "finished_at": [T0 + pd.Timedelta(seconds=10 + 3 * i) for i in range(n)],
            "job_created_at": [T0] * n,
            "job_status": pd.Categorical(["succeeded"] * n),
            "job_kind": pd.Categorical(["video", "audio"] * n)[:n],
        }
    ).astype({"finished_at": "datetime64[ms, UTC]", "job_created_at": "datetime64[ms, UTC]"})


@settings(max_examples=60, deadline=None)
@given(task_frames(), st.sampled_from(["job_kind", None]), st.integers(1, 4))
def test_arrow_ids_in_chunks_give_what_object_ids_give(
    tasks: pd.DataFrame, by: str | None, parts: int
) -> None:
    arrow = _chunked(tasks.assign(job_id=tasks["job_id"].astype("string[pyarrow]")), parts)
    plain = arrow.assign(job_id=arrow["job_id"].astype(object))
    got = metrics.stage_breakdown(arrow, by=by)
    assert_frame_equal(got, metrics.stage_breakdown(plain, by=by), check_exact=True)
    assert_frame_equal(got, reference_stage_breakdown(plain, by), check_exact=True)


def test_a_job_whose_tasks_sit_apart_among_ids_of_one_length_is_one_job() -> None:
    """Runs job_a, job_b, job_a (all five bytes): the repeat must not make two jobs."""
    tasks = _tasks(["job_a", "job_a", "job_b", "job_a", "job_c"])
    for parts in (1, 2, 5):
        out = metrics.stage_breakdown(_chunked(tasks, parts), by=None)
        assert out["jobs"].tolist() == [3] * 5
        assert_frame_equal(out, reference_stage_breakdown(tasks, None))


def test_ids_of_several_lengths_and_many_bytes() -> None:
    """IDs that differ in length, multi-byte characters, IDs longer than one 8-byte word
    that differ only in their last byte, and one repeated far apart."""
    long = "job_" + "x" * 20
    ids = ["job_1", "job_22", "jöb_é", "jöb_é", long + "a", long + "b", "job_1"]
    tasks = _tasks(ids)
    plain = tasks.assign(job_id=tasks["job_id"].astype(object))
    for by in ("job_kind", None):
        got = metrics.stage_breakdown(_chunked(tasks, 3), by=by)
        assert_frame_equal(got, metrics.stage_breakdown(plain, by=by))
        assert_frame_equal(got, reference_stage_breakdown(plain, by))
    assert metrics.stage_breakdown(tasks, by=None)["jobs"].iloc[0] == 5


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text("ab\u00e9_", min_size=0, max_size=11), min_size=0, max_size=30),
    st.booleans(),
    st.integers(0, 3),
)
def test_first_seen_codes_are_the_dictionarys(ids: list[str], large: bool, skip: int) -> None:
    """Any strings (one length or not, repeats or not, a sliced array): the codes are
    Arrow's dictionary indices, first appearance first."""
    array = pa.array(["pad"] * skip + ids, pa.large_string() if large else pa.string())
    array = array.slice(skip)
    want = pc.dictionary_encode(array).indices.to_numpy(zero_copy_only=False)
    assert _first_seen_codes(array).tolist() == want.tolist()


@given(st.sampled_from(["s", "ms", "us", "ns"]), st.sampled_from([None, "UTC", "Europe/Paris"]))
@settings(max_examples=20, deadline=None)
def test_timestamps_of_any_unit_and_zone_give_the_same_stages(unit: str, zone: str | None) -> None:
    tasks = _tasks(["job_a", "job_a", "job_b", "job_b", "job_c"])
    tasks.loc[1, "finished_at"] = pd.NaT
    tasks.loc[4, "job_created_at"] = pd.NaT

    def shown(column: pd.Series) -> pd.Series:
        if zone is None:
            return column.dt.tz_localize(None).astype(f"datetime64[{unit}]")
        return column.dt.tz_convert(zone).astype(f"datetime64[{unit}, {zone}]")

    other = tasks.assign(**{c: shown(tasks[c]) for c in ("finished_at", "job_created_at")})
    for by in ("job_kind", None):
        assert_frame_equal(
            metrics.stage_breakdown(other, by=by),
            metrics.stage_breakdown(tasks, by=by),
            check_exact=True,
        )
