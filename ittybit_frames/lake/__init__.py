"""The Parquet lake: write, merge and read job frames; one writer at a time, kill-safe.

Layout::

    LAKE/_ittybit_frames.json                          manifest: schema version, profile, sync state
    LAKE/_ittybit_frames.index.parquet                 job_id -> partition, updated_at, row hash
    LAKE/jobs/created_date=YYYY-MM-DD/part-0.parquet   one file per UTC creation day
    LAKE/tasks/created_date=YYYY-MM-DD/part-0.parquet  tasks, in their job's partition
    LAKE/jobs/created_date=__HIVE_DEFAULT_PARTITION__/ jobs without a usable created_at
    LAKE/jobs/.ittybit_frames.table                    which staged folder the table came from
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

1. **staging** -- each table the write changes gets its next state as a hidden sibling
   folder, ``LAKE/.jobs.<pid>-<uuid>.tmp/``: the rewritten partitions' new
   ``part-0.parquet`` files, written and fsynced there. The index and the manifest are
   written beside their targets under hidden temporary names. Nothing a reader looks at
   has changed.
2. **staged** -- every other file of the live table (untouched partitions, foreign files)
   is hard-linked into the staged folder (no data copied: one link per file), leaving out
   the partitions that go; the folder gets its marker ``.ittybit_frames.table`` (its own
   name) and is fsynced.
3. **committed** -- the journal ``_ittybit_frames.journal.json`` (tables to swap, tasks
   before jobs; temporary -> target renames; files to remove) is written atomically. Its
   appearance is the commit point: a write killed before it is rolled back (the next
   writer or ``check --repair`` deletes its staged folders and temporaries); a write
   killed after it is rolled forward.
4. **applying** -- each staged folder is exchanged with its live table in one atomic step
   (Linux ``renameat2(RENAME_EXCHANGE)``; a plain rename for a new lake), ``tasks/`` then
   ``jobs/``; the table's marker tells a recovering writer whether its swap happened.
   Then the index and the manifest are renamed over their targets (``os.replace``), and
   the swapped-out old tables (links only) are removed.
5. **applied** -- the journal is removed.

Where ``RENAME_EXCHANGE`` is unsupported (another OS, a filesystem that answers
``EINVAL``), step 4 falls back to putting the staged files in place one by one (atomic
per file; the staged folder keeps them all until the journal goes, so a killed swap is
simply run again), then writing the marker. An unpartitioned lake (``jobs.parquet``,
``tasks.parquet``) has its two files renamed in step 4.

Readers. :func:`read_parquet` (and ``data_files``, used by ``sync``) read only the lake's
own files -- partition folders with valid names holding ``part-0.parquet`` -- and while a
journal exists they read the committed new state through it (a staged folder for a table
not yet swapped in). A read during which a write commits or swaps a table is retried. So
``read_parquet`` always sees one whole committed state.

A plain-glob reader (DuckDB, Polars or Spark on
``jobs/created_date=[0-9_]*/part-0.parquet``; the hidden staged folders and markers never
match) sees each table whole: all of the old ``jobs/`` or all of the new one, never a
temporary or half-written file, never a missing ``jobs/``/``tasks/``, never a job twice.
What it can still see, between the two swaps of step 4 (a few milliseconds) or after a
writer was killed there until the next writer or ``check --repair`` runs: the new
``tasks/`` with the old ``jobs/`` (a merge's new tasks without their job yet; an
overwrite's tasks of the jobs to come). With the per-file fallback, during step 4 a
table may also show some partitions new and others old, as in earlier versions.
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
    TABLE_GLOB,
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
    "TABLE_GLOB",
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
