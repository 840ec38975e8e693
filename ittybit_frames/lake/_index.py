"""The lake's job -> partition index: one row per job ID, so an upsert finds a job's
earlier version in whatever partition it landed without opening the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ittybit_frames.lake._format import INDEX, conform, from_arrow
from ittybit_frames.lake._read import data_files, partition_label
from ittybit_frames.schema import JOBS, epoch_ms_array

INDEX_COLUMNS = ["job_id", "partition", "updated_at", "row_hash"]


def row_hashes(jobs: pd.DataFrame) -> np.ndarray[Any, Any]:
    """A content hash per job row, to tell a changed record from a repeat on a tie."""
    if jobs.empty:
        return np.zeros(0, dtype=np.uint64)
    hashed = pd.util.hash_pandas_object(jobs[JOBS.names], index=False)
    return hashed.to_numpy(dtype=np.uint64)


def build_index(root: Path) -> pd.DataFrame:
    """The index, rebuilt from the jobs files (a lake written before the index existed)."""
    parts = []
    for file in data_files(root, "jobs"):
        jobs = conform(from_arrow(pq.read_table(file), JOBS), JOBS)  # v1 files too
        parts.append(
            pd.DataFrame(
                {
                    "job_id": jobs["job_id"].astype(object).to_numpy(),
                    "partition": partition_label(Path(file)),
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


def index_of(root: Path) -> pd.DataFrame:
    """The index keyed by ``job_id`` (read, or rebuilt when missing or unreadable)."""
    try:
        frame: pd.DataFrame = pq.read_table(root / INDEX).to_pandas()
    except (OSError, ValueError):
        frame = build_index(root)
    frame = frame.dropna(subset=["job_id"]).drop_duplicates("job_id", keep="last")
    return frame.set_index("job_id")[INDEX_COLUMNS[1:]]
