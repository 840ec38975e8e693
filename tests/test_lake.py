"""The Parquet lake: layout, types on disk, merge semantics, atomicity, filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from ittybit_frames import lake
from ittybit_frames.lake._format import decoded as plain_types
from ittybit_frames.schema import JOBS, SCHEMA_VERSION, TASKS
from tests.frames_equal import assert_frame_equal


@pytest.fixture(scope="module")
def frames(history: list[dict[str, Any]]) -> itf.JobFrames:
    return itf.to_frames(history)


def sorted_jobs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["created_at", "job_id"]).reset_index(drop=True)


def sorted_tasks(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["job_created_at", "job_id", "task_index"]).reset_index(drop=True)


def partitions(folder: Path) -> list[Path]:
    """A table folder's partition folders (beside them: the hidden swap marker)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def test_round_trip_and_layout(tmp_path: Path, frames: itf.JobFrames) -> None:
    report = frames.to_parquet(tmp_path)
    assert report.inserted == len(frames.jobs) and report.jobs_written == len(frames.jobs)
    assert (tmp_path / "jobs" / ".ittybit_frames.table").is_file()
    days = [p.name for p in partitions(tmp_path / "jobs")]
    assert days == sorted({f"created_date={d:%Y-%m-%d}" for d in frames.jobs["created_at"]})
    assert [p.name for p in partitions(tmp_path / "tasks")] == days
    manifest = json.loads((tmp_path / "_ittybit_frames.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["partition_by"] == "day"
    back = itf.read_parquet(tmp_path)
    assert_frame_equal(back.jobs, sorted_jobs(frames.jobs))
    assert_frame_equal(back.tasks, sorted_tasks(frames.tasks))
    # A job and its tasks share a partition.
    for part in partitions(tmp_path / "tasks"):
        tasks = pq.read_table(part / "part-0.parquet", columns=["job_id"]).column(0).to_pylist()
        jobs = (
            pq.read_table(tmp_path / "jobs" / part.name / "part-0.parquet", columns=["job_id"])
            .column(0)
            .to_pylist()
        )
        assert set(tasks) <= set(jobs)


def test_files_are_ms_utc_zstd_sorted_with_metadata(tmp_path: Path, frames: itf.JobFrames) -> None:
    frames.to_parquet(tmp_path)
    first = partitions(tmp_path / "jobs")[0] / "part-0.parquet"
    meta = pq.ParquetFile(first)
    column = meta.schema.column(JOBS.names.index("created_at"))
    assert "isAdjustedToUTC=true" in str(column.logical_type)
    assert "timeUnit=milliseconds" in str(column.logical_type)
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
    kv = meta.schema_arrow.metadata
    assert kv[b"ittybit_frames.schema_version"] == str(SCHEMA_VERSION).encode()
    assert b"ittybit_frames.written_at" in kv and b"ittybit_frames.package_version" in kv
    created = pq.read_table(first, columns=["created_at"]).column(0).to_pylist()
    assert created == sorted(created)


def test_all_null_columns_keep_their_type(tmp_path: Path) -> None:
    job = {
        "id": "job_1",
        "kind": "video",
        "status": "queued",
        "created_at": 1790000000000,
        "tasks": [],
    }
    itf.to_frames([job]).to_parquet(tmp_path, partition_by=None)
    schema = pq.read_schema(tmp_path / "jobs.parquet")
    assert str(schema.field("finished_at").type) == "timestamp[ms, tz=UTC]"
    assert str(schema.field("task_count").type) == "int64"
    assert str(schema.field("error_kind").type) == "string"
    back = itf.read_parquet(tmp_path)
    assert back.jobs.dtypes.to_dict() == JOBS.dtypes()
    assert back.tasks.dtypes.to_dict() == TASKS.dtypes()


def test_merge_twice_changes_nothing(tmp_path: Path, frames: itf.JobFrames) -> None:
    frames.to_parquet(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("part-0.parquet")}
    first = itf.read_parquet(tmp_path)
    report = frames.to_parquet(tmp_path)
    assert report.unchanged == len(frames.jobs) and report.inserted == report.updated == 0
    assert report.partitions == []  # nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("part-0.parquet")} == before
    again = itf.read_parquet(tmp_path)
    assert_frame_equal(again.jobs, first.jobs)
    assert again.jobs["job_id"].is_unique


def test_merge_keeps_newest_and_rewrites_only_touched_days(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    history = json.loads(json.dumps(history))
    # A job seen while still processing (its end not yet known).
    target = next(j for j in history if j["status"] == "succeeded")
    target.update(status="processing", finished_at=None, updated_at=target["started_at"])
    itf.to_frames(history).to_parquet(tmp_path)
    newer = json.loads(json.dumps(target))
    newer.update(
        status="succeeded",
        finished_at=target["updated_at"] + 5000,
        updated_at=target["updated_at"] + 5000,
    )
    older = json.loads(json.dumps(target))
    older.update(status="queued", updated_at=target["updated_at"] - 5000)
    report = itf.to_frames([newer]).to_parquet(tmp_path)
    assert report.updated == 1 and len(report.partitions) == 1
    report = itf.to_frames([older]).to_parquet(tmp_path)  # stale: ignored
    assert report.unchanged == 1 and report.partitions == []
    back = itf.read_parquet(tmp_path).jobs.set_index("job_id")
    assert back.loc[target["id"], "status"] == "succeeded"
    assert len(back) == len(history)


def test_overwrite_and_append(tmp_path: Path, frames: itf.JobFrames) -> None:
    frames.to_parquet(tmp_path)
    few = itf.JobFrames(
        frames.jobs.head(5),
        frames.tasks[frames.tasks["job_id"].isin(frames.jobs.head(5)["job_id"])],
        frames.problems,
    )
    few.to_parquet(tmp_path, mode="overwrite")
    assert len(itf.read_parquet(tmp_path).jobs) == 5
    few.to_parquet(tmp_path, mode="append")
    assert len(itf.read_parquet(tmp_path).jobs) == 10  # append does not dedupe, by design
    hidden = {p.name for p in tmp_path.iterdir() if p.name.startswith(".")}
    # The lock, its holder, and the tables' twins (hard links, for the atomic swaps).
    assert hidden <= {".ittybit_frames.lock", ".ittybit_frames.holder.json"} | {
        ".jobs.swap",
        ".tasks.swap",
    }


def test_a_failed_write_leaves_the_previous_file(
    tmp_path: Path, frames: itf.JobFrames, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames.to_parquet(tmp_path)
    before = itf.read_parquet(tmp_path)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    changed = frames.jobs.copy()
    changed["updated_at"] = changed["updated_at"] + pd.Timedelta(seconds=1)
    monkeypatch.setattr(pq, "write_table", explode)
    with pytest.raises(OSError, match="disk full"):
        itf.JobFrames(changed, frames.tasks, frames.problems).to_parquet(tmp_path)
    monkeypatch.undo()
    after = itf.read_parquet(tmp_path)
    assert_frame_equal(after.jobs, before.jobs)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_read_filters_prune_partitions(
    tmp_path: Path, frames: itf.JobFrames, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames.to_parquet(tmp_path)
    day = frames.jobs["created_at"].iloc[len(frames.jobs) // 2].normalize()
    opened: list[str] = []
    import pyarrow.dataset as ds

    original = ds.dataset

    def spy(source: Any, **kwargs: Any) -> Any:
        opened.extend(source if isinstance(source, list) else [source])
        return original(source, **kwargs)

    monkeypatch.setattr(ds, "dataset", spy)
    window = itf.read_parquet(
        tmp_path, since=day, until=day + pd.Timedelta(days=1), kind="video", status="succeeded"
    )
    expected = frames.jobs[
        (frames.jobs["created_at"] >= day)
        & (frames.jobs["created_at"] < day + pd.Timedelta(days=1))
        & (frames.jobs["kind"] == "video")
        & (frames.jobs["status"] == "succeeded")
    ]
    assert sorted(window.jobs["job_id"]) == sorted(expected["job_id"])
    assert set(window.tasks["job_id"]) == set(expected["job_id"])
    assert {Path(p).parent.name for p in opened} == {f"created_date={day:%Y-%m-%d}"}
    cols = itf.read_parquet(tmp_path, columns=["job_id", "created_at"])
    assert list(cols.jobs.columns) == ["job_id", "created_at"]


def test_bad_arguments(tmp_path: Path, frames: itf.JobFrames) -> None:
    with pytest.raises(itf.ConfigurationError, match="profile"):
        frames.to_parquet(tmp_path, profile="excel")
    with pytest.raises(itf.ConfigurationError, match="mode"):
        frames.to_parquet(tmp_path, mode="upsert")  # type: ignore[arg-type]
    frames.to_parquet(tmp_path)
    with pytest.raises(itf.ConfigurationError, match="partitioned"):
        frames.to_parquet(tmp_path, partition_by=None)
    with pytest.raises(FileNotFoundError, match="write_parquet"):
        itf.read_parquet(tmp_path / "nope")


@pytest.mark.parametrize("profile", sorted(lake.PROFILES))
def test_profiles_round_trip(tmp_path: Path, frames: itf.JobFrames, profile: str) -> None:
    frames.to_parquet(tmp_path, profile=profile)
    back = itf.read_parquet(tmp_path)
    assert_frame_equal(back.jobs, sorted_jobs(frames.jobs))
    first = partitions(tmp_path / "jobs")[0] / "part-0.parquet"
    kind_type = pq.read_schema(first).field("kind").type
    assert ("dictionary" in str(kind_type)) == lake.PROFILES[profile].dictionary_categories


# --------------------------------------------------------------------------------------
# A lake written by the previous schema version (issue 14, point 6)
# --------------------------------------------------------------------------------------
_INPUT = ["kind", "format", "width", "height", "duration_seconds", "codec_video"]
_INPUT += ["codec_audio", "filesize_bytes", "bitrate", "fps"]
#: What schema version 2 added: kind_raw (jobs, tasks) and the task input_* columns.
V2_COLUMNS = {"jobs": ["kind_raw"], "tasks": ["kind_raw", *(f"input_{c}" for c in _INPUT)]}


def make_v1(path: Path) -> None:
    """Turn a lake into what schema version 1 wrote: files without v2's columns, marked
    version 1, and a version-1 manifest."""
    for name, added in V2_COLUMNS.items():
        for file in (path / name).glob("created_date=*/part-0.parquet"):
            table = pq.read_table(file).drop_columns(added)
            meta = {**table.schema.metadata, b"ittybit_frames.schema_version": b"1"}
            pq.write_table(table.replace_schema_metadata(meta), file, compression="zstd")
    manifest = json.loads((path / lake.MANIFEST).read_text())
    (path / lake.MANIFEST).write_text(json.dumps({**manifest, "schema_version": 1}))


def test_a_schema_v1_lake_is_read_merged_and_checked(tmp_path: Path, frames: itf.JobFrames) -> None:
    frames.to_parquet(tmp_path)
    make_v1(tmp_path)
    back = itf.read_parquet(tmp_path)
    assert back.jobs["kind_raw"].isna().all() and back.tasks["input_fps"].isna().all()
    kept = [c for c in JOBS.names if c not in V2_COLUMNS["jobs"]]
    assert_frame_equal(back.jobs[kept], sorted_jobs(frames.jobs)[kept])
    assert list(back.tasks.columns) == TASKS.names and len(back.tasks) == len(frames.tasks)
    report = itf.check_lake(tmp_path)
    assert report.healthy, report.problems
    assert report.notes and "schema v1" in report.notes[0]
    assert "notes" in report.to_dict()
    # Merge new versions of one middle day's jobs: that partition becomes v2, the rest
    # stay v1; the first file read is then a v1 file and the v2 columns must survive.
    day = sorted(frames.jobs["created_at"].dt.normalize().unique())[3]
    mine = frames.jobs["created_at"].dt.normalize() == day
    jobs = frames.jobs[mine].assign(
        updated_at=frames.jobs.loc[mine, "updated_at"] + pd.Timedelta(1, "s")
    )
    tasks = frames.tasks[frames.tasks["job_id"].isin(set(jobs["job_id"]))]
    itf.write_parquet(itf.JobFrames(jobs, tasks, frames.problems), tmp_path)
    back = itf.read_parquet(tmp_path)
    assert len(back.jobs) == len(frames.jobs) and back.jobs["job_id"].is_unique
    assert len(back.tasks) == len(frames.tasks)
    has_raw = back.jobs.set_index("job_id")["kind_raw"].notna()
    assert set(has_raw[has_raw].index) == set(jobs["job_id"])  # v2 rows keep it; v1: null
    narrow = itf.read_parquet(tmp_path, columns=["job_id", "kind_raw"]).jobs
    assert int(narrow["kind_raw"].notna().sum()) == len(jobs)
    assert itf.check_lake(tmp_path).healthy


def test_a_schema_v1_lake_is_synced_without_loss(tmp_path: Path) -> None:
    from ittybit_frames.simulator import generate_history, serve
    from tests.conftest import fast_client

    with serve(generate_history(300, seed=11)) as api, fast_client(api) as client:
        itf.sync(tmp_path, client=client)
        before = itf.read_parquet(tmp_path)
        make_v1(tmp_path)
        itf.sync(tmp_path, client=client)
    after = itf.read_parquet(tmp_path)
    assert set(before.jobs["job_id"]) <= set(after.jobs["job_id"])
    assert after.jobs["job_id"].is_unique
    assert set(after.tasks["job_id"]) == set(after.jobs["job_id"])
    assert itf.check_lake(tmp_path).healthy


# --------------------------------------------------------------------------------------
# Filters (issue 14, point 5)
# --------------------------------------------------------------------------------------
def test_read_filters_reject_unknown_words_and_filter_kind_raw(
    tmp_path: Path, frames: itf.JobFrames
) -> None:
    """Why: ``kind="vidoe"`` quietly read the ``other`` jobs (or none) instead of failing."""
    jobs = frames.jobs.head(6).copy()
    jobs["kind_raw"] = pd.array(["transcode_v9"] * 2 + [None] * 4, dtype=jobs["kind_raw"].dtype)
    jobs["kind"] = jobs["kind"].where(jobs["kind_raw"].isna(), "other")
    tasks = frames.tasks[frames.tasks["job_id"].isin(set(jobs["job_id"]))]
    itf.write_parquet(itf.JobFrames(jobs, tasks, frames.problems), tmp_path)
    for bad in ({"kind": "vidoe"}, {"status": "done-ish"}, {"kind": "transcode_v9"}):
        with pytest.raises(itf.ConfigurationError) as info:
            itf.read_parquet(tmp_path, **bad)
        message = str(info.value)
        assert "use one of" in message and "other" in message and "_raw" in message
        assert len(message.splitlines()) == 1
    assert len(itf.read_parquet(tmp_path, kind="other").jobs) == 2  # the category itself
    assert len(itf.read_parquet(tmp_path, status="ready").jobs) == int(
        (jobs["status"] == "succeeded").sum()
    )  # an older API's word for a category
    raw = itf.read_parquet(tmp_path, kind_raw="transcode_v9")
    assert sorted(raw.jobs["job_id"]) == sorted(jobs["job_id"].head(2))
    assert set(raw.tasks["job_id"]) == set(jobs["job_id"].head(2))
    assert len(raw.tasks) == int(tasks["job_id"].isin(set(jobs["job_id"].head(2))).sum())
    narrow = itf.read_parquet(tmp_path, kind_raw="transcode_v9", columns=["status"])
    assert list(narrow.jobs.columns) == ["status"] and len(narrow.jobs) == 2
    assert len(narrow.tasks) == len(raw.tasks)
    assert itf.read_parquet(tmp_path, kind_raw="nothing-sent-this").jobs.empty


def test_kind_raw_filters_a_v1_lake_without_the_column(
    tmp_path: Path, frames: itf.JobFrames
) -> None:
    frames.to_parquet(tmp_path)
    make_v1(tmp_path)
    got = itf.read_parquet(tmp_path, kind_raw="video")
    assert got.jobs.empty and got.tasks.empty  # v1 never stored it: no job matches


def test_check_reads_files_of_mixed_versions_and_encodings_row_by_row(
    tmp_path: Path, frames: itf.JobFrames
) -> None:
    """check_lake converts a table's files at once (concatenated in Arrow): a v1 file,
    a file whose categories are plain text, and the rest still give each row its own
    file's partition: one job moved into another day's file is the one reported."""
    frames.to_parquet(tmp_path)
    days = partitions(tmp_path / "jobs")
    assert len(days) >= 4
    v1_file, plain_file, source, target = (d / "part-0.parquet" for d in days[:4])
    old = pq.read_table(v1_file).drop_columns(V2_COLUMNS["jobs"])
    meta = {**old.schema.metadata, b"ittybit_frames.schema_version": b"1"}
    pq.write_table(old.replace_schema_metadata(meta), v1_file, compression="zstd")
    plain = pq.read_table(plain_file)
    decoded = plain.cast(plain_types(plain.schema))
    assert decoded.schema != plain.schema  # the categories were dictionary-encoded
    pq.write_table(decoded, plain_file, compression="zstd")
    assert itf.check_lake(tmp_path).healthy
    moving, staying = pq.read_table(source), pq.read_table(target)
    pq.write_table(moving.slice(1), source, compression="zstd")
    pq.write_table(pa.concat_tables([staying, moving.slice(0, 1)]), target, compression="zstd")
    problems = itf.check_lake(tmp_path).problems
    assert "1 jobs in the wrong day partition" in problems, problems
