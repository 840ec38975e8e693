"""One writer at a time on an object store: a lease object with an expiry.

``_ittybit_frames.lease.json`` holds the writer's id, host, pid and when the lease
lapses. A writer creates it with ``If-None-Match: *`` (only one create can succeed);
while it writes, a thread renews it with ``If-Match`` on its own ETag. A writer that
finds a lapsed lease (its holder died) replaces it with ``If-Match`` on the ETag it read,
so exactly one waiting writer takes it over. A writer whose renewal fails has lost the
lease and never commits: the commit renews it once more, synchronously, just before the
commit point, and once more just after it (a writer paused in between takes its journal
back). On S3 a lease lapses when it has not been renewed for its length on the store's
own clock (``Last-Modified`` against the answer's ``Date``), so writers whose clocks
disagree never take a live lease; elsewhere its expiry is judged on the waiter's clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ittybit_frames.errors import ConfigurationError, LakeError, LakeLockedError
from ittybit_frames.lake._remote_commit import recover
from ittybit_frames.lake._store import ObjectStore, age

logger = logging.getLogger("ittybit_frames.lake")

LEASE = "_ittybit_frames.lease.json"
#: How long a lease lasts unless renewed (it is renewed every third of it).
DEFAULT_LEASE_SECONDS = 30.0


class Lease:
    """This writer's hold on a remote lake."""

    def __init__(self, store: ObjectStore, seconds: float) -> None:
        self.store = store
        self.seconds = seconds
        self.holder = uuid.uuid4().hex
        self.tag = ""
        self.lost = False
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._keeper: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Lease({self.store.url!r}, holder={self.holder!r})"

    def _body(self) -> bytes:
        now = time.time()
        record = {
            "holder": self.holder,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
            "expires": now + self.seconds,
            "seconds": self.seconds,
        }
        return orjson.dumps(record)

    def _take(self) -> dict[str, Any] | None:
        """Try once: None when taken, else the current holder's record."""
        tag = self.store.create(LEASE, self._body())
        if tag is not None:
            self.tag = tag
            return None
        found = self.store.get_tagged(LEASE)
        if found is None:
            return {}  # released meanwhile: try again
        holder = _record(found[0])
        if self._lapsed(holder):  # its writer is gone
            if not self.store.conditional:
                raise LakeError(
                    f"{self.store}/{LEASE} is a lapsed lease of {describe_holder(holder)}; "
                    "taking it over needs conditional writes, done on S3 only so far: "
                    "delete it once that writer is surely gone",
                    path=self.store.url,
                )
            tag = self.store.replace(LEASE, self._body(), found[1])
            if tag is not None:
                logger.info(
                    "%s: took over a lapsed lease of %s", self.store, describe_holder(holder)
                )
                self.tag = tag
                return None
        return holder

    def _lapsed(self, holder: dict[str, Any]) -> bool:
        """Whether a lease lapsed: for a lease of ours on S3, not renewed for its length
        on the store's clock (the writers' clocks may disagree); else by its expiry."""
        length = _number(holder.get("seconds"))
        if self.store.conditional and length is not None:
            since = age(self.store, LEASE)
            return since is None or since > length + 1  # (Last-Modified: whole seconds)
        return _expiry(holder) < time.time()

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        holder = self._take()
        if holder is not None:
            logger.info(
                "the lake at %s is held by %s; waiting up to %.0f s",
                self.store,
                describe_holder(holder),
                timeout,
            )
        while holder is not None:
            if time.monotonic() >= deadline:
                raise LakeLockedError(
                    f"the lake at {self.store} is held by {describe_holder(holder)}; gave up after "
                    f"{timeout:.0f} s (raise lock_timeout / --lock-timeout, or stop that "
                    "writer; a dead writer's lease lapses by itself)",
                    path=self.store.url,
                    holder=holder,
                )
            time.sleep(min(0.2, self.seconds / 10))
            holder = self._take()
        self._keeper = threading.Thread(target=self._keep, name="lake-lease", daemon=True)
        self._keeper.start()

    def _keep(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.confirm()
            except LakeLockedError:  # lost: the commit refuses to go on
                return
            except Exception:  # a moment's failure (a 503, a reset): at the next renewal
                logger.debug("%s: a lease renewal failed; trying again", self.store)

    def confirm(self) -> None:
        """Renew the lease now.

        Raises
        ------
        LakeLockedError
            This writer lost the lease (it lapsed and another writer took it over).
        """
        with self._guard:
            tag = None if self.lost else self.store.replace(LEASE, self._body(), self.tag)
            if tag is None:
                self.lost = True
                raise LakeLockedError(
                    f"lost the lease on {self.store} (it lapsed and another writer took it "
                    "over): nothing of this write was committed; write again",
                    path=self.store.url,
                    holder={},
                )
            self.tag = tag

    def release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()
        with self._guard:
            if not self.lost:
                with contextlib.suppress(Exception):  # else it lapses by itself
                    self.store.remove(LEASE, self.tag)


def _record(data: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _expiry(holder: dict[str, Any]) -> float:
    """When a lease lapses (0: a lease object not of ours, e.g. no number there)."""
    return _number(holder.get("expires")) or 0.0


def _number(value: object) -> float | None:
    """A JSON number as a float (None: not a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def describe_holder(holder: dict[str, Any]) -> str:
    """Who holds a lake, for messages."""
    if not holder:
        return "another writer"
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"


@contextmanager
def lease_lake(
    store: ObjectStore, *, timeout: float, seconds: float = DEFAULT_LEASE_SECONDS
) -> Iterator[Lease]:
    """Hold a remote lake's lease; on acquiring it, finish or roll back an interrupted
    write (:func:`ittybit_frames.lake._remote_commit.recover`)."""
    if not timeout >= 0:
        raise ConfigurationError("lock_timeout must be 0 or more seconds")
    if not seconds > 0:
        raise ConfigurationError("lease_seconds must be more than 0")
    lease = Lease(store, seconds)
    lease.acquire(timeout)
    try:
        recover(store)
        yield lease
    finally:
        lease.release()
