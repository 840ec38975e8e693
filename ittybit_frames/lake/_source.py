"""What a write works through: the lake it reads (:class:`Source`) and the change it
stages (:class:`Staging`), on local disk or in an object store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ittybit_frames.lake._format import Profile
from ittybit_frames.lake._index import index_of
from ittybit_frames.lake._read import data_files


class Staging(Protocol):
    """One atomic change being staged: :class:`Commit` on disk, or an object store's."""

    @property
    def root(self) -> PurePath: ...
    @property
    def tokens(self) -> dict[str, str]: ...
    @property
    def empty(self) -> bool: ...
    def jobs_token(self) -> str: ...
    def stage_table(self, arrow: pa.Table, target: PurePath, profile: Profile) -> None: ...
    def stage_bytes(self, data: bytes, target: PurePath) -> None: ...
    def delete(self, target: PurePath) -> None: ...
    def settle(self) -> None: ...
    def run(self) -> None: ...
    def discard(self) -> None: ...


class Source(Protocol):
    """The lake a write reads (its index, the partitions it rewrites), by target name."""

    def index(self) -> pd.DataFrame: ...
    def read(self, target: PurePath) -> pa.Table | None: ...
    def exists(self, target: PurePath) -> bool: ...
    def files(self, name: str) -> list[PurePath]: ...


@dataclass(frozen=True)
class LocalSource:
    root: Path

    def index(self) -> pd.DataFrame:
        return index_of(self.root)

    def read(self, target: PurePath) -> pa.Table | None:
        return pq.read_table(target) if Path(target).exists() else None

    def exists(self, target: PurePath) -> bool:
        return Path(target).exists()

    def files(self, name: str) -> list[PurePath]:
        return [Path(f) for f in data_files(self.root, name)]
