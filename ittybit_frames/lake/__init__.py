"""The Parquet lake: write, merge and read job frames; one writer at a time, kill-safe.

Layout::

    LAKE/_ittybit_frames.json                          manifest: schema version, profile, sync state
    LAKE/_ittybit_frames.index.parquet                 job_id -> partition, updated_at, row hash
    LAKE/jobs/created_date=YYYY-MM-DD/part-0.parquet   one file per UTC creation day
    LAKE/tasks/created_date=YYYY-MM-DD/part-0.parquet  tasks, in their job's partition
    LAKE/jobs/created_date=__HIVE_DEFAULT_PARTITION__/ jobs without a usable created_at
    LAKE/.ittybit_frames.lock, .ittybit_frames.holder.json   the writers' lock, its holder

Jobs without a usable ``created_at`` live in the ``__HIVE_DEFAULT_PARTITION__`` partition
(Hive's, Spark's and Athena's name for "null"); once a later version has a creation time,
a merge moves the job (and its tasks) to its day. A job has exactly one row in the lake.

Protocol
--------
Writers. Every writing path (``write_parquet`` in every mode, ``sync``, the CLI's
``export`` and ``demo``, ``check --repair``) holds the lake's exclusive lock
(:func:`lock_lake`, a kernel-released ``filelock``) for the whole write. On acquiring it,
a writer first finishes any interrupted write (below) and removes what dead writers left.
Then one write is:

1. **staging** -- every new file (the rewritten partitions' ``part-0.parquet``, the index,
   the manifest) is written and fsynced beside its target under a hidden temporary name,
   ``.<name>.<pid>-<uuid>.tmp``. Nothing a reader looks at has changed.
2. **staged -> committed** -- the journal ``_ittybit_frames.journal.json`` (temporary ->
   target renames, files to remove) is written atomically. Its appearance is the commit
   point: a write killed before it is rolled back (its temporaries are deleted by the
   next writer or ``check --repair``); a write killed after it is rolled forward.
3. **applying** -- each temporary file is renamed over its target (``os.replace``, atomic
   per file; per partition tasks before jobs), the manifest last; then the files of
   partitions that no longer exist are removed.
4. **applied** -- the journal is removed.

Readers. :func:`read_parquet` (and ``data_files``, used by ``sync``) read only the lake's
own files -- partition folders with valid names holding ``part-0.parquet`` -- and while a
journal exists they read the committed new state through it (temporary files for targets
not yet renamed, without the files being removed). A read that races a commit is
retried. So ``read_parquet`` always sees one whole committed state.

A plain-glob reader (DuckDB, Polars or Spark on
``jobs/created_date=[0-9_]*/part-0.parquet``) never sees a temporary file, a half-written
file or a missing ``jobs/``/``tasks/``: every partition file is the whole old or the
whole new one. What it can still see, only during step 3 (renames of files already on
disk, milliseconds) or after a writer was killed inside step 3 until the next writer or
``check --repair`` runs: some partitions already new and others still old -- a job that
moved partition may show twice or not at all, an overwrite may show a mix of the old and
new partitions, and a partition's new tasks may precede its new jobs.
"""

from __future__ import annotations

from ittybit_frames.lake._check import check_lake
from ittybit_frames.lake._commit import STEPS
from ittybit_frames.lake._format import (
    INDEX,
    JOURNAL,
    MANIFEST,
    NULL_PARTITION,
    PARTITION,
    PROFILES,
    Profile,
    WriteReport,
    read_manifest,
    write_bytes_atomic,
    write_manifest,
)
from ittybit_frames.lake._lock import DEFAULT_LOCK_TIMEOUT, LakeLock, lock_lake
from ittybit_frames.lake._read import data_files, read_parquet
from ittybit_frames.lake._write import write_parquet

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "INDEX",
    "JOURNAL",
    "MANIFEST",
    "NULL_PARTITION",
    "PARTITION",
    "PROFILES",
    "STEPS",
    "LakeLock",
    "Profile",
    "WriteReport",
    "check_lake",
    "data_files",
    "lock_lake",
    "read_manifest",
    "read_parquet",
    "write_bytes_atomic",
    "write_manifest",
    "write_parquet",
]
