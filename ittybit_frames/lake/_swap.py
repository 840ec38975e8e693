"""Whole-table swaps: a table folder (``jobs/``, ``tasks/``) is replaced in one step.

A write stages the table's next state as a hidden sibling folder ``.jobs.<pid>-<uuid>.tmp``
(new files for the partitions it rewrites, hard links for everything else: no data is
copied), then exchanges the two folders with Linux ``renameat2(RENAME_EXCHANGE)``. A
plain-glob reader therefore sees the whole old table or the whole new one. Each table
folder holds a hidden marker, ``.ittybit_frames.table``, naming the staged folder it came
from, so a recovering writer (and a reader) can tell whether a journaled swap happened.

Where the exchange is unsupported (another OS, a filesystem without it: ``EINVAL``,
``ENOSYS``), the table is updated file by file instead (:func:`replace_files`): each
partition file is replaced atomically, but a plain-glob reader may then see some
partitions new and others old until the swap ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ittybit_frames.lake._format import (
    PART_FILE,
    PARTITION,
    TABLE_MARKER,
    fsync_dir,
    temp_name,
    write_bytes_atomic,
)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # <linux/fs.h>
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}

#: Swap two folders atomically; False when the platform or filesystem cannot.
Exchange = Callable[[Path, Path], bool]


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2  # glibc >= 2.28
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    result: Callable[..., int] = function
    return result


def exchange_dirs(a: Path, b: Path) -> bool:
    """Exchange two existing folders in one atomic step; False where unsupported.

    Raises
    ------
    OSError
        The exchange is supported but failed (a missing folder, permissions).
    """
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def marker(table_dir: Path) -> str:
    """The name of the staged folder ``table_dir`` was swapped in from ("" if none)."""
    try:
        return (table_dir / TABLE_MARKER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _files(folder: Path) -> Iterator[Path]:
    """Every file (and symlink) below ``folder``, relative to it; the marker excluded."""
    for dirpath, _, names in os.walk(folder):
        for name in names:
            rel = Path(dirpath, name).relative_to(folder)
            if rel != Path(TABLE_MARKER):
                yield rel


def mirror(live: Path, staged: Path, removed: set[str]) -> None:
    """Complete a staged table folder: hard-link every file of ``live`` it does not
    replace (``part-0.parquet`` of the ``removed`` partitions is left out), write its
    marker, and make the folder durable. Cost: one link per file, no data copied."""
    staged.mkdir(parents=True, exist_ok=True)
    if live.is_dir():
        for rel in _files(live):
            if (staged / rel).exists() or (rel.name == PART_FILE and rel.parent.name in removed):
                continue
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(live / rel, staged / rel, follow_symlinks=False)
    write_bytes_atomic(staged / TABLE_MARKER, staged.name.encode())
    for dirpath, _, _ in os.walk(staged):
        fsync_dir(Path(dirpath))


def replace_files(live: Path, staged: Path) -> None:
    """The fallback swap: put each staged file in place (atomically per file), remove the
    partition files the new state lacks, then write the marker. Idempotent: the staged
    folder keeps every file, so a killed swap is simply run again."""
    for rel in _files(staged):
        target = live / rel
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(staged / rel, target):
                continue  # a hard link of the live file: unchanged
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(target)
        os.link(staged / rel, tmp, follow_symlinks=False)
        os.replace(tmp, target)
    for old in sorted(live.glob(f"{PARTITION}=*/{PART_FILE}")):
        if not (staged / old.relative_to(live)).exists():
            old.unlink()
            with contextlib.suppress(OSError):
                old.parent.rmdir()  # a partition that is gone
    for dirpath, _, _ in os.walk(live):
        fsync_dir(Path(dirpath))
    write_bytes_atomic(live / TABLE_MARKER, staged.name.encode())


def swap_table(live: Path, staged: Path, exchange: Exchange) -> bool:
    """Make ``staged`` the table at ``live`` unless that already happened.

    Returns False when ``staged`` is gone without having been swapped in (nothing to do).
    """
    if marker(live) == staged.name:
        return True  # swapped before (a recovering writer finishing the journal)
    if not staged.is_dir():
        return False
    if not live.exists():
        os.rename(staged, live)  # a new lake: nothing to exchange with
    elif not exchange(staged, live):
        replace_files(live, staged)
    fsync_dir(live.parent)
    return True


def discard_dir(folder: Path) -> None:
    """Remove a staged folder (or a swapped-out old table): links and files of its own."""
    shutil.rmtree(folder, ignore_errors=True)
