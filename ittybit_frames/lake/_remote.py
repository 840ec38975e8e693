"""A write's view of a remote lake: its index and the partitions it rewrites, read from
the object store (only the touched partitions are fetched)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ittybit_frames.errors import ConfigurationError
from ittybit_frames.lake._format import INDEX, PART_FILE
from ittybit_frames.lake._index import INDEX_COLUMNS, INDEX_TABLE_KEY, build_index
from ittybit_frames.lake._lease import Lease, lease_lake
from ittybit_frames.lake._lock import LakeLock
from ittybit_frames.lake._remote_commit import ROOT, marker_of, own_key
from ittybit_frames.lake._store import ObjectStore


@dataclass(frozen=True)
class RemoteSource:
    """What a write reads of a remote lake (keys relative to the lake): each table is
    listed once, and only the partitions the write rewrites are fetched (one GET each)."""

    store: ObjectStore
    _listed: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _listing(self, name: str) -> set[str]:
        with self._guard:  # partitions are read from several threads
            if name not in self._listed:
                # The lake's own keys only: a user's jobs/backup/part-0.parquet is never
                # read, and never deleted by an overwrite.
                found = {
                    r for r in self.store.find(f"{name}/") if r.endswith(PART_FILE) and own_key(r)
                }
                self._listed[name] = found
            return self._listed[name]

    def _known(self, rel: str) -> bool:
        if "/" in rel:
            return rel in self._listing(rel.split("/", 1)[0])
        return self.store.exists(rel)

    def index(self) -> pd.DataFrame:
        """The job index (rebuilt from the jobs files when it is missing, unreadable or
        not of the live ``jobs/``)."""
        frame: pd.DataFrame | None = None
        data = self.store.get(INDEX)
        if data is not None:
            try:
                table = pq.read_table(pa.BufferReader(data))
            except (OSError, ValueError, pa.ArrowException):
                table = None
            meta = (table.schema.metadata or {}) if table is not None else {}
            if table is not None and meta.get(INDEX_TABLE_KEY, b"").decode() == marker_of(
                self.store
            ):
                frame = table.to_pandas()
        if frame is None:
            frame = build_index(self.store.url, self.store.fs)
        frame = frame.dropna(subset=["job_id"]).drop_duplicates("job_id", keep="last")
        return frame.set_index("job_id")[INDEX_COLUMNS[1:]]

    def read(self, target: PurePath) -> pa.Table | None:
        rel = PurePosixPath(target).as_posix()
        data = self.store.get(rel) if self._known(rel) else None
        return None if data is None else pq.read_table(pa.BufferReader(data))

    def exists(self, target: PurePath) -> bool:
        return self._known(PurePosixPath(target).as_posix())

    def files(self, name: str) -> list[PurePath]:
        """The table's partition files, as targets."""
        found = sorted(self._listing(name))
        if self.store.exists(f"{name}.parquet"):
            found.append(f"{name}.parquet")
        return [ROOT / r for r in found]


@contextmanager
def held(lock: LakeLock | None, store: ObjectStore, timeout: float) -> Iterator[Lease]:
    """The lease of ``lock`` (taken by the caller, e.g. ``sync``), else a new one."""
    if lock is not None:
        if lock.lease is None or lock.lease.store.url != store.url:
            raise ConfigurationError(f"lock= holds another lake than {store}")
        yield lock.lease
        return
    with lease_lake(store, timeout=timeout) as lease:
        yield lease
