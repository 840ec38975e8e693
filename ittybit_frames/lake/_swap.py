"""Whole-table swaps: a table folder (``jobs/``, ``tasks/``) is replaced in one step.

Each table has a hidden twin, ``LAKE/.jobs.swap/``, kept between writes. A merge first
brings the twin level with the live table (:func:`reconcile`: one directory listing per
partition, a hard link only where they differ, i.e. for the partitions the previous
write changed; no data is copied; an overwrite links only users' files), puts its new
partition files in the twin, then exchanges the two
folders with Linux ``renameat2(RENAME_EXCHANGE)``. A plain-glob reader therefore sees
each partition whole and never a missing table (a query whose file opens straddle the
exchange may mix old and new partitions), and the twin now holds the old state, whose
rewritten partitions are dropped at once (:func:`thin`): the twin costs no disk beyond
links. Each folder holds a hidden marker, ``.ittybit_frames.table``, naming the write
that produced it, so a recovering writer (and a reader) can tell whether a journaled
swap happened.

Where the exchange is unsupported (another OS, a filesystem without it: ``EINVAL``,
``ENOSYS``), the table is updated file by file from the twin instead
(:func:`replace_files`): each partition file is replaced atomically, but a plain-glob
reader may then see some partitions new and others old until the swap ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from ittybit_frames.errors import LakeCorruptError, LakeError
from ittybit_frames.lake._format import (
    PART_FILE,
    PARTITION,
    TABLE_MARKER,
    at_once,
    fsync_dir,
    is_temp,
    temp_name,
    valid_partition,
    write_bytes_atomic,
)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # <linux/fs.h>
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}
#: How a filesystem without hard links (FAT, exFAT, some network shares) refuses one.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}

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
    """The token of the write whose state ``table_dir`` holds ("" if none)."""
    try:
        return (table_dir / TABLE_MARKER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def twin(live: Path) -> Path:
    """The hidden twin of a table folder: ``LAKE/.jobs.swap`` for ``LAKE/jobs``."""
    return live.with_name(f".{live.name}.swap")


def _inodes(folder: Path, folders: list[str] | None = None) -> dict[str, int]:
    """Every file (and symlink) below ``folder`` -> its inode, by relative path; the
    marker excluded. One directory listing per folder, no ``stat``: cheap per partition.
    Empty subfolders are appended to ``folders``."""
    found: dict[str, int] = {}
    stack = [("", os.fspath(folder))]
    while stack:
        rel, path = stack.pop()
        try:
            listing = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with listing:
            empty = True
            for entry in listing:
                empty = False
                name = rel + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((name + "/", entry.path))
                elif name != TABLE_MARKER:
                    found[name] = entry.inode()
        if empty and rel and folders is not None:
            folders.append(rel)
    return found


def unlink(path: Path) -> None:
    """Remove a file, also from a folder a user made read-only (a partition folder,
    swapped out into a twin: the lake's to clean); a missing file is fine."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except PermissionError:
        mode = path.parent.stat().st_mode
        if mode & stat.S_IWUSR and mode & stat.S_IXUSR:
            raise  # not the folder's mode: a real refusal
        path.parent.chmod(stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IXUSR)
        path.unlink(missing_ok=True)


def drop(path: Path, top: Path) -> None:
    """Remove a file and, when that empties it, its folder below ``top`` (a partition).
    A symlinked folder on the way (a partition a user moved elsewhere) is removed as a
    link: nothing outside the lake is ever deleted."""
    parts = path.relative_to(top).parts
    for i in range(1, len(parts)):
        if top.joinpath(*parts[:i]).is_symlink():
            unlink(top.joinpath(*parts[:i]))
            return
    unlink(path)
    if path.parent != top:
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def real_folder(folder: Path) -> None:
    """Make ``folder`` (in a twin) a folder of the lake's own: a symlink or a file there
    is removed (the link, not what it points to), so a write never writes through it; a
    folder a user made read-only (then swapped out of the table) is made writable."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        unlink(folder)
    elif folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        folder.chmod(stat.S_IMODE(folder.stat().st_mode) | stat.S_IWUSR | stat.S_IXUSR)


def _make_room(shadow: Path, rel: str) -> None:
    """Clear the way in the twin for the entry ``rel`` of the table (a file or a link)."""
    parts = rel.split("/")
    for i in range(1, len(parts)):
        real_folder(shadow.joinpath(*parts[:i]))
    copy = shadow / rel
    copy.parent.mkdir(parents=True, exist_ok=True)
    if copy.is_dir() and not copy.is_symlink():  # a folder became a link in the table
        shutil.rmtree(copy)


def _ours(rel: str) -> bool:
    """True for a file of a table the lake writes (``created_date=<day>/part-0.parquet``)
    or a temporary one; anything else in a table is a user's, and is kept."""
    folder, _, name = rel.rpartition("/")
    if is_temp(Path(name)):
        return True
    if not folder:  # a table-level entry: ours when it is a partition (a symlinked one)
        folder, name = name, PART_FILE
    label = folder.removeprefix(f"{PARTITION}=")
    return name == PART_FILE and label != folder and valid_partition(label)


def check_twin(shadow: Path) -> None:
    """Refuse a twin that is not a plain folder: a symlink would make a write remove
    files wherever it points, a file would stop every write with a traceback."""
    if shadow.is_symlink() or (shadow.exists() and not shadow.is_dir()):
        what = "a symlink" if shadow.is_symlink() else "a file"
        raise LakeCorruptError(
            f"{shadow} is {what}, not the lake's hidden twin folder; move it out of the "
            "lake, then write again",
            path=str(shadow.parent),
        )


def link(source: Path, target: Path, root: Path) -> None:
    """Hard-link ``source`` as ``target``, or say in one line why the lake (``root``)
    cannot be written where it is: its twins are made of hard links."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        raise LakeError(
            f"cannot hard-link files in {root} ({exc.strerror}): a local lake keeps each "
            "table's hidden twin as hard links; write it to a disk that allows them (ext4, "
            "xfs, btrfs, APFS, NTFS) or to an object store (s3://, gs://, az://)",
            path=str(root),
        ) from exc


def restore(live: Path, shadow: Path) -> set[Path]:
    """Put back in ``live`` the users' files that only ``shadow`` holds (dropped into
    the table while a write staged, then swapped out with the old table); the folders
    that changed."""
    changed: set[Path] = set()
    wanted = _inodes(live)
    for rel in _inodes(shadow).keys() - wanted.keys():
        if not _ours(rel) and not os.path.lexists(live / rel):
            (live / rel).parent.mkdir(parents=True, exist_ok=True)
            link(shadow / rel, live / rel, live.parent)
            changed.add((live / rel).parent)
    return changed


#: What :func:`reconcile` links into a twin: the whole table (a merge), only the files a
#: user put in the table (an overwrite: every partition of the lake's is new), or only
#: what the twin already holds (a writer recovering: a dead writer's files go).
Scope = Literal["table", "users", "held"]


def reconcile(live: Path, shadow: Path, scope: Scope = "table") -> set[Path]:
    """Make ``shadow`` a hard-linked copy of ``live``, or of the part of it ``scope``
    names (files that already are the same inode are left alone; anything else in
    ``shadow`` goes); returns the folders that changed, to be fsynced."""
    check_twin(shadow)
    changed: set[Path] = set()
    shadow.mkdir(parents=True, exist_ok=True)
    folders: list[str] = []
    wanted, have = _inodes(live), _inodes(shadow, folders)
    if scope == "users":
        wanted = {rel: inode for rel, inode in wanted.items() if not _ours(rel)}
    elif scope == "held":
        wanted = {rel: inode for rel, inode in wanted.items() if rel in have}
    for rel, inode in wanted.items():
        if have.get(rel) == inode:
            continue
        copy = shadow / rel
        _make_room(shadow, rel)
        if rel in have:
            unlink(copy)
        link(live / rel, copy, live.parent)
        changed.add(copy.parent)
    for rel in have.keys() - wanted.keys():  # gone from the table, or a dead writer's
        drop(shadow / rel, shadow)
        changed.add(shadow)
    for rel in folders:  # a folder a dead writer made and left empty
        with contextlib.suppress(OSError):
            (shadow / rel).rmdir()
            changed.add(shadow)
    return changed


def thin(shadow: Path, partitions: list[str]) -> None:
    """Drop the old files of the partitions a write replaced from the swapped-out twin,
    so it holds no data of its own (the next :func:`reconcile` links the new ones)."""
    at_once(functools.partial(drop, top=shadow), [shadow / p / PART_FILE for p in partitions])


def replace_files(live: Path, shadow: Path) -> None:
    """The fallback swap: put each file of the twin in place (atomically per file),
    remove the partition files the new state lacks, then copy the marker. Idempotent:
    the twin keeps every file, so a killed swap is simply run again."""
    for rel in _inodes(shadow):
        target = live / rel
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(shadow / rel, target):
                continue  # a hard link of the live file: unchanged
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(target)
        link(shadow / rel, tmp, live.parent)
        os.replace(tmp, target)
    for old in sorted(live.glob(f"{PARTITION}=*/{PART_FILE}")):
        if not (shadow / old.relative_to(live)).exists():
            drop(old, live)
    for dirpath, _, _ in os.walk(live):
        fsync_dir(Path(dirpath))
    write_bytes_atomic(live / TABLE_MARKER, marker(shadow).encode())


def swap_table(live: Path, token: str, exchange: Exchange) -> bool:
    """Make the twin holding write ``token`` the table at ``live``, unless that happened.

    Returns False when neither folder holds ``token`` (the twin was lost: nothing to do).
    """
    shadow = twin(live)
    if marker(live) == token:
        return True  # swapped before (a recovering writer finishing the journal)
    if marker(shadow) != token:
        return False
    if not live.exists():
        os.rename(shadow, live)  # a new lake: nothing to exchange with
    elif not exchange(shadow, live):
        replace_files(live, shadow)
    fsync_dir(live.parent)
    return True
