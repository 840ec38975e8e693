"""Session 11b's adversarial pass over the lake's padded-ID bookkeeping.

1. ``ids_stripped`` in the manifest lets a merge skip the look for an older writer's
   padded IDs. A writer before session 10 keeps every manifest key it does not know
   (``{**manifest, ...}``), so after it merged a job keyed by its padded ID into a lake
   a new writer had flagged, the flag still said "none": the next merge of that job
   under its plain ID added a second row (and a second set of tasks).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import ittybit_frames as itf
from ittybit_frames.lake._place import LocalPlace
from tests.test_lake_safety import records


def older_writer_pads(root: Path, job_id: str, padded: str) -> None:
    """What a writer before session 10 leaves after merging ``job_id`` as the API listed
    it (``padded``): the job and its tasks keyed by the padded ID, the index of those
    files, and the manifest it read with its own ``updated_at`` (every other key kept,
    ``ids_stripped`` too: it does not know the key)."""
    for table in ("jobs", "tasks"):
        for file in sorted((root / table).rglob("*.parquet")):
            data = pq.read_table(file)
            at = data.schema.get_field_index("job_id")
            ids = [padded if i == job_id else i for i in data.column(at).to_pylist()]
            column = pa.array(ids, pa.string()).cast(data.schema.field(at).type)
            pq.write_table(data.set_column(at, data.schema.field(at), column), file)
    LocalPlace(root).rebuild_index()
    manifest = json.loads((root / itf.lake.MANIFEST).read_text())
    manifest["updated_at"] = dt.datetime.now(dt.UTC).isoformat()
    (root / itf.lake.MANIFEST).write_text(json.dumps(manifest))


def test_a_merge_after_an_older_writer_finds_its_padded_id_despite_the_flag(
    tmp_path: Path,
) -> None:
    itf.write_parquet(itf.to_frames(records("p", 4, days=2)), tmp_path)
    older_writer_pads(tmp_path, "job_p00001", " job_p00001")
    newer = copy.deepcopy(records("p", 4, days=2, version=1)[1])
    newer["status"] = "failed"
    report = itf.write_parquet(itf.to_frames([newer]), tmp_path)
    assert report.updated == 1 and report.inserted == 0, report
    back = itf.read_parquet(tmp_path)
    assert sorted(back.jobs["job_id"]) == [f"job_p0000{i}" for i in range(4)]
    assert sorted(back.tasks["job_id"]) == sorted(back.jobs["job_id"])
    assert back.jobs.set_index("job_id").loc["job_p00001", "status"] == "failed"
    assert itf.check_lake(tmp_path).healthy
