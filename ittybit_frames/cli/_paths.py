"""Paths checked before any work: is it the kind of thing the command needs, can we
write there, is it a lake. Each failure is a :class:`ConfigurationError` (exit 2) whose
message says what to do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ittybit_frames.errors import ConfigurationError
from ittybit_frames.lake import MANIFEST, PARTITION, is_remote, lake_location, read_manifest

__all__ = [
    "file_to_write",
    "folder_for_files",
    "folder_to_write",
    "is_lake",
    "lake_to_read",
    "lake_to_write",
    "read_ids_file",
]


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists() or parent.is_symlink():
            return parent
    return Path.cwd()  # pragma: no cover - the root always exists


def _writable(folder: Path, target: Path) -> None:
    """Prove ``folder`` takes a new file (permissions alone lie, e.g. for root on a
    read-only mount), leaving nothing behind."""
    try:
        handle, name = tempfile.mkstemp(prefix=".ittybit-frames-probe-", dir=folder)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write {target} ({exc.strerror or exc}): choose a folder you can write to"
        ) from exc
    os.close(handle)
    os.unlink(name)


def folder_to_write(path: str | os.PathLike[str], option: str) -> Path:
    """A folder that exists or can be made, and takes files."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ConfigurationError(
            f"{option} {target} is not a folder: give a folder (it is created if needed)"
        )
    base = _existing_ancestor(target)
    if not base.is_dir():
        raise ConfigurationError(
            f"{option} {target}: {base} is not a folder, so {target} cannot be made there"
        )
    _writable(base, target)
    return target


def folder_for_files(path: str | os.PathLike[str], option: str, what: str, hint: str = "") -> Path:
    """:func:`folder_to_write` that is a local folder, neither a lake's nor inside one
    (``check`` would call ``what``, files that are not the lake's, a problem)."""
    if is_remote(path):  # else written to a local folder named 's3:'
        raise ConfigurationError(
            f"{option} {path} is not a local folder: {what} can only be written to one"
        )
    folder = folder_to_write(path, option)
    if is_lake(folder):
        raise ConfigurationError(
            f"{option} {folder} is a Parquet lake: give another folder for {what}{hint}"
        )
    _refuse_inside_a_lake(folder, option, what + hint)
    return folder


def _refuse_inside_a_lake(folder: Path, option: str, what: str) -> None:
    """Refuse a folder inside a lake's (through symlinks and '..'): ``check`` would call
    what is written there, not the lake's, a problem."""
    full = folder.resolve()
    for parent in full.parents:
        if (parent / MANIFEST).is_file() or _old_writers_lake(parent):
            raise ConfigurationError(
                f"{option} {folder} is inside the Parquet lake {parent}: give a folder "
                f"outside it for {what}"
            )


def _old_writers_lake(folder: Path) -> bool:
    """A lake written before the manifest: a ``jobs/`` table of day partitions or Parquet
    files (a folder that merely holds some ``jobs`` folder is not one)."""
    try:
        return any(
            p.name.startswith(f"{PARTITION}=") or p.suffix == ".parquet"
            for p in (folder / "jobs").iterdir()
        )
    except OSError:  # no jobs/ folder, or not one we may list
        return False


def file_to_write(path: str | os.PathLike[str], option: str) -> Path:
    """A file (new or replaced) in a folder that takes files, neither a lake's nor inside
    one (``check`` would call the file, not the lake's, a problem)."""
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(f"{option} {target} is a folder: give a file name")
    if target.exists() and not target.is_file():
        raise ConfigurationError(f"{option} {target} is not a regular file: give a file name")
    folder_to_write(target.parent, option)
    _refuse_inside_a_lake(target, option, "the file")
    return target


def is_lake(path: Path) -> bool:
    """A lake's folder: its manifest, or its jobs/ table or unpartitioned jobs.parquet
    (a lake of an old writer)."""
    return (
        (path / MANIFEST).is_file() or (path / "jobs").is_dir() or (path / "jobs.parquet").is_file()
    )


def _holds_others(path: Path) -> bool:
    """Whether a folder holds anything but hidden files and the lake's own (a sync
    stopped before its first write leaves only its lock behind)."""
    return any(not p.name.startswith((".", "_ittybit_frames")) for p in path.iterdir())


def lake_to_write(path: str | os.PathLike[str], option: str = "the lake") -> Path | str:
    """A lake to write into: a lake, an empty folder, or a folder that can be made; or
    a remote lake's URL (``s3://...``: checked by its first write)."""
    if is_remote(path):
        return lake_location(path)
    target = folder_to_write(lake_location(path), option)
    _refuse_inside_a_lake(target, option, "a lake")
    if target.is_dir() and not is_lake(target) and _holds_others(target):
        raise ConfigurationError(
            f"{target} is not an ittybit-frames lake and not empty: give a new or empty "
            "folder, or the lake's own folder"
        )
    if target.is_dir():
        _writable(target, target)
    return target


def lake_to_read(path: str | os.PathLike[str]) -> Path | str:
    """An existing lake (a folder, or a remote lake's URL)."""
    if is_remote(path):
        url = lake_location(path)
        if not read_manifest(url):
            raise ConfigurationError(
                f"no lake at {url} (no {MANIFEST}): run 'ittybit-frames sync {url}' first "
                "to make one"
            )
        return url
    target = Path(lake_location(path))
    if not target.exists():
        raise ConfigurationError(
            f"no lake at {target}: run 'ittybit-frames sync {target}' first to make one"
        )
    if not target.is_dir():
        raise ConfigurationError(f"{target} is not a folder: give the lake's folder")
    if not is_lake(target):
        raise ConfigurationError(
            f"no lake at {target} (no {MANIFEST} and no jobs/): give the folder that "
            "'ittybit-frames sync' or 'export' wrote"
        )
    return target


def read_ids_file(path: str | os.PathLike[str]) -> list[str]:
    """Job IDs, one a line (``#`` starts a comment), from a UTF-8 text file."""
    source = Path(path)
    if not source.exists():
        raise ConfigurationError(f"--ids-file {source} does not exist")
    if source.is_dir():
        raise ConfigurationError(f"--ids-file {source} is a folder: give a text file")
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"--ids-file {source} cannot be read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    if "\x00" in text or (data and not text):
        raise ConfigurationError(
            f"--ids-file {source} is not UTF-8 text: save it as UTF-8, one job ID a line"
        )
    ids = [x.strip() for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
    if not ids:
        raise ConfigurationError(f"--ids-file {source} holds no job IDs (one a line, # comments)")
    return ids
