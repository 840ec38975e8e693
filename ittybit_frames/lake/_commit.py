"""The commit protocol: stage, journal, swap the tables in, forget the journal.

See :mod:`ittybit_frames.lake` for the protocol and what readers see in each window, and
:mod:`ittybit_frames.lake._swap` for the table swaps. Everything here runs with the
lake's lock held (:mod:`ittybit_frames.lake._lock`), so any temporary file or staged
folder found by :func:`recover` belongs to a writer that is gone.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath

import orjson
import pyarrow as pa

from ittybit_frames.lake._format import (
    HOLDER,
    INDEX,
    IO_THREADS,
    JOURNAL,
    LOCK,
    MANIFEST,
    PART_FILE,
    PARTITION,
    TABLE_MARKER,
    TABLES,
    Profile,
    fsync_dir,
    fsync_dirs,
    fsync_file,
    is_temp,
    temp_name,
    valid_partition,
    write_bytes_atomic,
    write_table_file,
)
from ittybit_frames.lake._swap import (
    Exchange,
    Scope,
    drop,
    exchange_dirs,
    marker,
    real_folder,
    reconcile,
    restore,
    swap_table,
    thin,
    twin,
)

logger = logging.getLogger("ittybit_frames.lake")

#: The named steps a write passes, in order; ``on_step`` is called with each.
STEPS = ("staging", "staged", "committed", "applying", "applied")

OnStep = Callable[[str], None]


@dataclass
class _StagedTable:
    folder: Path  # LAKE/.jobs.swap: the table's twin, brought level, then given new files
    token: str  # this write's name, in the twin's marker
    changed: set[Path]  # folders to fsync
    parts: set[str] = field(default_factory=set)  # partition folders rewritten or removed


class _Background:
    """The fsyncs of staged files (and the renames that wait for them), on threads of
    their own: the threads that encode partitions go on encoding meanwhile."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._pool: cf.ThreadPoolExecutor | None = None
        self._futures: list[cf.Future[None]] = []

    def submit(self, function: Callable[..., None], *args: object) -> None:
        with self._guard:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="lake-fsync")
            self._futures.append(self._pool.submit(function, *args))

    def wait(self) -> None:
        """Wait for everything submitted; raise the first failure."""
        with self._guard:
            pool, futures, self._pool, self._futures = self._pool, self._futures, None, []
        try:
            for future in futures:
                future.result()
        finally:
            if pool is not None:
                pool.shutdown(wait=True)


def _settle(tmp: Path, final: Path | None) -> None:
    """fsync a staged file, then (into a twin) rename it to its final name."""
    try:
        fsync_file(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if final is not None:
        os.replace(tmp, final)


@dataclass
class Commit:
    """One atomic change to the lake: tables to swap in, files to put in place or remove.

    ``scope`` is what a twin is first brought level with (:func:`reconcile`): the whole
    table, or for an overwrite only its users' files.
    """

    root: Path
    on_step: OnStep | None = None
    exchange: Exchange = exchange_dirs
    scope: Scope = "table"
    renames: list[tuple[Path, Path]] = field(default_factory=list)  # temporary -> target
    deletes: list[Path] = field(default_factory=list)
    tables: dict[str, _StagedTable] = field(default_factory=dict)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (table, partition)
    #: The token each table's twin gets if this write swaps it (its marker).
    tokens: dict[str, str] = field(default_factory=lambda: {n: uuid.uuid4().hex for n in TABLES})
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _background: _Background = field(default_factory=_Background, repr=False)
    _staged: int = 0

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    @property
    def empty(self) -> bool:
        """True when nothing has been staged."""
        return not (self.renames or self.deletes or self.tables or self.removed)

    def _partition_of(self, target: PurePath) -> tuple[str, str] | None:
        """(table, partition folder) when ``target`` is a partition file of a table."""
        part, table = target.parent, target.parent.parent
        ours = table.parent == self.root and table.name in TABLES
        if ours and target.name == PART_FILE and part.name.startswith(f"{PARTITION}="):
            return table.name, part.name
        return None

    def _table(self, name: str) -> _StagedTable:
        with self._guard:  # partitions are staged from several threads
            if name not in self.tables:
                live = self.root / name
                changed = reconcile(live, twin(live), self.scope)  # level with the table first
                self.tables[name] = _StagedTable(twin(live), self.tokens[name], changed)
            return self.tables[name]

    def stage_table(self, arrow: pa.Table, target: PurePath, profile: Profile) -> None:
        """Write a Parquet file that will replace ``target`` on commit; its fsync (then,
        into a twin, its rename) finishes in the background (:meth:`settle`)."""
        where = self._partition_of(target)
        if where is not None:  # into the table's twin, never over a file it shares
            table = self._table(where[0])
            real_folder(table.folder / where[1])  # never write through a user's symlink
            final = table.folder / where[1] / PART_FILE
            tmp = temp_name(final)
            write_table_file(arrow, tmp, profile, sync=False)
            self._background.submit(_settle, tmp, final)
            with self._guard:
                table.parts.add(where[1])
                table.changed.add(final.parent)
        else:
            tmp = temp_name(Path(target))
            with self._guard:
                self.renames.append((tmp, Path(target)))
            write_table_file(arrow, tmp, profile, sync=False)
            self._background.submit(_settle, tmp, None)
        with self._guard:
            self._staged += 1
            first = self._staged == 1
        if first:
            self._step("staging")

    def jobs_token(self) -> str:
        """The token ``jobs/`` will carry once this write is applied."""
        if "jobs" in self.tables or any(name == "jobs" for name, _ in self.removed):
            return self._table("jobs").token
        return marker(self.root / "jobs")

    def stage_bytes(self, data: bytes, target: PurePath) -> None:
        """A small file (index, manifest) that will replace ``target`` on commit (the
        last one staged for a target wins); fsynced in the background (:meth:`settle`)."""
        tmp = temp_name(Path(target))
        with self._guard:
            self.renames.append((tmp, Path(target)))
        tmp.write_bytes(data)
        self._background.submit(_settle, tmp, None)

    def settle(self) -> None:
        """Wait until every staged file is durable and in place in its twin."""
        self._background.wait()

    def discard(self) -> None:
        """Remove what was staged, when the write fails before its commit point: the
        temporary files, and the twins' files of their own (links of the table stay), so
        a failed write holds no disk and leaves nothing for ``check`` to report."""
        with contextlib.suppress(Exception):
            self._background.wait()
        if (self.root / JOURNAL).exists():
            return  # committed: the next writer rolls it forward
        for tmp, _ in self.renames:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        for name, table in self.tables.items():
            with contextlib.suppress(OSError):  # else the next writer's recovery does it
                fsync_dirs(reconcile(self.root / name, table.folder, "held"))

    def delete(self, target: PurePath) -> None:
        """Remove ``target`` on commit."""
        where = self._partition_of(target)
        if where is not None:
            self.removed.append(where)
        else:
            self.deletes.append(Path(target))

    def _finish_tables(self) -> None:
        """Remove the partitions that go from the twins, mark them, make them durable."""
        for name, part in self.removed:
            table = self._table(name)
            drop(table.folder / part / PART_FILE, table.folder)
            table.parts.add(part)
            table.changed.add(table.folder)
        for table in self.tables.values():
            write_bytes_atomic(table.folder / TABLE_MARKER, table.token.encode())
        fsync_dirs({folder for table in self.tables.values() for folder in table.changed})

    def run(self) -> None:
        """Commit: finish the twins, write the journal (the commit point), apply it."""
        self.settle()
        self._finish_tables()
        self._step("staged")
        fsync_dirs({tmp.parent for tmp, _ in self.renames} | {self.root})
        rel = [
            [t.relative_to(self.root).as_posix(), p.relative_to(self.root).as_posix()]
            for t, p in self.renames
        ]
        swaps = [
            [n, self.tables[n].token, sorted(self.tables[n].parts)]
            for n in ("tasks", "jobs")  # tasks before jobs
            if n in self.tables
        ]
        body = {
            "swaps": swaps,
            "renames": rel,
            "deletes": [p.relative_to(self.root).as_posix() for p in self.deletes],
        }
        write_bytes_atomic(self.root / JOURNAL, orjson.dumps(body))
        self._step("committed")
        _apply(self.root, _Journal.parse(body), self._step, self.exchange)


@dataclass(frozen=True)
class _Swap:
    table: str  # jobs or tasks
    token: str  # the write whose twin is swapped in
    parts: list[str]  # the partitions it rewrote or removed


@dataclass(frozen=True)
class _Journal:
    swaps: list[_Swap]
    renames: list[tuple[str, str]]  # temporary -> target, relative to the lake
    deletes: list[str]

    @classmethod
    def parse(cls, body: object) -> _Journal:
        """The journal in ``body``; an empty one (nothing to do) unless every entry is
        one this package writes: a foreign or tampered journal is never followed, above
        all not to a file outside the lake (``../``, absolute paths)."""
        try:
            journal = cls._parse(body)
        except (TypeError, ValueError, AttributeError):
            journal = None
        if journal is None:
            logger.warning("ignoring a journal this package did not write")
            return cls([], [], [])
        return journal

    @classmethod
    def _parse(cls, body: object) -> _Journal | None:
        if not isinstance(body, dict):
            return None
        swaps, renames, deletes = [], [], []
        for table, token, parts in body.get("swaps", []):
            if table not in TABLES or not isinstance(token, str) or isinstance(parts, str):
                return None
            if not all(isinstance(p, str) and _partition_folder(p) for p in parts):
                return None
            swaps.append(_Swap(table, token, list(parts)))
        for tmp, target in body.get("renames", []):
            if not (_lake_file(target) and isinstance(tmp, str)):
                return None
            if PurePosixPath(tmp).parent != PurePosixPath(target).parent or not is_temp(Path(tmp)):
                return None
            renames.append((tmp, target))
        for target in body.get("deletes", []):
            if not _lake_file(target):
                return None
            deletes.append(target)
        return cls(swaps, renames, deletes)


def _partition_folder(name: str) -> bool:
    label = name.removeprefix(f"{PARTITION}=")
    return label != name and valid_partition(label)


def _lake_file(rel: object) -> bool:
    """True for a path (relative to the lake) of one of the lake's own files."""
    if not isinstance(rel, str):
        return False
    parts = PurePosixPath(rel).parts
    if len(parts) == 1:
        return parts[0] in (MANIFEST, INDEX, *(f"{name}.parquet" for name in TABLES))
    if len(parts) == 3:
        return parts[0] in TABLES and _partition_folder(parts[1]) and parts[2] == PART_FILE
    return False


def _read_journal(root: Path) -> _Journal | None:
    try:
        body = orjson.loads((root / JOURNAL).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError):
        # Written atomically, so never half-written: this one is not ours.
        logger.warning("ignoring an unreadable journal %s", root / JOURNAL)
        return _Journal([], [], [])
    return _Journal.parse(body)


@dataclass
class Pending:
    """What a committed but unfinished write still has to do, for readers.

    ``files`` maps each target not yet in place to the temporary file holding its new
    content, and each file still to be removed to None; ``tables`` maps each table not
    yet swapped in to its twin. Falsy when no write is pending.
    """

    files: dict[Path, Path | None] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.files or self.tables)


def pending(root: Path) -> Pending:
    """The committed state a reader should see while a write is being applied."""
    body = _read_journal(root)
    view = Pending()
    if body is None:
        return view
    for swap in body.swaps:
        live = root / swap.table
        if marker(live) != swap.token and marker(twin(live)) == swap.token:
            view.tables[swap.table] = twin(live)
    for tmp, target in body.renames:
        if (root / tmp).exists():
            view.files[root / target] = root / tmp
    for target in body.deletes:
        view.files[root / target] = None
    return view


def _apply(root: Path, body: _Journal, step: OnStep, exchange: Exchange) -> None:
    announced = False
    for swap in body.swaps:
        if not swap_table(root / swap.table, swap.token, exchange):
            logger.warning("%s: the new %s is gone; the table is kept as it is", root, swap.table)
        if not announced:
            announced = True
            step("applying")  # a plain-glob reader may see new tasks with old jobs here
    for i, (tmp, target) in enumerate(body.renames):
        if (root / tmp).exists():
            os.replace(root / tmp, root / target)
        if i == len(body.renames) // 2 and not announced:
            announced = True
            step("applying")
    for target in body.deletes:
        with contextlib.suppress(FileNotFoundError):
            (root / target).unlink()
    for directory in {(root / t).parent for _, t in body.renames}:
        fsync_dir(directory)
    for swap in body.swaps:
        shadow = twin(root / swap.table)
        if marker(shadow) != swap.token:  # the old state, swapped out: keep links only
            thin(shadow, swap.parts)
            for folder in restore(root / swap.table, shadow):  # files users dropped meanwhile
                fsync_dir(folder)
    step("applied")
    (root / JOURNAL).unlink()
    fsync_dir(root)


def leftovers(root: Path) -> tuple[list[Path], list[Path]]:
    """(files and folders a dead writer left, files the lake does not know).

    Leftovers: temporary files, the ``.overwrite-*``/``.old-*`` folders of earlier
    versions, empty partition folders. Foreign: anything else that is not the lake's.
    """
    ours, foreign = [], []
    known = {MANIFEST, JOURNAL, INDEX, LOCK, HOLDER, "jobs.parquet", "tasks.parquet", *TABLES}
    known |= {twin(root / name).name for name in TABLES}
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if is_temp(entry) or entry.name.startswith((".overwrite-", ".old-")):
            ours.append(entry)
        elif entry.name not in known:
            foreign.append(entry)
    for name in TABLES:
        folder = root / name
        for part in sorted(folder.iterdir()) if folder.is_dir() else []:
            label = part.name.removeprefix(f"{PARTITION}=")
            if part.name == TABLE_MARKER:
                continue
            if not (part.is_dir() and part.name.startswith(f"{PARTITION}=")):
                (ours if is_temp(part) else foreign).append(part)
                continue
            files = sorted(part.iterdir())
            if not files:
                ours.append(part)
            for f in files:
                if is_temp(f):
                    ours.append(f)
                elif f.name != "part-0.parquet" or not valid_partition(label):
                    foreign.append(f)
    return ours, foreign


def recover(root: Path, exchange: Exchange = exchange_dirs) -> list[str]:
    """Finish an interrupted write and remove dead writers' leftovers (lock held).

    Returns what was done, one line per action.
    """
    done = []
    body = _read_journal(root)
    if body is not None:
        _apply(root, body, lambda _: None, exchange)
        files = len(body.renames)
        done.append(f"finished an interrupted write ({len(body.swaps)} tables, {files} files)")
    for name in TABLES:  # a rolled-back write's files in a twin: gone, the links kept
        if twin(root / name).exists() or twin(root / name).is_symlink():
            # Only what the twin holds: the write that stages into it links the rest.
            fsync_dirs(reconcile(root / name, twin(root / name), "held"))
    ours, _ = leftovers(root)
    for path in ours:
        if path.is_dir() and any(path.iterdir()):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if path.parent.parent.name in TABLES:
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # a partition that was being created, if now empty
        done.append(f"removed leftover {path.relative_to(root)}")
    for line in done:
        logger.info("%s: %s", root, line)
    return done
