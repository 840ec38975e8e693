"""Issue 11's speed work on the metrics keeps their output identical.

``stage_breakdown`` no longer filters a copy of the tasks and factorizes job IDs only at
the start of each run of equal IDs; ``normalise_error`` skips the patterns that cannot
match. Each is compared here with a straightforward reference on random inputs: the
frames must be equal exactly (values, dtypes, index, column order).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ittybit_frames import metrics
from ittybit_frames.metrics._common import ENCODE_KINDS
from tests.frames_equal import assert_frame_equal

KINDS = ["probe", "import", "video", "audio", "export", "speech", "other"]
JOB_KINDS = ["video", "audio", "image", "other"]  # "other": a category left unused below
STATUSES = ["succeeded", "failed", "cancelled"]
T0 = pd.Timestamp("2026-01-01", tz="UTC")
STAGES = ("probe", "import", "encode", "export", "waiting")


def _stage(kind: Any) -> int:
    stage_of = {"probe": 0, "import": 1, "export": 3, **dict.fromkeys(ENCODE_KINDS, 2)}
    return stage_of.get(str(kind), -1)


def _ordered_sum(values: Any) -> float:
    """A sum in row order from 0.0 (what a weighted bincount adds up)."""
    total = 0.0
    for value in values:
        total += value
    return total


def reference_stage_breakdown(tasks: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """stage_breakdown written plainly, with pandas, one job and one group at a time."""
    keys = [] if by is None else [by]
    columns = [*keys, "stage", "seconds", "share", "typical_share", "jobs"]
    done = tasks[(tasks["job_status"].astype(object) == "succeeded").to_numpy(dtype=bool)]
    if done.empty:
        return pd.DataFrame(columns=columns)
    done = done.assign(
        stage=[_stage(k) for k in done["kind"]],
        secs=done["processing_seconds"].astype(float).fillna(0.0).to_numpy(),
        group="all" if by is None else done[by].astype(object).map(str),
    )
    jobs = []
    for _, part in done.groupby(done["job_id"].astype(object), sort=False):
        end = part["finished_at"].max()
        total = (end - part["job_created_at"].iloc[-1]).total_seconds() if pd.notna(end) else 0.0
        per_stage = [_ordered_sum(part.loc[part["stage"] == s, "secs"]) for s in range(4)]
        jobs.append((part["group"].iloc[-1], total if np.isfinite(total) else 0.0, per_stage))
    if by is None:
        labels = ["all"]
    elif isinstance(done[by].dtype, pd.CategoricalDtype):
        labels = [str(c) for c in done[by].cat.categories]
    else:
        labels = sorted({str(v) for v in done[by]})
    rows = []
    for label in labels:
        mine = [j for j in jobs if j[0] == label]
        if not mine:
            continue
        in_group = done[done["group"] == label]
        sums = [_ordered_sum(in_group.loc[in_group["stage"] == s, "secs"]) for s in range(4)]
        total = _ordered_sum(j[1] for j in mine)
        shares = []
        for _, job_total, per_stage in mine:
            busy = ((per_stage[0] + per_stage[1]) + per_stage[2]) + per_stage[3]
            cells = [*per_stage, max(job_total - busy, 0.0)]
            whole = (((cells[0] + cells[1]) + cells[2]) + cells[3]) + cells[4]
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.array(cells) / np.float64(whole)
            if np.isfinite(share).all():
                shares.append(share)
        typical = np.full(5, np.nan)
        if shares:
            median = np.median(np.array(shares), axis=0)
            typical = median / median.sum() if median.sum() else median
        values = [*sums, total - _ordered_sum(sums)]
        for k, name in enumerate(STAGES):
            rows.append(
                {
                    **({by: label} if by else {}),
                    "stage": name,
                    "seconds": float(values[k]),
                    "share": float(values[k] / total) if total else np.nan,
                    "typical_share": float(typical[k]),
                    "jobs": len(mine),
                }
            )
    return pd.DataFrame(rows, columns=columns)


@st.composite
def task_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Tasks of a few jobs: runs of a job's tasks, sometimes split apart (a job's tasks
    away from each other), missing times and seconds, unused categories, no rows."""
    n_jobs = draw(st.integers(0, 6))
    rows = []
    for j in range(n_jobs):
        created = T0 + pd.Timedelta(seconds=draw(st.integers(0, 10_000)))
        kind, status = draw(st.sampled_from(JOB_KINDS[:3])), draw(st.sampled_from(STATUSES))
        for _ in range(draw(st.integers(1, 4))):
            finish = draw(st.one_of(st.none(), st.integers(-50, 5_000)))
            seconds = draw(st.one_of(st.none(), st.floats(0, 1_000, allow_nan=False)))
            rows.append(
                {
                    "job_id": f"job_{j}",
                    "kind": draw(st.sampled_from(KINDS)),
                    "processing_seconds": seconds,
                    "finished_at": None
                    if finish is None
                    else created + pd.Timedelta(seconds=finish),
                    "job_created_at": created,
                    "job_status": status,
                    "job_kind": kind,
                }
            )
    if draw(st.booleans()):
        rows = draw(st.permutations(rows))  # a job's tasks no longer side by side
    frame = pd.DataFrame(
        rows,
        columns=["job_id", "kind", "processing_seconds", "finished_at", "job_created_at",
                 "job_status", "job_kind"],
    )  # fmt: skip
    categorical = draw(st.booleans())
    return frame.assign(
        job_id=frame["job_id"].astype("string[pyarrow]" if draw(st.booleans()) else object),
        kind=frame["kind"].astype(pd.CategoricalDtype(KINDS) if categorical else "string"),
        processing_seconds=frame["processing_seconds"].astype("Float64"),
        finished_at=pd.to_datetime(frame["finished_at"], utc=True).astype("datetime64[ms, UTC]"),
        job_created_at=pd.to_datetime(frame["job_created_at"], utc=True).astype(
            "datetime64[ms, UTC]"
        ),
        job_status=frame["job_status"].astype(pd.CategoricalDtype(STATUSES)),
        job_kind=frame["job_kind"].astype(
            pd.CategoricalDtype(JOB_KINDS) if categorical else object
        ),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task_frames(), st.sampled_from(["job_kind", None]))
def test_stage_breakdown_equals_a_plain_pandas_reference(
    tasks: pd.DataFrame, by: str | None
) -> None:
    got = metrics.stage_breakdown(tasks, by=by)
    assert_frame_equal(got, reference_stage_breakdown(tasks, by), check_exact=True)


def test_stage_breakdown_of_one_job_whose_tasks_sit_apart() -> None:
    """Two runs of the same job (another job's task between them) are one job."""
    tasks = pd.DataFrame(
        {
            "job_id": pd.array(["job_a", "job_b", "job_a"], dtype="string[pyarrow]"),
            "kind": ["probe", "video", "video"],
            "processing_seconds": [1.0, 5.0, 3.0],
            "finished_at": [T0 + pd.Timedelta(seconds=s) for s in (2, 9, 10)],
            "job_created_at": [T0, T0, T0],
            "job_status": ["succeeded"] * 3,
        }
    )
    out = metrics.stage_breakdown(tasks, by=None).set_index("stage")
    assert out["jobs"].tolist() == [2] * 5
    assert out.loc["encode", "seconds"] == 8.0 and out.loc["waiting", "seconds"] == 19.0 - 9.0
    assert_frame_equal(
        metrics.stage_breakdown(tasks, by=None), reference_stage_breakdown(tasks, None)
    )


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_ID = re.compile(r"\b(?:job|task|run|evt|med|tsk|file|org|cus|conn|key)_[A-Za-z0-9]+\b")
_HEX = re.compile(r"\b[0-9a-f]{16,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:\.\d+)?")


def reference_normalise_error(message: str) -> str:
    """Every pattern run on every message, in order (the code before issue 11's work)."""
    text = _URL.sub(lambda m: "<url>" + m.group(0)[len(m.group(0).rstrip(".,:;)")) :], message)
    text = _ID.sub("<id>", text)
    text = _HEX.sub("<id>", text)
    return _NUMBER.sub("<n>", text).strip()


PIECES = st.sampled_from(
    ["://", "_", "job_", "task_x9", "http", "s3", "HTTP", "deadbeefcafef00d", "0", "42", "3.5",
     "\u0663", "\u00e9", " ", ".", ",", ":", ";", ")", "/", "a", "Z", "-", "+", "\t", "<id>"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=12).map("".join))
def test_normalise_error_equals_running_every_pattern(message: str) -> None:
    assert metrics.normalise_error(message) == reference_normalise_error(message)


def test_top_errors_groups_alike_messages_with_and_without_urls() -> None:
    jobs = pd.DataFrame(
        {
            "job_id": ["job_1", "job_2", "job_3"],
            "kind": ["video", "video", "audio"],
            "created_at": [T0, T0, T0],
            "error_message": [
                "Could not decode https://x.com/a.mp4: bad data",
                "Could not decode https://y.com/b.mp4: bad data",
                "Worker lost on job_abc (node 7)",
            ],
            "error_kind": ["decode", "decode", pd.NA],
        }
    )
    out = metrics.top_errors(jobs)
    assert out["error"].tolist() == [
        "Could not decode <url>: bad data",
        "Worker lost on <id> (node <n>)",
    ]
    assert out["count"].tolist() == [2, 1]
