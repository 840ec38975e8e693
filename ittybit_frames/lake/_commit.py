"""The commit protocol: stage under temporary names, journal, rename, forget the journal.

See :mod:`ittybit_frames.lake` for the protocol and what readers see in each window.
Everything here runs with the lake's lock held (:mod:`ittybit_frames.lake._lock`), so any
temporary file found by :func:`recover` belongs to a writer that is gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa

from ittybit_frames.lake._format import (
    HOLDER,
    INDEX,
    JOURNAL,
    LOCK,
    MANIFEST,
    PARTITION,
    TABLES,
    Profile,
    fsync_dir,
    is_temp,
    temp_name,
    valid_partition,
    write_bytes_atomic,
    write_table_file,
)

logger = logging.getLogger("ittybit_frames.lake")

#: The named steps a write passes, in order; ``on_step`` is called with each.
STEPS = ("staging", "staged", "committed", "applying", "applied")

OnStep = Callable[[str], None]


@dataclass
class Commit:
    """One atomic change to the lake: files to put in place and files to remove."""

    root: Path
    on_step: OnStep | None = None
    renames: list[tuple[Path, Path]] = field(default_factory=list)  # temporary -> target
    deletes: list[Path] = field(default_factory=list)

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    def stage_table(self, arrow: pa.Table, target: Path, profile: Profile) -> None:
        """Write a Parquet file that will replace ``target`` on commit."""
        tmp = temp_name(target)
        write_table_file(arrow, tmp, profile)
        self.renames.append((tmp, target))
        if len(self.renames) == 1:
            self._step("staging")

    def stage_bytes(self, data: bytes, target: Path) -> None:
        """A small file (index, manifest) that will replace ``target`` on commit."""
        tmp = temp_name(target)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.renames.append((tmp, target))

    def discard(self) -> None:
        """Remove what was staged, when the write fails before its commit point."""
        if not (self.root / JOURNAL).exists():
            for tmp, _ in self.renames:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def delete(self, target: Path) -> None:
        """Remove ``target`` on commit."""
        self.deletes.append(target)

    def run(self) -> None:
        """Commit: write the journal (the commit point), then apply it."""
        self._step("staged")
        for directory in {tmp.parent for tmp, _ in self.renames}:
            fsync_dir(directory)
        rel = [
            [str(t.relative_to(self.root)), str(p.relative_to(self.root))] for t, p in self.renames
        ]
        body = {"renames": rel, "deletes": [str(p.relative_to(self.root)) for p in self.deletes]}
        write_bytes_atomic(self.root / JOURNAL, orjson.dumps(body))
        self._step("committed")
        _apply(self.root, _Journal.parse(body), self._step)


@dataclass(frozen=True)
class _Journal:
    renames: list[tuple[str, str]]  # temporary -> target, relative to the lake
    deletes: list[str]

    @classmethod
    def parse(cls, body: object) -> _Journal:
        if not isinstance(body, dict):
            return cls([], [])
        renames = [(str(a), str(b)) for a, b in body.get("renames", [])]
        return cls(renames, [str(p) for p in body.get("deletes", [])])


def _read_journal(root: Path) -> _Journal | None:
    try:
        body = orjson.loads((root / JOURNAL).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError):
        # Written atomically, so never half-written: this one is not ours.
        logger.warning("ignoring an unreadable journal %s", root / JOURNAL)
        return _Journal([], [])
    return _Journal.parse(body)


def pending(root: Path) -> dict[Path, Path | None]:
    """What a committed but unfinished write still has to do, for readers.

    Maps each target not yet in place to the temporary file that holds its new content,
    and each file still to be removed to None. Empty when no write is pending.
    """
    body = _read_journal(root)
    if body is None:
        return {}
    view: dict[Path, Path | None] = {}
    for tmp, target in body.renames:
        if (root / tmp).exists():
            view[root / target] = root / tmp
    for target in body.deletes:
        view[root / target] = None
    return view


def _apply(root: Path, body: _Journal, step: OnStep) -> None:
    for i, (tmp, target) in enumerate(body.renames):
        if (root / tmp).exists():
            os.replace(root / tmp, root / target)
        if i == len(body.renames) // 2:
            step("applying")
    for target in body.deletes:
        path = root / target
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when empty: a partition that is gone
    for directory in {(root / t).parent for _, t in body.renames}:
        fsync_dir(directory)
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
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if is_temp(entry) or entry.name.startswith((".overwrite-", ".old-")):
            ours.append(entry)
        elif entry.name not in known:
            foreign.append(entry)
    for name in TABLES:
        folder = root / name
        for part in sorted(folder.iterdir()) if folder.is_dir() else []:
            label = part.name.removeprefix(f"{PARTITION}=")
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


def recover(root: Path) -> list[str]:
    """Finish an interrupted write and remove dead writers' leftovers (lock held).

    Returns what was done, one line per action.
    """
    done = []
    body = _read_journal(root)
    if body is not None:
        _apply(root, body, lambda _: None)
        done.append(f"finished an interrupted write ({len(body.renames)} files)")
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
