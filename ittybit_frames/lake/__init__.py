"""The Parquet lake: write, merge and read job frames; one writer at a time, kill-safe.

A lake is a folder (a path or ``file://`` URL), or a prefix in an object store
(``s3://``, ``gs://``, ``az://``/``abfs://``: :mod:`ittybit_frames.lake._store`). This
docstring describes a folder; in an object store the same layout is written with the
protocol of :mod:`ittybit_frames.lake._remote_commit` (staged objects, a journal, server-side
copies) under a lease (:mod:`ittybit_frames.lake._lease`) instead of the lock and twins.

Layout::

    LAKE/_ittybit_frames.json                          manifest: schema version, profile, sync state
    LAKE/_ittybit_frames.index.parquet                 job_id -> partition, updated_at, row hash
    LAKE/jobs/created_date=YYYY-MM-DD/part-0.parquet   one file per UTC creation day
    LAKE/tasks/created_date=YYYY-MM-DD/part-0.parquet  tasks, in their job's partition
    LAKE/jobs/created_date=__HIVE_DEFAULT_PARTITION__/ jobs without a usable created_at
    LAKE/jobs/.ittybit_frames.table                    which write the table came from
    LAKE/.jobs.swap/, .tasks.swap/                     the tables' twins (hard links), for the swaps
    LAKE/.ittybit_frames.lock, .ittybit_frames.holder.json   the writers' lock, its holder

Jobs without a usable ``created_at`` live in the ``__HIVE_DEFAULT_PARTITION__`` partition
(Hive's, Spark's and Athena's name for "null"); once a later version has a creation time,
a merge moves the job (and its tasks) to its day. A job has exactly one row in the lake.

Protocol
--------
Writers. Every writing path (``write_parquet`` in every mode, ``sync``, the CLI's
``export`` and ``demo``, ``check --repair``) holds the lake's exclusive lock
(:func:`lock_lake`, a kernel-released ``filelock``, plus on POSIX a ``flock`` on the lake
folder itself, so deleting the lock file by hand never lets a second writer in) for the
whole write. On acquiring it,
a writer first finishes any interrupted write (below) and removes what dead writers left
(in a twin: every file that is not a hard link of the table's file of the same name).
Then one write is:

1. **staging** -- each table has a hidden twin, ``LAKE/.jobs.swap/`` (hard links of the
   live table's files, kept between writes). A merge brings the twin level with the
   live table (one directory listing per partition; a hard link only where they differ,
   i.e. for the partitions the previous write changed; no data copied); an overwrite,
   which rewrites or removes every partition, links only the files users put in the
   table. The write then writes the new ``part-0.parquet`` of each partition it
   rewrites into the twin (a temporary name, fsynced, renamed: never over a file the
   twin shares with the table). The index and
   the manifest are written beside their targets under hidden temporary names. Nothing
   a reader looks at has changed. (Partitions are encoded on a thread per core; their
   fsyncs run on threads of their own and are all done before step 2.)
2. **staged** -- the partitions that go are removed from the twins; each twin gets its
   marker ``.ittybit_frames.table`` (this write's token) and its changed folders are
   fsynced.
3. **committed** -- the journal ``_ittybit_frames.journal.json`` (tables to swap with
   their tokens, tasks before jobs; temporary -> target renames; files to remove) is
   written atomically. Its appearance is the commit point: a write killed before it is
   rolled back (the next writer or ``check --repair`` deletes its temporaries and brings
   the twins level again; a write that fails with an error before it, a full disk or a
   failing fsync on any of its threads, does that itself before raising); a write
   killed after it is rolled forward.
4. **applying** -- each twin is exchanged with its live table in one atomic step (Linux
   ``renameat2(RENAME_EXCHANGE)``; a plain rename for a new lake), ``tasks/`` then
   ``jobs/``; the markers tell a recovering writer whether a swap happened. Then the
   index and the manifest are renamed over their targets (``os.replace``), and the
   swapped-out twins (the old state) drop the old files of the rewritten partitions, so
   a twin never holds data of its own.
   Files a user dropped into a table while the write staged are swapped out with the
   old table; they are linked back into the new one.
5. **applied** -- the journal is removed.

A journal is followed only when every entry names the lake's own files (tables, their
partitions, the index, the manifest, their temporaries): one naming ``../`` or an
absolute path is ignored. A twin that is a symlink or a file is refused (a one-line
error). A partition folder a user replaced with a symlink (moved to another disk) is
read through the link; a write never writes or deletes through it: a rewritten
partition comes back into the lake as a folder of its own.

The cost of a merge is the partitions it rewrites plus one directory listing per
partition; the first merge after a lake is created (or after an overwrite) links every
partition into the twin once (metadata only); an overwrite links none. Where
``RENAME_EXCHANGE`` is unsupported (another OS, a filesystem that answers ``EINVAL``),
step 4 falls back to putting the twin's files in place one by one (atomic per file; the
twin keeps them all until the journal goes, so a killed swap is simply run again), then
copying the marker. An unpartitioned lake (``jobs.parquet``, ``tasks.parquet``) has its
two files renamed in step 4. Copy a lake without the twins (they are hidden), or with
hard links preserved (``cp -a``, ``rsync -H``); ``sync``, ``check`` and readers need
nothing from them.

Readers. :func:`read_parquet` (and ``data_files``, used by ``sync``) read only the lake's
own files -- partition folders with valid names holding ``part-0.parquet`` -- and while a
journal exists they read the committed new state through it (a table's twin until it
is swapped in). A read during which a write commits or swaps a table is retried. So
``read_parquet`` always sees one whole committed state.

A plain-glob reader (DuckDB, Polars or Spark on
``jobs/created_date=[0-9_]*/part-0.parquet``; the hidden twins and markers never match)
sees each partition whole, old or new, never a temporary or half-written file, never a
missing ``jobs/``/``tasks/``; a lake at rest never holds a job twice. A glob is listed
first and its files opened one by one afterwards, each through the table's name, so a
query whose opens straddle the instant ``jobs/`` is exchanged reads some partitions from
the old table and others from the new: a job this write moved to another partition (its
``created_at`` changed) can then be counted twice, or not at all, by that one query.
Other windows, between the two swaps of step 4 (a few milliseconds) or after a writer
was killed there until the next writer or ``check --repair`` runs: the new ``tasks/``
with the old ``jobs/`` (a merge's new tasks without their job yet; an overwrite's tasks
of the jobs to come). For one consistent snapshot while a writer may be running, read
through :func:`read_parquet`. A glob cannot tell a real date from a foreign folder named
like one (``created_date=2026-02-30``, ``created_date=2026-09-21 copy``): a plain-glob
reader reads such copies (``read_parquet`` skips them, ``check`` reports them). With the
per-file fallback, during step 4 a table may also show some partitions new and others
old, as in earlier versions.
"""

from __future__ import annotations

from ittybit_frames.lake._check import Layout, check_lake, lake_layout
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
from ittybit_frames.lake._read import (
    data_files,
    lake_location,
    lake_objects,
    read_columns,
    read_parquet,
)
from ittybit_frames.lake._store import is_remote
from ittybit_frames.lake._sync_entry import sync_entry
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
    "Layout",
    "Profile",
    "WriteReport",
    "check_lake",
    "data_files",
    "is_remote",
    "lake_layout",
    "lake_location",
    "lake_objects",
    "lock_lake",
    "read_columns",
    "read_manifest",
    "read_parquet",
    "sync_entry",
    "write_bytes_atomic",
    "write_manifest",
    "write_parquet",
]
