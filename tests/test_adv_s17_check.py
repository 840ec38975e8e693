"""Adversarial pass on check_lake converting a table's files at once (concatenated in
Arrow, conformed to plain_schema) instead of file by file. Each test here passes on the
code before that change and on the change: no difference was found. They pin the
behaviours the change could have broken (each row's partition label, older and
differently encoded files, zero-row files, what --repair rewrites)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from ittybit_frames import lake
from ittybit_frames.lake._format import decoded as plain_types
from ittybit_frames.simulator import generate_history
from tests import test_lake_remote
from tests.frames_equal import assert_frame_equal

s3_endpoint, s3_lake = test_lake_remote.s3_endpoint, test_lake_remote.s3_lake

END = dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC)


def small(n: int = 60, days: float = 12, seed: int = 4) -> itf.JobFrames:
    return itf.to_frames(generate_history(n, seed=seed, end=END, days=days))


def files(root: Path, name: str = "jobs") -> list[Path]:
    return sorted((root / name).glob("created_date=*/part-0.parquet"))


def decoded(table: pa.Table) -> pa.Table:
    """The table with its dictionary columns as plain values (the spark profile's way)."""
    return table.cast(plain_types(table.schema))


def as_v1(table: pa.Table) -> pa.Table:
    meta = {**table.schema.metadata, b"ittybit_frames.schema_version": b"1"}
    return table.drop_columns(["kind_raw"]).replace_schema_metadata(meta)


def with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    i = table.column_names.index(name)
    return table.set_column(i, table.schema.field(name).with_type(values.type), values)


def canonical(frames: itf.JobFrames) -> tuple[pd.DataFrame, pd.DataFrame]:
    jobs = frames.jobs.sort_values("job_id").reset_index(drop=True)
    tasks = frames.tasks.sort_values(["job_id", "task_index"]).reset_index(drop=True)
    return jobs, tasks


def test_moved_rows_among_v1_plain_and_empty_files_are_found_and_repaired(
    tmp_path: Path,
) -> None:
    """Zero-row files between v1, plain-category and current files do not shift any
    row's label: exactly the one moved job (and its tasks) are reported, and --repair
    puts back the lake as written (the v1 file's kind_raw null)."""
    frames = small()
    frames.to_parquet(tmp_path)
    before = canonical(itf.read_parquet(tmp_path))
    jobs = files(tmp_path)
    assert len(jobs) >= 8
    pq.write_table(as_v1(pq.read_table(jobs[0])), jobs[0])
    pq.write_table(decoded(pq.read_table(jobs[2])), jobs[2])
    # a zero-row file of each kind, between the others
    pq.write_table(as_v1(pq.read_table(jobs[1])).slice(0, 0), jobs[1])
    pq.write_table(decoded(pq.read_table(jobs[3])).slice(0, 0), jobs[3])
    pq.write_table(pq.read_table(jobs[4]).slice(0, 0), jobs[4])
    source, target = pq.read_table(jobs[6]), pq.read_table(jobs[7])
    assert source.num_rows >= 1
    moved = source["job_id"][0].as_py()
    pq.write_table(source.slice(1), jobs[6])
    pq.write_table(pa.concat_tables([target, source.slice(0, 1)]), jobs[7])

    report = itf.check_lake(tmp_path)
    assert "1 jobs in the wrong day partition" in report.problems, report.problems
    assert report.notes and "schema v1" in report.notes[0]
    repaired = itf.check_lake(tmp_path, repair=True)
    assert repaired.healthy, repaired.problems
    assert any("rewrote the lake" in line for line in repaired.repaired)
    after = itf.read_parquet(tmp_path)
    assert after.jobs["job_id"].is_unique and moved in set(after.jobs["job_id"])
    row = after.jobs.set_index("job_id").loc[moved]
    assert row["created_at"].strftime("%Y-%m-%d") == jobs[6].parent.name.split("=")[1]
    jobs_after, _ = canonical(after)
    survivors = before[0][before[0]["job_id"].isin(set(jobs_after["job_id"]))]
    keep = [c for c in jobs_after.columns if c != "kind_raw"]
    assert_frame_equal(jobs_after[keep], survivors[keep].reset_index(drop=True), check_like=False)


@pytest.mark.parametrize("profile", ["default", "spark"])
def test_duplicates_across_encodings_repair_to_the_newest_row(tmp_path: Path, profile: str) -> None:
    """A job in two files of different encodings (dictionary vs plain categories): one
    row kept, the newer one, with its category values intact."""
    frames = small()
    frames.to_parquet(tmp_path, profile=profile)
    jobs = files(tmp_path)
    first, second = pq.read_table(jobs[0]), pq.read_table(jobs[1])
    copy = first.slice(0, 1)
    newer = copy["updated_at"][0].as_py() + dt.timedelta(seconds=5)
    copy = with_column(copy, "updated_at", pa.array([newer], pa.timestamp("ms", tz="UTC")))
    copy = with_column(copy, "status", pa.array(["failed"]))
    pq.write_table(decoded(pa.concat_tables([decoded(second), decoded(copy)])), jobs[1])
    report = itf.check_lake(tmp_path)
    assert "1 job IDs have several rows" in report.problems
    assert "1 jobs in the wrong day partition" in report.problems
    assert itf.check_lake(tmp_path, repair=True).healthy
    back = itf.read_parquet(tmp_path).jobs.set_index("job_id")
    job = copy["job_id"][0].as_py()
    assert back.loc[job, "status"] == "failed"
    assert back.loc[job, "updated_at"] == pd.Timestamp(newer)
    assert len(back) == len(frames.jobs)


@pytest.mark.parametrize(
    "change",
    [
        "job_id_dictionary",
        "float_dictionary",
        "timestamp_dictionary",
        "kind_int32_indices",
        "not_nullable",
        "field_metadata",
        "no_file_metadata",
        "one_row_per_group",
        "nan_not_null",
    ],
)
def test_odd_but_pinned_files_read_as_their_rows(tmp_path: Path, change: str) -> None:
    """Files of the pinned types in an unusual physical form (dictionary-encoded
    non-category columns, int32 dictionary indices, non-nullable fields, field metadata,
    no schema-version metadata, one row per row group): healthy, and --repair of an
    unrelated problem rewrites their rows unchanged."""
    small().to_parquet(tmp_path)
    before = canonical(itf.read_parquet(tmp_path))
    target = files(tmp_path)[0]
    table = pq.read_table(target)
    floats = [n for n in table.column_names if table.schema.field(n).type == pa.float64()]
    if change == "job_id_dictionary":
        table = with_column(table, "job_id", table["job_id"].combine_chunks().dictionary_encode())
    elif change == "float_dictionary":
        table = with_column(table, floats[0], table[floats[0]].combine_chunks().dictionary_encode())
    elif change == "timestamp_dictionary":
        created = table["created_at"].combine_chunks().dictionary_encode()
        table = with_column(table, "created_at", created)
    elif change == "kind_int32_indices":
        kind = table["kind"].combine_chunks()
        wide = pa.DictionaryArray.from_arrays(kind.indices.cast(pa.int32()), kind.dictionary)
        table = with_column(table, "kind", wide)
    elif change == "not_nullable":
        fields = [f.with_nullable(table[f.name].null_count > 0) for f in table.schema]
        table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    elif change == "field_metadata":
        fields = [f.with_metadata({b"x": b"y"}) for f in table.schema]
        table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    elif change == "no_file_metadata":
        table = table.replace_schema_metadata(None)
    elif change == "nan_not_null":
        table = with_column(table, floats[0], pa.array([float("nan")] * table.num_rows))
    pq.write_table(table, target, row_group_size=1 if change == "one_row_per_group" else None)
    report = itf.check_lake(tmp_path)
    assert report.healthy, report.problems
    # an unrelated problem, so that --repair rewrites every row through _all
    tasks = files(tmp_path, "tasks")[-1]
    extra = pq.read_table(tasks)
    pq.write_table(pa.concat_tables([extra, extra.slice(0, 1)]), tasks)
    repaired = itf.check_lake(tmp_path, repair=True)
    assert repaired.healthy and any("rewrote" in r for r in repaired.repaired), repaired
    after = canonical(itf.read_parquet(tmp_path))
    if change != "nan_not_null":
        assert_frame_equal(after[0], before[0])
    assert_frame_equal(after[1], before[1])


@pytest.mark.parametrize(
    "change", ["extra_column", "reordered", "timestamp_us", "timestamp_naive", "large_string"]
)
def test_files_not_of_the_pinned_schema_are_reported_and_left_out(
    tmp_path: Path, change: str
) -> None:
    small().to_parquet(tmp_path)
    target = files(tmp_path)[0]
    table = pq.read_table(target)
    options = {}
    if change == "extra_column":
        table = table.append_column("zzz", pa.array([1] * table.num_rows))
    elif change == "reordered":
        table = table.select(list(reversed(table.column_names)))
    elif change == "timestamp_us":
        micro = table["created_at"].cast(pa.timestamp("us", tz="UTC"))
        table = with_column(table, "created_at", micro)
        options = {"coerce_timestamps": None}
    elif change == "timestamp_naive":
        table = with_column(table, "created_at", table["created_at"].cast(pa.timestamp("ms")))
    elif change == "large_string":
        table = with_column(table, "job_id", table["job_id"].cast(pa.large_string()))
    n = table.num_rows
    pq.write_table(table, target, **options)
    report = itf.check_lake(tmp_path)
    rel = str(target.relative_to(tmp_path))
    assert f"not the pinned schema v2: {rel}" in report.problems
    assert f"{n * 4} tasks without their job" in report.problems  # 4 tasks a job here


def test_only_jobs_no_tasks_and_all_files_empty(tmp_path: Path) -> None:
    frames = small()
    frames.to_parquet(tmp_path)
    for file in files(tmp_path, "tasks"):
        file.unlink()
        file.parent.rmdir()
    assert itf.check_lake(tmp_path).healthy
    for file in files(tmp_path):
        pq.write_table(pq.read_table(file).slice(0, 0), file)
    report = itf.check_lake(tmp_path)
    assert report.problems == [f"the job index {lake.INDEX} does not match the jobs files"]
    assert itf.check_lake(tmp_path, repair=True).healthy
    back = itf.read_parquet(tmp_path)
    assert back.jobs.empty and back.tasks.empty


def test_a_category_value_not_in_the_list_reads_as_other_either_way(tmp_path: Path) -> None:
    """An unknown kind in a plain-text file (and a dictionary-encoded one): read as
    'other', as the conversion reads an unknown word (it was null, with pandas' warning
    that it will refuse such values), its tasks then disagree with it."""
    small().to_parquet(tmp_path)
    jobs = files(tmp_path)
    plain = decoded(pq.read_table(jobs[0]))
    pq.write_table(with_column(plain, "kind", pa.array(["bogus"] * plain.num_rows)), jobs[0])
    coded = pq.read_table(jobs[1])
    bogus = pa.DictionaryArray.from_arrays(
        pa.array([0] * coded.num_rows, pa.int8()), pa.array(["bogus2"])
    )
    pq.write_table(with_column(coded, "kind", bogus), jobs[1])
    n = plain.num_rows + coded.num_rows
    report = itf.check_lake(tmp_path)
    assert len(report.problems) == 1 and f"tasks of {n} jobs" in report.problems[0]
    assert "another job_kind than their job's" in report.problems[0]
    assert itf.check_lake(tmp_path, repair=True).healthy
    back = itf.read_parquet(tmp_path)
    assert int(back.jobs["kind"].isna().sum()) == 0
    assert int((back.jobs["kind"] == "other").sum()) >= n
    assert int((back.tasks["job_kind"] == "other").sum()) >= 1  # the repair wrote the job's


def test_many_partitions_with_gaps(tmp_path: Path) -> None:
    """~140 day files, every 7th emptied, every 5th plain, every 3rd v1: the one job
    moved 100 files away is the one reported."""
    small(n=240, days=200, seed=3).to_parquet(tmp_path)
    jobs = files(tmp_path)
    assert len(jobs) > 125
    src, dst = 20, 120
    a, b = pq.read_table(jobs[src]), pq.read_table(jobs[dst])
    pq.write_table(a.slice(1), jobs[src])
    pq.write_table(pa.concat_tables([b, a.slice(0, 1)]), jobs[dst])
    emptied = 0
    for i, file in enumerate(jobs):
        table = pq.read_table(file)
        if i % 5 == 0:
            table = decoded(table)
        if i % 3 == 0 and i != dst:
            table = as_v1(table)
        if i % 7 == 0 and i not in (src, dst):
            emptied += table.num_rows
            table = table.slice(0, 0)
        pq.write_table(table, file)
    report = itf.check_lake(tmp_path)
    assert "1 jobs in the wrong day partition" in report.problems, report.problems
    assert f"{emptied * 4} tasks without their job" in report.problems
    assert itf.check_lake(tmp_path, repair=True).healthy


def _v1_and_plain(folder: Path) -> None:
    """The first jobs file made v1's, the second given its categories as plain text."""
    jobs = files(folder)
    pq.write_table(as_v1(pq.read_table(jobs[0])), jobs[0])
    pq.write_table(decoded(pq.read_table(jobs[1])), jobs[1])


def test_a_lake_check_lake_calls_healthy_is_readable(tmp_path: Path) -> None:
    """A v1 file first, then one with plain categories: check_lake finds it healthy,
    and read_parquet reads it (it raised ArrowTypeError: Unable to merge: Field kind
    has incompatible types, the encoded and the plain category)."""
    frames = small()
    frames.to_parquet(tmp_path)
    _v1_and_plain(tmp_path)
    assert itf.check_lake(tmp_path).healthy
    back = itf.read_parquet(tmp_path)
    jobs, _ = canonical(back)
    want, _ = canonical(frames)
    v1_ids = set(pq.read_table(files(tmp_path)[0])["job_id"].to_pylist())
    assert int(jobs["kind_raw"].isna().sum()) == len(v1_ids)  # v1 rows: null, the rest kept
    kept = [c for c in want.columns if c != "kind_raw"]
    assert_frame_equal(jobs[kept], want[kept])


def test_the_same_lake_in_an_object_store_is_readable(tmp_path: Path, s3_lake: str) -> None:
    """As above, the files in an object store (each fetched whole and concatenated,
    which refused the encoded and the plain category together)."""
    from ittybit_frames.lake._store import ObjectStore

    frames = small()
    frames.to_parquet(tmp_path)
    _v1_and_plain(tmp_path)
    frames.to_parquet(s3_lake)
    store = ObjectStore.open(s3_lake)
    for file in files(tmp_path)[:2]:
        store.put(file.relative_to(tmp_path).as_posix(), file.read_bytes())
    assert itf.check_lake(s3_lake).healthy
    assert_frame_equal(itf.read_parquet(s3_lake).jobs, itf.read_parquet(tmp_path).jobs)
