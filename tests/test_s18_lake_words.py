"""Lake files this version did not write as it writes them: category words outside the
categories (another tool's file, a newer version's words), and jobs without an ID."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history
from ittybit_frames.vocabulary import STATUS_WORDS

#: An older API word for each status the simulator's jobs end in.
OLDER_WORDS = {"succeeded": "ready", "failed": "error", "cancelled": "canceled"}
OLDER_WORDS |= {"queued": "pending", "processing": "running"}


def _lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    itf.write_parquet(itf.to_frames(generate_history(30, seed=4)), lake)
    return lake


def _rewrite(path: Path, change: Any) -> None:
    """Rewrite one file with ``change(columns)`` applied (its metadata kept)."""
    table = pq.read_table(path)
    columns = {name: table[name].to_pylist() for name in table.column_names}
    change(columns)
    fields = []
    arrays = []
    for field in table.schema:
        values = columns[field.name]
        if pa.types.is_dictionary(field.type):
            # Stored as another writer might: plain text, words of its own.
            fields.append(pa.field(field.name, pa.string()))
            arrays.append(pa.array(values, pa.string()))
        else:
            fields.append(field)
            arrays.append(pa.array(values, field.type))
    schema = pa.schema(fields, metadata=table.schema.metadata)
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)


def _files(lake: Path, table: str) -> list[Path]:
    """The table's files, those of most rows first."""
    files = sorted((lake / table).rglob("*.parquet"))
    return sorted(files, key=lambda f: -pq.read_metadata(f).num_rows)


def test_words_outside_the_categories_read_as_the_api_words_are(tmp_path: Path) -> None:
    """Why: pandas made such a word NaN with a warning that it will refuse it (an error
    under this suite's warnings-as-errors), in read_parquet and check_lake. Now: an
    older API word maps to its category, an unknown one to 'other', and the word is
    kept in the raw twin where that is null."""
    lake = _lake(tmp_path)
    task_file = _files(lake, "tasks")[0]
    job_file = _files(lake, "jobs")[0]

    def tasks(c: dict[str, list[Any]]) -> None:
        c["kind"][0], c["kind_raw"][0] = "hologram", None
        c["kind"][1] = "ingest"  # an older word for import; its raw twin is kept
        c["status"][0], c["status_raw"][0] = "completed", None
        # An older word for the parent's own status (another would split the job).
        c["job_status"][0] = OLDER_WORDS[c["job_status"][0]]

    parent = pq.read_table(task_file)["job_id"][0].as_py()

    def jobs(c: dict[str, list[Any]]) -> None:
        # Not the first task's job (its tasks would then disagree with it).
        # An older word for its own status: its tasks' job_status still agrees.
        at = next(i for i, job_id in enumerate(c["job_id"]) if job_id != parent)
        c["status"][at], c["status_raw"][at] = OLDER_WORDS[c["status"][at]], None

    _rewrite(task_file, tasks)
    _rewrite(job_file, jobs)
    first_task = pq.read_table(task_file).slice(0, 2).to_pylist()
    first_job = next(
        j for j in pq.read_table(job_file).to_pylist() if j["status"] in OLDER_WORDS.values()
    )
    frames = itf.read_parquet(lake)
    t = frames.tasks.set_index(["job_id", "task_index"])
    row = t.loc[(first_task[0]["job_id"], first_task[0]["task_index"])]
    assert (row["kind"], row["kind_raw"]) == ("other", "hologram")
    assert (row["status"], row["status_raw"]) == ("succeeded", "completed")
    written = first_task[0]["job_status"]  # the older word, as the file holds it
    assert written in OLDER_WORDS.values()
    assert row["job_status"] == STATUS_WORDS[written]
    second = t.loc[(first_task[1]["job_id"], first_task[1]["task_index"])]
    assert (second["kind"], second["kind_raw"]) == ("import", first_task[1]["kind_raw"])
    j = frames.jobs.set_index("job_id").loc[first_job["job_id"]]
    assert (j["status"], j["status_raw"]) == (
        STATUS_WORDS[first_job["status"]],
        first_job["status"],
    )
    assert frames.tasks["kind"].notna().all() and frames.jobs["status"].notna().all()
    report = itf.check_lake(lake)
    assert report.healthy, report.problems


def _rename(lake: Path, job_id: str, column: str, word: str) -> None:
    """Write ``word`` as one job's ``column`` (kind or status), and as its tasks'
    ``job_<column>``, raw twins null (as another writer might)."""
    for table, name in (("jobs", column), ("tasks", f"job_{column}")):
        for file in _files(lake, table):
            ids = pq.read_table(file, columns=["job_id"])["job_id"].to_pylist()
            if job_id not in ids:
                continue

            def change(c: dict[str, list[Any]], name: str = name, ids: list[str] = ids) -> None:
                for i, other in enumerate(ids):
                    if other == job_id:
                        c[name][i] = word
                        if f"{name}_raw" in c:
                            c[f"{name}_raw"][i] = None

            _rewrite(file, change)


def test_a_filter_finds_each_job_under_the_word_it_reads_as(tmp_path: Path) -> None:
    """Why: read_parquet's kind/status filter compared the stored word, so a job stored
    as 'teleport' (read as other) or as 'ready' (read as succeeded) was not found by
    kind='other' or status='succeeded'. Now each filter finds exactly the jobs that
    read as its word, and their tasks follow."""
    lake = _lake(tmp_path)
    ids = itf.read_parquet(lake).jobs.sort_values("job_id")
    unknown, older = ids["job_id"].iloc[0], ids["job_id"].iloc[1]
    _rename(lake, unknown, "kind", " Teleport")
    _rename(lake, older, "status", OLDER_WORDS[ids["status"].iloc[1]].upper())
    frames = itf.read_parquet(lake)
    jobs = frames.jobs.set_index("job_id")
    assert jobs.loc[unknown, "kind"] == "other"
    assert jobs.loc[unknown, "kind_raw"] == " Teleport"
    assert jobs.loc[older, "status"] == ids["status"].iloc[1]
    assert itf.check_lake(lake).healthy
    for column in ("kind", "status"):
        for word in sorted(set(frames.jobs[column].astype(str))):
            got = itf.read_parquet(lake, **{column: word})
            want = set(frames.jobs.loc[frames.jobs[column] == word, "job_id"])
            assert set(got.jobs["job_id"]) == want, (column, word)
            assert set(got.tasks["job_id"]) <= want and len(got.tasks) == int(
                frames.tasks["job_id"].isin(want).sum()
            )


def test_jobs_without_an_id_are_named_as_such(tmp_path: Path) -> None:
    """Why: two jobs with a null job_id were reported as '0 job IDs have several rows'.
    Now: 'N jobs without a job_id', and no claim of repeated IDs."""
    lake = _lake(tmp_path)
    job_file = _files(lake, "jobs")[0]

    def jobs(c: dict[str, list[Any]]) -> None:
        c["job_id"][0] = None
        c["job_id"][1] = None

    _rewrite(job_file, jobs)
    report = itf.check_lake(lake)
    assert "2 jobs without a job_id" in report.problems
    assert not any("several rows" in p for p in report.problems), report.problems
    before = itf.read_parquet(lake)
    repaired = itf.check_lake(lake, repair=True)
    assert repaired.healthy
    # No key to keep them by: dropped, and said so, with their tasks (orphans now).
    (line,) = repaired.repaired
    assert "dropped 2 jobs without a job_id" in line
    assert f"({len(before.jobs) - 2} jobs," in line and "orphan tasks dropped (" in line
    after = itf.read_parquet(lake)
    assert set(after.jobs["job_id"]) == set(before.jobs["job_id"].dropna())


@pytest.mark.parametrize("words", [("video", "succeeded")])
def test_a_lake_of_known_words_reads_unchanged(tmp_path: Path, words: tuple[str, str]) -> None:
    """The mapping touches nothing when every word is a category."""
    frames = itf.to_frames(generate_history(30, seed=4))
    lake = tmp_path / "lake"
    itf.write_parquet(frames, lake)
    back = itf.read_parquet(lake)
    assert back.tasks["kind_raw"].isna().sum() == frames.tasks["kind_raw"].isna().sum()
    assert sorted(back.tasks["kind"].astype(str)) == sorted(frames.tasks["kind"].astype(str))
    assert words[0] in set(back.jobs["kind"].astype(str))
