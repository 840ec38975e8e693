"""Property-based tests: arbitrary payload variants through to_frames."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history
from ittybit_frames.vocabulary import canonical_status, epoch_ms

MS_LO, MS_HI = 946_684_800_000, 4_102_444_800_000 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
ms = st.integers(1_600_000_000_000, 1_900_000_000_000)
timestamps = st.one_of(
    ms,
    ms.map(lambda v: v // 1000),  # seconds
    ms.map(
        lambda v: dt.datetime.fromtimestamp(v / 1000, dt.UTC).isoformat().replace("+00:00", "Z")
    ),  # ISO
    ms.map(str),  # numeric string
    st.none(),
    json_values,  # junk
)
statuses = (
    st.sampled_from(
        [
            "queued",
            "processing",
            "succeeded",
            "failed",
            "cancelled",
            "waiting",
            "ready",
            "completed",
            "error",
            "pending",
            "validating",
            "finishing",
            "weird",
            None,
        ]
    )
    | json_values
)
numbers = st.integers(0, 5000) | st.integers(0, 5000).map(str) | st.floats(0, 1e4) | json_values
outputs = (
    st.none()
    | st.text(max_size=10)
    | st.fixed_dictionaries(
        {},
        optional={
            "url": st.text(max_size=8),
            "width": numbers,
            "duration": numbers,
            "codecs": st.none()
            | st.fixed_dictionaries(
                {},
                optional={
                    "video": st.text(max_size=4)
                    | st.fixed_dictionaries({"name": st.text(max_size=4)}),
                    "audio": st.text(max_size=4),
                },
            ),
            "mystery": json_values,
        },
    )
    | json_values
)
errors = (
    st.none()
    | st.text(max_size=8)
    | st.fixed_dictionaries(
        {}, optional={"kind": st.text(max_size=5), "message": st.text(max_size=8)}
    )
    | json_values
)


@st.composite
def tasks(draw: st.DrawFn, i: int) -> dict[str, Any]:
    task: dict[str, Any] = {"id": f"task_{i}"}
    optional = {
        "kind": st.sampled_from(["probe", "import", "video", "export", "ingest", "x"]),
        "status": statuses,
        "progress": numbers,
        "output": outputs,
        "error": errors,
        "created_at": timestamps,
        "started_at": timestamps,
        "finished_at": timestamps,
        "updated_at": timestamps,
        "unknown_field": json_values,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            task[key] = draw(strategy)
    return task


@st.composite
def jobs(draw: st.DrawFn) -> dict[str, Any]:
    job: dict[str, Any] = {"id": draw(st.sampled_from(["job_a", "job_b", "job_c", "job_d"]))}
    optional = {
        "kind": st.sampled_from(["video", "audio", "image", "gif"]) | json_values,
        "status": statuses,
        "error": errors,
        "output": outputs,
        "options": json_values,
        "metadata": json_values,
        "created_at": timestamps,
        "started_at": timestamps,
        "finished_at": timestamps,
        "updated_at": timestamps,
        "created": timestamps,
        "surprise": json_values,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            job[key] = draw(strategy)
    shape = draw(st.sampled_from(["list", "missing", "junk"]))
    if shape == "list":
        n = draw(st.integers(0, 4))
        job["tasks"] = [draw(tasks(i)) for i in range(n)]
    elif shape == "junk":
        job["tasks"] = draw(json_values)
    return job


def safe_ms(value: Any) -> int | None:
    try:
        return epoch_ms(value)
    except ValueError:
        return None


def winners(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Independent de-duplication: latest updated_at wins, later record on ties."""
    best: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for pos, rec in enumerate(records):
        updated = safe_ms(rec.get("updated_at", rec.get("updated")))
        key = (updated if updated is not None else -1, pos)
        if rec["id"] not in best or key >= best[rec["id"]][:2]:
            best[rec["id"]] = (*key, rec)
    return {jid: rec for jid, (_, _, rec) in best.items()}


def has_problem(frames: itf.JobFrames, jid: str, column: str, tid: str | None = None) -> bool:
    p = frames.problems
    rows = p[(p["job_id"] == jid) & (p["column"] == column)]
    if tid is not None:
        rows = rows[rows["task_id"] == tid]
    return len(rows) > 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(jobs(), min_size=0, max_size=6))
def test_any_payload_is_accounted_for(records: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(records)
    won = winners(records)
    # One jobs row per distinct id; one task row per (object) task of the winners.
    assert sorted(frames.jobs["job_id"]) == sorted(won)
    expected_tasks = sum(
        sum(isinstance(t, dict) for t in rec["tasks"])
        for rec in won.values()
        if isinstance(rec.get("tasks"), list)
    )
    assert len(frames.tasks) == expected_tasks
    jobs_by_id = frames.jobs.set_index("job_id")
    for jid, rec in won.items():
        row = jobs_by_id.loc[jid]
        # Timestamps: in the column (exactly), or NA with a problem row.
        # The new name wins; the old one (`created`) fills a missing or null value.
        created_raw = rec.get("created_at")
        if created_raw is None:
            created_raw = rec.get("created")
        for column, raw in (
            ("created_at", created_raw),
            ("started_at", rec.get("started_at")),
            ("finished_at", rec.get("finished_at")),
        ):
            value = safe_ms(raw)
            if value is not None:
                assert row[column] == pd.Timestamp(value, unit="ms", tz="UTC")
            else:
                assert pd.isna(row[column])
                assert raw is None or has_problem(frames, jid, column)
        # Status: canonical word, the raw one kept.
        assert row["status"] == canonical_status(rec.get("status"))
        if isinstance(rec.get("status"), str):
            assert row["status_raw"] == rec["status"]
        # Unknown fields: in extra.
        if "surprise" in rec:
            assert "surprise" in json.loads(row["extra"])
        # Durations: an independent computation from the raw integers, to the ms.
        c, s, f = (
            safe_ms(created_raw),
            safe_ms(rec.get("started_at")),
            safe_ms(rec.get("finished_at")),
        )
        if c is not None and f is not None and f >= c:
            assert row["total_seconds"] == (f - c) / 1000
        if c is not None and s is not None and s < c:
            assert pd.isna(row["queue_seconds"]) and has_problem(frames, jid, "queue_seconds")
    # Task values: progress and output width land or are reported.
    for rec in won.values():
        listed = rec.get("tasks") if isinstance(rec.get("tasks"), list) else []
        for index, task in enumerate(listed):
            if not isinstance(task, dict) or not isinstance(task.get("id"), str):
                continue
            row = frames.tasks[
                (frames.tasks["job_id"] == rec["id"]) & (frames.tasks["task_index"] == index)
            ].iloc[0]
            progress = task.get("progress")
            if progress is not None and pd.isna(row["progress"]):
                assert has_problem(frames, rec["id"], "progress", task["id"])
            if "unknown_field" in task:
                assert "unknown_field" in json.loads(row["extra"])
            out = task.get("output")
            if isinstance(out, dict) and out.get("width") is not None:
                width = out["width"]
                ok = isinstance(width, int) and not isinstance(width, bool) and 0 <= width < 2**63
                if ok:
                    assert row["output_width"] == width
                elif pd.isna(row["output_width"]):
                    assert has_problem(frames, rec["id"], "output_width", task["id"])


@settings(max_examples=60, deadline=None)
@given(st.lists(jobs(), min_size=1, max_size=4))
def test_strict_raises_only_when_lenient_finds_problems(records: list[dict[str, Any]]) -> None:
    lenient = itf.to_frames(records)
    try:
        itf.to_frames(records, strict=True)
    except itf.SchemaError:
        assert not lenient.problems.empty
    else:
        assert lenient.problems.empty


def test_float_durations_are_exact_for_ms_integers() -> None:
    # float64 holds every epoch-ms integer exactly; differences / 1000 round once.
    c, f = 1_899_999_999_999, 1_899_999_999_999 + 123_457
    frames = itf.to_frames([{"id": "j", "created_at": c, "finished_at": f, "tasks": []}])
    assert frames.jobs.loc[0, "total_seconds"] == 123.457
    assert not math.isnan(frames.jobs.loc[0, "total_seconds"])


# --------------------------------------------------------------------------------------
# NDJSON: the SQL fast path must give exactly what the careful path gives, line for line.
# --------------------------------------------------------------------------------------
CLEAN_JOBS = generate_history(40, seed=11)
anything = json_values | timestamps | statuses | errors | outputs | numbers


@st.composite
def ndjson_lines(draw: st.DrawFn) -> list[str]:
    """Simulated (current-shape) jobs, some with one value or key changed anywhere."""
    lines = [json.dumps(CLEAN_JOBS[0])]  # two lines at least: NDJSON, not one document
    for _ in range(draw(st.integers(1, 8))):
        job = copy.deepcopy(draw(st.sampled_from(CLEAN_JOBS)))
        target: dict[str, Any] = job
        where = draw(st.sampled_from(["as is", "as is", "job", "task", "output", "input", "raw"]))
        if where in ("task", "output", "input") and job["tasks"]:
            target = draw(st.sampled_from(job["tasks"]))
            if where in ("output", "input") and isinstance(target.get(where), dict):
                target = target[where]
        if where in ("job", "task", "output", "input"):
            key = draw(st.sampled_from([*target, "created", "codec", "surprise"]))
            target[key] = draw(anything)
        line = json.dumps(job)  # NaN/Infinity and 70-bit integers included
        if where == "raw":
            line = draw(st.sampled_from(["{broken", "", "[1, 2]", "7", line[:-1] + ",}"]))
        lines.append(line)
    return lines


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ndjson_lines())
def test_ndjson_fast_path_equals_careful_path(lines: list[str]) -> None:
    from ittybit_frames.frames._ndjson import NdjsonReader

    data = ("\n".join(lines) + "\n").encode()
    fast = itf.to_frames(data)
    careful = itf.to_frames(data, _reader=NdjsonReader(use_sql=False))
    pd.testing.assert_frame_equal(fast.jobs, careful.jobs)
    pd.testing.assert_frame_equal(fast.tasks, careful.tasks)
    columns = list(fast.problems.columns)
    pd.testing.assert_frame_equal(
        fast.problems.sort_values(columns).reset_index(drop=True),
        careful.problems.sort_values(columns).reset_index(drop=True),
    )
