"""Session 11's lake defects (noticed by session 10).

3. A lake written before session 10 may key a job by its padded ID (``" job_a"``): a
   merge of ``job_a`` added a second row, and ``check`` called the lake healthy.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import ittybit_frames as itf
from ittybit_frames.lake._place import LocalPlace
from tests.test_lake_safety import records


def old_lake(root: Path, padded: dict[str, str]) -> None:
    """A lake as a writer before session 10 left it: jobs (and their tasks) keyed by the
    padded IDs ``padded`` maps their IDs to, the index of those files."""
    itf.write_parquet(itf.to_frames(records("p", 4, days=2)), root)
    for table in ("jobs", "tasks"):
        for file in sorted((root / table).rglob("*.parquet")):
            data = pq.read_table(file)
            at = data.schema.get_field_index("job_id")
            ids = [padded.get(i, i) for i in data.column(at).to_pylist()]
            column = pa.array(ids, pa.string()).cast(data.schema.field(at).type)
            pq.write_table(data.set_column(at, data.schema.field(at), column), file)
    LocalPlace(root).rebuild_index()
    manifest = json.loads((root / itf.lake.MANIFEST).read_text())
    assert manifest.pop("ids_stripped") == manifest["updated_at"]  # as this writer left it
    (root / itf.lake.MANIFEST).write_text(json.dumps(manifest))  # as an older one did


def test_check_flags_a_padded_id_and_repair_keys_it_as_the_lake_now_does(tmp_path: Path) -> None:
    old_lake(tmp_path, {"job_p00001": " job_p00001\t"})
    report = itf.check_lake(tmp_path)
    assert not report.healthy
    [line] = [p for p in report.problems if "whitespace" in p]
    assert line.startswith("1 job ID with surrounding whitespace"), line
    assert "--repair" in line, line
    repaired = itf.check_lake(tmp_path, repair=True)
    assert repaired.healthy, repaired.problems
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == [f"job_p0000{i}" for i in range(4)]
    assert sorted(back.tasks["job_id"]) == [f"job_p0000{i}" for i in range(4)]


def test_a_merge_replaces_the_row_of_a_padded_id(tmp_path: Path) -> None:
    old_lake(tmp_path, {"job_p00001": " job_p00001", "job_p00002": "job_p00002 "})
    newer = copy.deepcopy(records("p", 4, days=2, version=1)[1])
    newer["status"] = "failed"
    report = itf.write_parquet(itf.to_frames([newer]), tmp_path)
    assert report.updated == 1 and report.inserted == 0, report
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == ["job_p00000", "job_p00001", "job_p00002 ", "job_p00003"]
    assert back.jobs.set_index("job_id").loc["job_p00001", "status"] == "failed"
    assert sorted(back.tasks["job_id"]) == sorted(back.jobs["job_id"])
    # The untouched padded job is still flagged, and the index still matches the files.
    problems = itf.check_lake(tmp_path).problems
    assert [p.split(" (")[0] for p in problems] == ["1 job ID with surrounding whitespace"]


def test_a_merge_of_the_same_job_under_its_plain_id_rekeys_its_row(tmp_path: Path) -> None:
    """Its row differs by the ID alone: it is rewritten under the plain ID (counted as
    updated), which heals the lake."""
    old_lake(tmp_path, {"job_p00003": "\ufeffjob_p00003"})
    report = itf.write_parquet(itf.to_frames(records("p", 4, days=2)[3:]), tmp_path)
    assert report.updated == 1 and report.inserted == 0, report
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == [f"job_p0000{i}" for i in range(4)]
    assert sorted(back.tasks["job_id"]) == [f"job_p0000{i}" for i in range(4)]
    assert itf.check_lake(tmp_path).healthy


def stripped_flag(root: Path) -> bool:
    """The manifest says the lake holds no padded ID (the flag is its writer's time)."""
    manifest = json.loads((root / itf.lake.MANIFEST).read_text())
    return "ids_stripped" in manifest and manifest["ids_stripped"] == manifest["updated_at"]


def test_the_manifest_says_when_no_id_is_padded_so_merges_need_not_look(tmp_path: Path) -> None:
    """Looking for an older writer's padded IDs costs a pass over the index on each
    merge; a lake known to hold none records it (each write keys IDs without padding)."""
    old_lake(tmp_path, {"job_p00001": " job_p00001"})
    more = records("q", 2, days=2)
    itf.write_parquet(itf.to_frames(more[:1]), tmp_path)
    assert stripped_flag(tmp_path) is False  # a padded ID is still there
    itf.check_lake(tmp_path, repair=True)
    assert stripped_flag(tmp_path) is True
    report = itf.write_parquet(itf.to_frames(more[1:]), tmp_path)
    assert report.inserted == 1
    assert stripped_flag(tmp_path) is True
    assert itf.check_lake(tmp_path).healthy
