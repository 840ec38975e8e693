"""Where ``check_lake`` looks and repairs: a lake folder, or a lake in an object store."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ittybit_frames.frames import JobFrames
from ittybit_frames.lake._commit import leftovers, pending
from ittybit_frames.lake._format import INDEX, JOURNAL, MANIFEST
from ittybit_frames.lake._format import write_bytes_atomic as _write_atomic
from ittybit_frames.lake._index import INDEX_TABLE_KEY, build_index, index_of, index_table
from ittybit_frames.lake._lease import LEASE, Lease
from ittybit_frames.lake._lock import lock_lake
from ittybit_frames.lake._read import data_files
from ittybit_frames.lake._remote import RemoteSource
from ittybit_frames.lake._remote_commit import (
    JOBS_MARKER,
    STAGING,
    Journal,
    RemoteCommit,
    marker_of,
    own_key,
)
from ittybit_frames.lake._store import ObjectStore
from ittybit_frames.lake._swap import marker
from ittybit_frames.lake._write import index_bytes, write_locked, write_with


@dataclass(frozen=True)
class LocalPlace:
    """A lake folder."""

    root: Path

    @property
    def name(self) -> str:
        return str(self.root)

    def exists(self) -> bool:
        return self.root.is_dir()

    def pending(self) -> bool:
        return bool(pending(self.root)) or (self.root / JOURNAL).exists()

    def leftovers(self) -> tuple[list[str], list[str]]:
        ours, foreign = leftovers(self.root)
        # A committed write's files, still to be renamed in, are that write's (pending).
        staged = set(pending(self.root).files.values())
        ours = [p for p in ours if p not in staged]
        return [str(p.relative_to(self.root)) for p in ours], [
            str(p.relative_to(self.root)) for p in foreign
        ]

    def files(self, name: str) -> list[str]:
        return data_files(self.root, name)

    def read(self, file: str) -> pa.Table:
        return pq.read_table(file)

    def read_many(self, files: list[str]) -> list[pa.Table | Exception]:
        """Each file's table, or why it is unreadable."""
        return [_table(functools.partial(pq.read_table, f)) for f in files]

    def rel(self, file: str) -> str:
        return str(Path(file).relative_to(self.root))

    def has(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def index_of_live_table(self) -> bool:
        return index_table(self.root) == marker(self.root / "jobs")

    def index(self) -> pd.DataFrame:
        return index_of(self.root)

    @contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        with lock_lake(self.root, timeout=timeout):
            yield

    def rewrite(self, frames: JobFrames, partition_by: str | None, profile: str) -> None:
        write_locked(frames, self.root, "overwrite", partition_by, profile, None)

    def rebuild_index(self) -> None:
        data = index_bytes(build_index(self.root), marker(self.root / "jobs"))
        _write_atomic(self.root / INDEX, data)

    def drop_manifest(self) -> None:
        (self.root / MANIFEST).unlink(missing_ok=True)


@dataclass
class RemotePlace:
    """A lake in an object store."""

    store: ObjectStore
    lease: Lease | None = None  # while locked

    @property
    def name(self) -> str:
        return self.store.url

    @property
    def root(self) -> str:
        return self.store.url

    def exists(self) -> bool:
        return self.store.exists("")  # the lake's own prefix

    def pending(self) -> bool:
        return self.store.exists(JOURNAL)

    def leftovers(self) -> tuple[list[str], list[str]]:
        """(staging of writes that did not commit, objects that are not the lake's)."""
        ours, foreign = [], []
        known = {MANIFEST, INDEX, JOURNAL, LEASE, JOBS_MARKER}
        journal = Journal.read(self.store)
        committed = f"{STAGING}/{journal.token}/" if journal is not None else None
        for rel in self.store.find(""):
            if rel.startswith(f"{STAGING}/"):
                if committed is None or not rel.startswith(committed):
                    ours.append(rel)
            elif rel not in known and not own_key(rel):
                foreign.append(rel)  # reported, never removed (any other folder too)
        return ours, foreign

    def files(self, name: str) -> list[str]:
        return data_files(self.store.url, name)

    def read(self, file: str) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.store.fetch([file.split("://", 1)[1]])[0]))

    def read_many(self, files: list[str]) -> list[pa.Table | Exception]:
        """Each file's table, or why it is unreadable (all fetched at once)."""
        try:
            blobs = self.store.fetch([f.split("://", 1)[1] for f in files])
        except OSError:  # one is gone or unreadable: say which
            return [_table(functools.partial(self.read, f)) for f in files]
        return [_table(functools.partial(pq.read_table, pa.BufferReader(b))) for b in blobs]

    def rel(self, file: str) -> str:
        return file.removeprefix(self.store.url + "/")

    def has(self, rel: str) -> bool:
        return self.store.exists(rel)

    def index(self) -> pd.DataFrame:
        return RemoteSource(self.store).index()

    def index_of_live_table(self) -> bool:
        data = self.store.get(INDEX)
        if data is None:
            return False
        try:
            meta = pq.read_schema(pa.BufferReader(data)).metadata or {}
        except (OSError, ValueError, pa.ArrowException):
            return False
        token: bytes = meta.get(INDEX_TABLE_KEY, b"")
        return token.decode("utf-8", "replace") == marker_of(self.store)

    @contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        with lock_lake(self.store.url, timeout=timeout) as held:
            self.lease = held.lease
            try:
                yield
            finally:
                self.lease = None

    def rewrite(self, frames: JobFrames, partition_by: str | None, profile: str) -> None:
        if self.lease is None:
            raise RuntimeError("rewrite() needs the lease: call it inside locked()")
        commit = RemoteCommit(self.store, self.lease.confirm)
        source = RemoteSource(self.store)
        write_with(frames, commit, source, {}, "overwrite", partition_by, profile, self.store)

    def rebuild_index(self) -> None:
        index = build_index(self.store.url, self.store.fs)
        self.store.put(INDEX, index_bytes(index, marker_of(self.store)))

    def drop_manifest(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.store.delete([MANIFEST])


def _table(read: Callable[[], pa.Table]) -> pa.Table | Exception:
    try:
        return read()
    except (OSError, pa.ArrowException) as exc:
        return exc


Place = LocalPlace | RemotePlace
