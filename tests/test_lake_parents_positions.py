"""Each task's job, found by Arrow's hash lookup when the job IDs are the schema's Arrow
strings and unique, must be the row pandas' lookup finds on every input: duplicated
and missing IDs, IDs of other dtypes, tasks of no job."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ittybit_frames.lake._parents import _positions


def _reference(job_ids: list[str | None], task_ids: list[str | None]) -> list[int]:
    """Row of the task's job among the jobs; -1 for none, for NA, or a job given twice."""
    out = []
    for task in task_ids:
        rows = [i for i, job in enumerate(job_ids) if task is not None and job == task]
        out.append(rows[0] if len(rows) == 1 else -1)
    return out


IDS = st.lists(st.one_of(st.none(), st.sampled_from(["job_a", "job_b", "job_c", "jöb_d", ""])))
DTYPES = [
    object,
    pd.StringDtype("python"),
    pd.StringDtype("pyarrow"),
    pd.ArrowDtype(pa.large_string()),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["job_a", "job_b", "job_c", "jöb_d", "", None]), unique=True) | IDS,
    IDS,
    st.sampled_from(DTYPES),
    st.sampled_from(DTYPES),
)
def test_each_task_finds_its_one_job_on_every_dtype(
    job_ids: list[str | None], task_ids: list[str | None], job_dtype: Any, task_dtype: Any
) -> None:
    jobs = pd.Series(job_ids, dtype=job_dtype)
    tasks = pd.Series(task_ids, dtype=task_dtype)
    found = _positions(jobs, tasks)
    assert found.tolist() == _reference(job_ids, task_ids)
    assert found.dtype == np.intp


def test_ids_in_several_arrow_chunks_are_found() -> None:
    def chunked(*chunks: list[str | None]) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(list(chunks))))

    jobs = chunked(["job_a", "job_b"], ["job_c"])
    tasks = chunked(["job_c"], ["job_x", None, "job_a"])
    assert _positions(jobs, tasks).tolist() == [2, -1, -1, 0]
    wide = pd.Series(["job_c", "job_x", None, "job_a"], dtype=pd.ArrowDtype(pa.large_string()))
    assert _positions(jobs, wide).tolist() == [2, -1, -1, 0]
