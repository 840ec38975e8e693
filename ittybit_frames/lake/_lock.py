"""One writer at a time: an exclusive, kernel-released lock on the lake.

The lock is :mod:`filelock`'s ``FileLock`` on ``LAKE/.ittybit_frames.lock`` (``flock`` on
POSIX, ``LockFileEx`` on Windows): the kernel drops it when its process dies, however it
dies, so a killed writer never blocks the next one. Whoever acquires it records its pid,
host and time in ``LAKE/.ittybit_frames.holder.json`` so a writer that gives up can say
who holds the lake.

The lock file can be deleted by hand while held (a "stale lock" clean-up); a second
writer would then lock a new file of the same name. So on POSIX the writer also holds a
``flock`` on the lake folder itself, which no one can delete while the lake exists: two
writers never overlap, whatever happens to the lock file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

if sys.platform != "win32":
    import fcntl
import orjson

from ittybit_frames.errors import ConfigurationError, LakeLockedError
from ittybit_frames.lake._commit import recover
from ittybit_frames.lake._format import HOLDER, LOCK, write_bytes_atomic
from ittybit_frames.lake._lease import DEFAULT_LEASE_SECONDS, Lease, describe_holder, lease_lake
from ittybit_frames.lake._store import ObjectStore, is_remote, local_path, pinned

logger = logging.getLogger("ittybit_frames.lake")

DEFAULT_LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class LakeLock:
    """Proof that this process holds the lake at ``root`` (from :func:`lock_lake`): a
    folder, or a remote lake's URL with the lease it holds."""

    root: Path | str
    lease: Lease | None = field(default=None, repr=False, compare=False)


def _holder(root: Path) -> dict[str, Any]:
    try:
        data = orjson.loads((root / HOLDER).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _lock_folder(root: Path, deadline: float) -> int | None:
    """``flock`` the lake folder (POSIX), polling until ``deadline``; its fd, or None
    where folders cannot be locked. Raises ``filelock.Timeout`` at the deadline."""
    if sys.platform == "win32":  # there, the lock file cannot be deleted while held
        return None
    fd = os.open(root, os.O_RDONLY)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise filelock.Timeout(str(root)) from None
            time.sleep(0.05)
        except OSError:  # a filesystem without flock on folders: the lock file alone
            os.close(fd)
            return None


def _acquire(root: Path, lock: filelock.FileLock, timeout: float) -> int | None:
    """Take the lock file, then the folder lock, within ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    lock.acquire(timeout=timeout)
    try:
        return _lock_folder(root, deadline)
    except BaseException:
        lock.release()
        raise


@contextmanager
def lock_lake(
    path: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Iterator[LakeLock]:
    """Hold the lake exclusively; wait up to ``timeout`` seconds for another writer.

    On acquisition an interrupted write is finished (or its leftovers removed): see the
    protocol in :mod:`ittybit_frames.lake`. A remote lake (``s3://...``) is held through
    a lease object that lapses ``lease_seconds`` after its writer stops renewing it
    (:mod:`ittybit_frames.lake._lease`). While it is held, the process uses that lake on
    the store it was locked on (endpoint, credentials), even if the environment that
    configures the store changes meanwhile (``AWS_ENDPOINT_URL``...): the lease and every
    write under it stay on one store; the new environment applies after the release.

    Raises
    ------
    LakeLockedError
        Another writer still held the lake after ``timeout`` seconds.
    """
    if not timeout >= 0:  # NaN too: it would wait forever
        raise ConfigurationError("lock_timeout must be 0 or more seconds")
    if is_remote(path):
        store = ObjectStore.open(str(path))
        with pinned(store), lease_lake(store, timeout=timeout, seconds=lease_seconds) as lease:
            yield LakeLock(store.url, lease)
        return
    root = local_path(path)
    root.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(root / LOCK)
    try:
        folder = _acquire(root, lock, 0)
    except filelock.Timeout:
        logger.info(
            "the lake at %s is held by %s; waiting up to %.0f s",
            root,
            describe_holder(_holder(root)),
            timeout,
        )
        try:
            folder = _acquire(root, lock, timeout)
        except filelock.Timeout:
            holder = _holder(root)
            raise LakeLockedError(
                f"the lake at {root} is held by {describe_holder(holder)}; gave up after "
                f"{timeout:.0f} s (raise lock_timeout / --lock-timeout, or stop that writer)",
                path=str(root),
                holder=holder,
            ) from None
    try:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        write_bytes_atomic(root / HOLDER, orjson.dumps(record))
        recover(root)
        yield LakeLock(root)
    finally:
        if folder is not None:
            with contextlib.suppress(OSError):
                os.close(folder)  # closing the last fd releases the flock
        lock.release()
