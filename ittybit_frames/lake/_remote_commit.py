"""The commit protocol on an object store (no rename; each object write is atomic).

A write to a remote lake, its lease held (:mod:`ittybit_frames.lake._lease`):

1. **staging** -- every new object (partition files, the ``jobs/`` marker, the index,
   the manifest) is written under ``_ittybit_frames.staging/TOKEN/`` at its own key.
   Nothing a reader looks at has changed.
2. **staged** -- the lease is renewed (a writer that lost it stops here, raising).
3. **committed** -- the journal ``_ittybit_frames.journal.json`` (the token, the keys to
   copy in, tasks then jobs then the marker, index and manifest; the keys to delete) is
   created with ``If-None-Match: *``. Its appearance is the commit point.
4. **applying** -- each staged object is copied server-side over its live key (each
   partition is one object: a reader sees it whole old or whole new), the partitions
   that go are deleted, then the staging objects.
5. **applied** -- the journal is deleted.

The next writer (or ``check --repair``) re-applies a journal it finds (the copies of
objects still staged, the deletes) and deletes any other staging: a write killed before
its commit point leaves nothing behind once the next writer has run. While a journal
exists, :func:`ittybit_frames.read_parquet` reads the committed state through it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath

import orjson
import pyarrow as pa

from ittybit_frames.errors import LakeError, LakeLockedError
from ittybit_frames.lake._format import (
    INDEX,
    JOURNAL,
    MANIFEST,
    PART_FILE,
    PARTITION,
    TABLE_MARKER,
    TABLES,
    Profile,
    encode_table,
    valid_partition,
)
from ittybit_frames.lake._store import ObjectStore

logger = logging.getLogger("ittybit_frames.lake")

STAGING = "_ittybit_frames.staging"
#: The lake's root as a write names its targets (keys relative to the lake).
ROOT = PurePosixPath(".")
JOBS_MARKER = f"jobs/{TABLE_MARKER}"
UPLOADS = 8  # objects staged at once


def _order(rel: str) -> tuple[int, str]:
    """Copy order: tasks, jobs, the jobs marker, the index, the manifest last."""
    first = rel.split("/", 1)[0]
    rank = {"tasks": 0, "jobs": 1, JOBS_MARKER: 2, INDEX: 3, MANIFEST: 4}
    return rank.get(rel, rank.get(first, 1)), rel


def own_key(rel: object) -> bool:
    """True for a key (relative to the lake) of one of the lake's own objects."""
    if not isinstance(rel, str):
        return False
    parts = PurePosixPath(rel).parts
    if rel in (MANIFEST, INDEX, JOBS_MARKER, *(f"{name}.parquet" for name in TABLES)):
        return len(parts) >= 1 and ".." not in parts
    if len(parts) != 3 or parts[0] not in TABLES or parts[2] != PART_FILE:
        return False
    label = parts[1].removeprefix(f"{PARTITION}=")
    return label != parts[1] and valid_partition(label)


def marker_of(store: ObjectStore) -> str:
    """The token of the write that last changed ``jobs/`` ("" if none)."""
    data = store.get(JOBS_MARKER)
    return data.decode("utf-8", "replace").strip() if data else ""


@dataclass(frozen=True)
class Journal:
    token: str
    copies: list[str]
    deletes: list[str]
    tag: str = ""  # the journal object's ETag: only that version is deleted once applied

    def staged(self, rel: str) -> str:
        return f"{STAGING}/{self.token}/{rel}"

    @classmethod
    def read(cls, store: ObjectStore) -> Journal | None:
        """The journal (None: none); an empty one when it is not one this package wrote
        (never followed: above all not to keys outside the lake)."""
        found = store.get_tagged(JOURNAL)
        if found is None:
            return None
        data, tag = found
        try:
            body = orjson.loads(data)
            token, copies, deletes = body["token"], body["copies"], body["deletes"]
            good = isinstance(token, str) and token.isalnum()
            good = good and all(own_key(k) for k in [*copies, *deletes])
        except (orjson.JSONDecodeError, TypeError, KeyError):
            good = False
        if not good:
            logger.warning("ignoring a journal this package did not write")
            return cls("", [], [], tag)
        return cls(token, list(copies), list(deletes), tag)


@dataclass
class RemoteCommit:
    """One atomic change to a remote lake (see the module's protocol)."""

    store: ObjectStore
    confirm: Callable[[], None]  # renews the lease; raises if this writer lost it
    on_step: Callable[[str], None] | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    copies: set[str] = field(default_factory=set)
    deletes: list[str] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Uploads run here, so the threads that encode partitions go on encoding meanwhile.
    _uploads: cf.ThreadPoolExecutor = field(
        default_factory=lambda: cf.ThreadPoolExecutor(UPLOADS, thread_name_prefix="lake-put"),
        repr=False,
    )
    _pending: list[cf.Future[None]] = field(default_factory=list, repr=False)

    @property
    def root(self) -> PurePath:
        return ROOT

    @property
    def tokens(self) -> dict[str, str]:
        return dict.fromkeys(TABLES, self.token)

    @property
    def empty(self) -> bool:
        return not (self.copies or self.deletes)

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    def jobs_token(self) -> str:
        """The token ``jobs/`` carries once this write is applied."""
        ours = any(k.startswith("jobs/") for k in [*self.copies, *self.deletes])
        return self.token if ours else marker_of(self.store)

    def _stage(self, rel: str, data: bytes) -> None:
        upload = self._uploads.submit(self.store.put, f"{STAGING}/{self.token}/{rel}", data)
        with self._guard:
            first = not self.copies
            self.copies.add(rel)
            self._pending.append(upload)
        if first:  # (once an object is in the store, as on disk)
            upload.result()
            self._step("staging")

    def stage_table(self, arrow: pa.Table, target: PurePath, profile: Profile) -> None:
        sink = pa.BufferOutputStream()
        encode_table(arrow, sink, profile)
        self._stage(PurePosixPath(target).as_posix(), sink.getvalue().to_pybytes())

    def stage_bytes(self, data: bytes, target: PurePath) -> None:
        self._stage(PurePosixPath(target).as_posix(), data)

    def delete(self, target: PurePath) -> None:
        self.deletes.append(PurePosixPath(target).as_posix())

    def settle(self) -> None:
        """Wait until every staged object is uploaded; raise the first failure."""
        with self._guard:
            uploads, self._pending = self._pending, []
        for upload in uploads:
            upload.result()

    def run(self) -> None:
        """Commit: renew the lease, create the journal (the commit point), apply it."""
        if self.jobs_token() == self.token:
            self._stage(JOBS_MARKER, self.token.encode())
        self.settle()
        self._uploads.shutdown()
        self._step("staged")
        self.confirm()
        copies = sorted(self.copies, key=_order)
        body = {"token": self.token, "copies": copies, "deletes": sorted(self.deletes)}
        tag = self.store.create(JOURNAL, orjson.dumps(body))
        found = Journal.read(self.store) if tag is None else None
        if found is not None and found.token == self.token:
            tag = found.tag  # our own PUT: its answer was lost, and the SDK's retry refused
        if tag is None:
            raise LakeError(
                f"{self.store}: another writer's journal appeared during this write (is a "
                "writer running without the lease?); nothing of this write was committed",
                path=self.store.url,
            )
        self._step("committed")
        try:  # a writer paused past its lease (another took over meanwhile) stops here
            self.confirm()
        except LakeLockedError:
            if self.store.remove(JOURNAL, tag):
                raise  # taken back before anyone applied it: nothing committed
            return  # the writer that took over found it and rolled it forward
        try:
            apply(self.store, Journal(self.token, copies, sorted(self.deletes), tag), self._step)
        except (OSError, LakeError) as exc:
            raise LakeError(
                f"{self.store}: this write is committed (readers see it), but applying it "
                f"failed: {exc}; the next write or 'ittybit-frames check --repair' finishes it",
                path=self.store.url,
            ) from None

    def discard(self) -> None:
        """Delete what was staged (a write failing before its commit point)."""
        with contextlib.suppress(Exception):
            self.settle()
        self._uploads.shutdown()
        journal = Journal.read(self.store)
        if journal is not None and journal.token == self.token:
            return  # committed: the next writer rolls it forward
        with contextlib.suppress(Exception):  # else the next writer's recovery does it
            self.store.delete(self.store.find(f"{STAGING}/{self.token}/"))


def apply(store: ObjectStore, journal: Journal, step: Callable[[str], None]) -> None:
    """Copy the staged objects in (each group in order), delete what goes, forget."""
    staged = set(store.find(f"{STAGING}/{journal.token}/"))
    todo = [rel for rel in journal.copies if journal.staged(rel) in staged]
    groups: dict[int, list[str]] = {}
    for rel in todo:
        groups.setdefault(_order(rel)[0], []).append(rel)
    for i, rank in enumerate(sorted(groups)):
        store.copy([(journal.staged(rel), rel) for rel in groups[rank]])
        if i == 0:
            step("applying")
    store.delete(journal.deletes)
    store.delete(sorted(staged))
    step("applied")
    if journal.tag:  # only this journal: a writer that took over may have one of its own
        store.remove(JOURNAL, journal.tag)
    else:
        store.delete([JOURNAL])


def recover(store: ObjectStore) -> list[str]:
    """Finish an interrupted write, delete dead writers' staging (lease held)."""
    done = []
    journal = Journal.read(store)
    if journal is not None:
        apply(store, journal, lambda _: None)
        done.append(f"finished an interrupted write ({len(journal.copies)} objects)")
    left = store.find(f"{STAGING}/")
    if left:
        store.delete(left)
        done.append(f"removed {len(left)} staged objects of writes that did not commit")
    for line in done:
        logger.info("%s: %s", store, line)
    return done


@dataclass
class RemoteView:
    """What a reader of a remote lake sees: the live keys, and while a journal exists the
    committed state through it (staged objects for the keys it copies, none of the keys
    it deletes)."""

    redirect: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, store: ObjectStore, top: dict[str, str] | None = None) -> RemoteView:
        """The view (``top``: :meth:`ObjectStore.top`, when the caller listed it)."""
        if top is not None and JOURNAL not in top:
            return cls()
        journal = Journal.read(store)
        view = cls()
        if journal is None:
            return view
        staged = set(store.find(f"{STAGING}/{journal.token}/"))
        for rel in journal.copies:
            if journal.staged(rel) in staged:
                view.redirect[rel] = journal.staged(rel)
        for rel in journal.deletes:
            view.redirect[rel] = None
        return view
