"""Property-based tests: arbitrary payload variants through to_frames."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import types
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history
from ittybit_frames.vocabulary import canonical_status, epoch_ms
from tests.frames_equal import assert_frame_equal

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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
def older_shape(draw: st.DrawFn, job: dict[str, Any]) -> Any:
    """A simulated job in a documented older shape: older field names, seconds or ISO
    timestamps, other versions' kind and status words, string errors, input objects
    with media fields, or wrapped in an envelope."""
    stamp = draw(st.sampled_from(["ms", "s", "iso"]))
    records = [job, *job["tasks"]]
    for rec in records:
        for key in ("created_at", "started_at", "finished_at", "updated_at"):
            value = rec.get(key)
            if isinstance(value, int) and stamp != "ms":
                rec[key] = (
                    value // 1000
                    if stamp == "s"
                    else dt.datetime.fromtimestamp(value // 1000, dt.UTC).isoformat()
                )
        if draw(st.booleans()):
            rec["created"] = rec.pop("created_at")
            rec["updated"] = rec.pop("updated_at")
        if draw(st.booleans()):
            rec["kind"] = draw(st.sampled_from(["ingest", "speech", "nsfw", "upload", "http"]))
        if draw(st.booleans()):
            rec["status"] = draw(st.sampled_from(["ready", "completed", "pending", "error"]))
        if rec.get("error") is not None and draw(st.booleans()):
            rec["error"] = str(rec["error"])
    task = draw(st.sampled_from(job["tasks"])) if job["tasks"] else None
    if task is not None and draw(st.booleans()):
        task["input"] = {
            "object": "file",
            "url": "s3://b/in.mp4",
            "kind": "video",
            "width": draw(st.integers(1, 4000)),
            "duration": draw(st.floats(0, 1e4, allow_nan=False)),
            "codecs": {"video": draw(st.sampled_from(["h264", {"name": "h264", "level": "4"}]))},
        }
    if draw(st.booleans()):
        return {"meta": {"page": 1}, "data": draw(st.sampled_from([job, [job]]))}
    return job


@st.composite
def ndjson_lines(draw: st.DrawFn) -> list[str]:
    """Simulated (current-shape) jobs, some with one value or key changed anywhere."""
    lines = [json.dumps(CLEAN_JOBS[0])]  # two lines at least: NDJSON, not one document
    for _ in range(draw(st.integers(1, 8))):
        job = copy.deepcopy(draw(st.sampled_from(CLEAN_JOBS)))
        target: dict[str, Any] = job
        where = draw(
            st.sampled_from(["as is", "as is", "job", "task", "output", "input", "raw", "older"])
        )
        if where == "older":
            job = draw(older_shape(job))
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
    assert_same(through_sql(data), itf.to_frames(data, _reader=NdjsonReader(use_sql=False)))


#: Envelope fields as text, in forms a parser may write back otherwise: numbers past
#: 64 bits or a double's range, negative zero, long fractions, escapes, a key twice,
#: NaN deep inside.
envelope_texts = st.sampled_from(
    [
        '"m": 1e400',
        '"m": -1E+400',
        '"m": -0.0',
        '"m": 1.0',
        '"m": 0.10000000000000000000001',
        '"m": 123456789012345678901234567890',
        '"m": -9223372036854775809',
        '"m": "\\u00e9\\ud83d\\ude00\\n\\/"',
        '"m": 1, "m": 2',
        '"m": {"x": 1, "x": [2]}',
        '"m": [1, {"a": NaN}]',
        '"m": Infinity',
        '"\\u0064ata": 5',
        '"links": null',
    ]
)


@st.composite
def envelope_lines(draw: st.DrawFn) -> list[str]:
    """Simulated jobs, some in a single-object envelope with any fields beside
    ``data``, before or after it, some written as text."""
    lines = [json.dumps(CLEAN_JOBS[0])]
    for _ in range(draw(st.integers(1, 6))):
        job = draw(st.sampled_from(CLEAN_JOBS))
        keys = st.text(max_size=4).filter(lambda k: k != "data")
        envelope = draw(st.dictionaries(keys, json_values, max_size=3))
        data = json.dumps({"data": job})[1:-1]
        rest = json.dumps(envelope)[1:-1]  # NaN, Infinity and 70-bit integers included
        fields = [f for f in (rest, draw(envelope_texts) if draw(st.booleans()) else "") if f]
        fields.insert(draw(st.integers(0, len(fields))), data)
        lines.append("{" + ", ".join(fields) + "}")
    return lines


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope_lines())
def test_envelope_fields_equal_careful_path(lines: list[str]) -> None:
    """An envelope's fields beside ``data`` go to ``extra`` as the careful path puts
    them there (DuckDB writes them back as text for it), or the line goes its way."""
    from ittybit_frames.frames._ndjson import NdjsonReader

    data = ("\n".join(lines) + "\n").encode()
    assert_same(through_sql(data), itf.to_frames(data, _reader=NdjsonReader(use_sql=False)))


def test_envelope_numbers_are_read_as_their_own_line_reads_them() -> None:
    """A number just past 64 bits is a float where its line has no long run of digits
    (orjson's reading, the careful path's), even beside a line that has one."""
    from ittybit_frames.frames._ndjson import NdjsonReader

    data = [json.dumps({"data": job})[1:-1] for job in CLEAN_JOBS[:2]]
    lines = [
        json.dumps(CLEAN_JOBS[2]),
        '{"m": -9223372036854775809, ' + data[0] + "}",
        '{"m": 123456789012345678901234567890, ' + data[1] + "}",
    ]
    text = ("\n".join(lines) + "\n").encode()
    careful = itf.to_frames(text, _reader=NdjsonReader(use_sql=False))
    assert careful.jobs["extra"].tolist()[1:] == [
        '{"envelope":{"m":-9.223372036854776e+18}}',
        '{"envelope":{"m":123456789012345678901234567890}}',
    ]
    assert_same(through_sql(text), careful)


def test_free_form_numbers_are_read_as_their_own_line_reads_them() -> None:
    """As above, in ``metadata``: the fast path parses a block's distinct values
    together, the careful path each line on its own."""
    from ittybit_frames.frames._ndjson import NdjsonReader

    jobs = copy.deepcopy(CLEAN_JOBS[:3])
    jobs[0]["metadata"], jobs[1]["metadata"] = {"a": 1}, {"a": 2}
    lines = [json.dumps(job) for job in jobs]
    lines[0] = lines[0].replace('{"a": 1}', '{"a": -9223372036854775809}')
    lines[1] = lines[1].replace('{"a": 2}', '{"a": 123456789012345678901234567890}')
    text = ("\n".join(lines) + "\n").encode()
    careful = itf.to_frames(text, _reader=NdjsonReader(use_sql=False))
    assert careful.jobs["metadata"].tolist()[:2] == [
        '{"a":-9.223372036854776e+18}',
        '{"a":123456789012345678901234567890}',
    ]
    assert_same(through_sql(text), careful)


class _Frozen(Mapping[Any, Any]):
    """A read-only Mapping that is no dict."""

    def __init__(self, items: dict[Any, Any]) -> None:
        self._items = items

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


#: Python values JSON text cannot stand for exactly (or that orjson writes otherwise).
odd_values = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        2**64,
        -(2**70),
        np.int64(7),
        np.float64(2.5),
        np.float32(0.1),
        np.float64("nan"),
        np.bool_(True),
        np.str_("video"),
        (1, 2),
        {1, 2},
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        uuid.UUID(int=5),
        b"bytes",
        "\ud800",
    ]
)


#: JSON values a converter may take for another type: bools where numbers go, whole
#: floats where integers go, numbers where text goes.
confusable = st.sampled_from([True, False, 1.0, 100.0, 1.7e12, 0, -1, 7, ""])


@st.composite
def odd_records(draw: st.DrawFn) -> list[Any]:
    """Simulated jobs (some of an older shape) as Python objects: some values or
    containers of types JSON has not (numpy scalars, Mappings, tuples, non-text keys),
    values of a confusable type, and a job given twice."""
    records: list[Any] = []
    for _ in range(draw(st.integers(1, 8))):
        job: Any = copy.deepcopy(draw(st.sampled_from(CLEAN_JOBS)))
        if draw(st.booleans()):
            job = draw(older_shape(job))
        if type(job) is not dict or not job.get("tasks"):
            records.append(job)
            continue
        task = draw(st.sampled_from(job["tasks"]))
        changes = ["as is", "value", "key", "mapping", "tuple", "deep", "confusable"]
        change = draw(st.sampled_from(changes))
        target = draw(st.sampled_from([job, task]))
        if change == "value":
            target[draw(st.sampled_from([*target, "surprise"]))] = draw(odd_values)
        elif change == "key":
            target[draw(st.sampled_from([1, None, True, 2.5]))] = draw(scalars)
        elif change == "mapping":
            wrap = draw(st.sampled_from([OrderedDict, _Frozen, types.MappingProxyType]))
            if isinstance(task.get("output"), dict):
                task["output"] = wrap(task["output"])
            job = wrap(job)
        elif change == "tuple":
            job["tasks"] = tuple(job["tasks"])
        elif change == "deep":
            task["options"] = {"a": {"b": [draw(odd_values)]}}
        elif change == "confusable":
            target[draw(st.sampled_from([*target, "progress", "width"]))] = draw(confusable)
        records.append(job)
    if draw(st.booleans()) and type(records[0]) is dict:
        # The same job again, later: the later record wins on every route.
        records.append({**records[0], "status": draw(st.sampled_from(["failed", "ready", 3]))})
    return records


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_records())
def test_dicts_through_ndjson_equal_careful_path(records: list[Any]) -> None:
    """Parsed records go to NDJSON and the fast path where their text stands for them
    exactly; the result is the careful path's on the records themselves."""
    from ittybit_frames.frames._ndjson import NdjsonReader

    careful = itf.to_frames(records, _reader=NdjsonReader(use_sql=False))
    assert_same(through_sql(records), careful)


def through_sql(
    records: Any, *, strict: bool = False, must_read: bool = True, **knobs: Any
) -> itf.JobFrames:
    """``to_frames`` by the fast route (DuckDB, for dicts after writing them to NDJSON)
    whatever the input's size: small inputs go the careful way by default, and a test
    comparing the routes would compare that path with itself. With ``must_read``, checks
    that DuckDB did read the input. ``knobs``: the reader's."""
    from ittybit_frames.frames import _ndjson

    passes: list[int] = []

    def read(*args: Any) -> Any:
        passes.append(1)
        return _ndjson._read(*args)

    reader = _ndjson.NdjsonReader(**{"min_lines": 0, "min_records": 0, "read": read, **knobs})
    frames = itf.to_frames(records, strict=strict, _reader=reader)
    assert passes or not must_read, "DuckDB read nothing: the fast route was not taken"
    return frames


def assert_same(left: itf.JobFrames, right: itf.JobFrames) -> None:
    """The same jobs, tasks and problems (problems in any order)."""
    assert_frame_equal(left.jobs, right.jobs)
    assert_frame_equal(left.tasks, right.tasks)
    columns = list(left.problems.columns)
    assert_frame_equal(
        left.problems.sort_values(columns).reset_index(drop=True),
        right.problems.sort_values(columns).reset_index(drop=True),
    )


# --------------------------------------------------------------------------------------
# Value accounting: every leaf of every variant in its column, in extra, or in problems.
# --------------------------------------------------------------------------------------
words = st.text("abcxyz_", min_size=1, max_size=5)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(words, children, max_size=2),
    max_leaves=4,
)
#: Fields whose values have a column (their path in extra would mean a value kept twice).
MAPPED = {
    "id", "kind", "status", "progress", "options", "metadata", "error", "error.kind",
    "error.message", "created_at", "created", "started_at", "finished_at", "updated_at",
    "updated", "input", "input.url", "output", "output.url",
    *(
        f"{f}.{k}"
        for f in ("input", "output")
        for k in (
            "kind", "format", "width", "height", "duration", "filesize", "bitrate", "fps",
            "codecs.video", "codecs.audio", "codecs.video.name", "codecs.audio.name",
        )
    ),
}  # fmt: skip
variant_stamps = st.one_of(
    ms,
    ms.map(lambda v: v // 1000),
    ms.map(lambda v: dt.datetime.fromtimestamp(v // 1000, dt.UTC).isoformat()),
)


@st.composite
def files(draw: st.DrawFn, kind_word: Any) -> dict[str, Any]:
    file: dict[str, Any] = {"url": draw(st.text("abc:/.", min_size=1, max_size=8))}
    optional: dict[str, Any] = {
        "object": st.sampled_from(["file", "external_file", "source"]),
        "kind": kind_word,
        "format": st.sampled_from(["mp4", "webm", "png"]),
        "width": st.integers(1, 8000),
        "height": st.integers(1, 8000),
        "duration": st.floats(0, 1e5, allow_nan=False) | st.integers(0, 10**5),
        "filesize": st.integers(0, 2**40),
        "bitrate": st.integers(0, 10**8),
        "fps": st.sampled_from([24, 25.0, 29.97]),
        "codecs": st.fixed_dictionaries(
            {},
            optional={
                "video": st.sampled_from(["h264", "vp9"])
                | st.fixed_dictionaries({"name": st.just("h264"), "profile": words}),
                "audio": st.sampled_from(["aac", "opus"])
                | st.fixed_dictionaries(
                    {"name": st.just("aac"), "sample_rate": st.integers(0, 10**6)}
                ),
            },
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            file[key] = draw(strategy)
    return file


KIND_WORDS_DRAWN = st.sampled_from(
    ["video", "probe", "ingest", "speech", "nsfw", "workflow", "upload", "vidoe"]
)
STATUS_WORDS_DRAWN = st.sampled_from(["succeeded", "ready", "completed", "pending", "error"])


@st.composite
def variant_record(draw: st.DrawFn, index: int, task: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": f"{'task' if task else 'job'}_{index}"}
    new_names = draw(st.booleans())
    optional: dict[str, Any] = {
        "kind": KIND_WORDS_DRAWN,
        "status": STATUS_WORDS_DRAWN,
        "created" if new_names else "created_at": variant_stamps,
        "finished_at": variant_stamps,
        "error": st.text(max_size=5)
        | st.fixed_dictionaries({"kind": words, "message": st.text(max_size=5)}),
    }
    if task:
        optional |= {
            "progress": st.integers(0, 100),
            "input": files(st.sampled_from(["video", "url", "audio"])),
            "output": files(st.sampled_from(["video", "image", "internal"])),
        }
    else:
        optional |= {"input": st.text("abc:/", min_size=1, max_size=6), "metadata": plain_values}
    for key, strategy in optional.items():
        if draw(st.booleans()):
            rec[key] = draw(strategy)
    return rec


def _objects(rec: dict[str, Any]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The objects of a record an unknown key may be put in, with their paths."""
    out: list[tuple[tuple[str, ...], dict[str, Any]]] = [((), rec)]
    for name in ("input", "output", "error"):
        if isinstance(rec.get(name), dict):
            out.append(((name,), rec[name]))
            codecs = rec[name].get("codecs")
            if isinstance(codecs, dict):
                out.append(((name, "codecs"), codecs))
                out += [((name, "codecs", k), v) for k, v in codecs.items() if isinstance(v, dict)]
    return out


@st.composite
def accounted_histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Any]]:
    """Jobs of every variant, with unknown keys (``x_...``) put at any depth; and where
    each unknown key went: (job id, task index or None, path, value)."""
    records: list[dict[str, Any]] = []
    planted: dict[tuple[Any, ...], Any] = {}
    for j in range(draw(st.integers(1, 4))):
        job = draw(variant_record(j, task=False))
        job["tasks"] = [draw(variant_record(t, task=True)) for t in range(draw(st.integers(0, 3)))]
        targets = [(None, *o) for o in _objects(job)]
        targets += [(t, *o) for t, task in enumerate(job["tasks"]) for o in _objects(task)]
        for _ in range(draw(st.integers(0, 4))):
            where, path, obj = draw(st.sampled_from(targets))
            key, value = "x_" + draw(words), draw(plain_values)
            obj[key] = value
            planted[job["id"], where, (*path, key)] = value  # the last one put stays
        records.append(job)
    return records, [(*where, value) for where, value in planted.items()]


def _extra_at(frames: itf.JobFrames, jid: str, index: int | None) -> dict[str, Any]:
    if index is None:
        row = frames.jobs[frames.jobs["job_id"] == jid].iloc[0]
    else:
        tasks = frames.tasks
        row = tasks[(tasks["job_id"] == jid) & (tasks["task_index"] == index)].iloc[0]
    return {} if pd.isna(row["extra"]) else json.loads(row["extra"])


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounted_histories())
def test_every_leaf_accounted_for_once(history: tuple[list[dict[str, Any]], list[Any]]) -> None:
    from ittybit_frames.frames._ndjson import NdjsonReader
    from tests.accounting import leaves, lost

    records, planted = history
    frames = itf.to_frames(copy.deepcopy(records))
    # Recoverable: every leaf in a column, in extra or in problems.
    assert lost(records, frames) == []
    # Unknown keys: in extra at their exact path, whatever their depth.
    for jid, index, path, value in planted:
        assert _dig(_extra_at(frames, jid, index), path) == value
    # Nowhere else: no extra holds a value that has a column.
    for table in (frames.jobs, frames.tasks):
        for text in table["extra"].dropna():
            kept = {".".join(p) for p, _ in leaves(json.loads(text))}
            assert not kept & MAPPED, kept & MAPPED
    # Identical from NDJSON, on both paths.
    data = ("\n".join(json.dumps(r) for r in records) + "\n\n").encode()
    # ...and from the dicts by the fast route (small inputs go the careful way).
    assert_same(through_sql(copy.deepcopy(records)), frames)
    assert_same(through_sql(data), frames)
    assert_same(itf.to_frames(data, _reader=NdjsonReader(use_sql=False)), frames)
