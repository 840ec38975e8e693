"""The lake's job -> partition index: one row per job ID, so an upsert finds a job's
earlier version in whatever partition it landed without opening the others.

The index records (in its Parquet metadata) the token of the ``jobs/`` table it
describes; an index whose token is not the live table's (restored from a backup, copied
from another lake, of an older version) is not trusted: it is rebuilt from the files,
since a wrong partition for a job would make a merge write the job a second row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ittybit_frames.lake._format import INDEX, conform, from_arrow
from ittybit_frames.lake._read import data_files, partition_label
from ittybit_frames.lake._swap import marker
from ittybit_frames.schema import JOBS, epoch_ms_array

INDEX_COLUMNS = ["job_id", "partition", "updated_at", "row_hash"]
INDEX_TABLE_KEY = b"ittybit_frames.jobs_table"  # the jobs/ token the index describes


def row_hashes(jobs: pd.DataFrame) -> np.ndarray[Any, Any]:
    """A content hash per job row, to tell a changed record from a repeat on a tie."""
    if jobs.empty:
        return np.zeros(0, dtype=np.uint64)
    hashed = pd.util.hash_pandas_object(jobs[JOBS.names], index=False)
    return hashed.to_numpy(dtype=np.uint64)


def build_index(root: Path | str, filesystem: Any = None) -> pd.DataFrame:
    """The index, rebuilt from the jobs files (a lake written before the index existed)."""
    parts = []
    for file in data_files(root, "jobs"):
        where = file.split("://", 1)[1] if filesystem is not None else file
        arrow = pq.read_table(where, filesystem=filesystem, pre_buffer=True)
        jobs = conform(from_arrow(arrow, JOBS), JOBS)  # v1 files too
        parts.append(
            pd.DataFrame(
                {
                    "job_id": jobs["job_id"].astype(object).to_numpy(),
                    "partition": partition_label(Path(where)),
                    "updated_at": epoch_ms_array(jobs["updated_at"]),
                    "row_hash": row_hashes(jobs),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                "job_id": pd.Series([], dtype=object),
                "partition": pd.Series([], dtype=object),
                "updated_at": pd.Series([], dtype=np.float64),
                "row_hash": pd.Series([], dtype=np.uint64),
            }
        )
    return pd.concat(parts, ignore_index=True)


def index_table(root: Path) -> str | None:
    """The ``jobs/`` token the index describes (None: no readable index)."""
    try:
        meta = pq.read_schema(root / INDEX).metadata or {}
    except (OSError, ValueError):
        return None
    raw: bytes = meta.get(INDEX_TABLE_KEY, b"")
    return raw.decode("utf-8", "replace")


def index_of(root: Path) -> pd.DataFrame:
    """The index keyed by ``job_id`` (read; rebuilt when missing, unreadable, or not
    of the live ``jobs/`` table)."""
    frame: pd.DataFrame | None = None
    if index_table(root) == marker(root / "jobs"):
        try:
            frame = pq.read_table(root / INDEX).to_pandas()
        except (OSError, ValueError):
            frame = None
    if frame is None:
        frame = build_index(root)
    frame = frame.dropna(subset=["job_id"]).drop_duplicates("job_id", keep="last")
    return frame.set_index("job_id")[INDEX_COLUMNS[1:]]
