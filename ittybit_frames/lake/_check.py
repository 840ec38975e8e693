"""``check_lake``: is every file readable and ours, one row per job, every task with its
job, the index, manifest and sync state consistent, no leftovers? ``repair=True`` fixes
what the lake itself can fix."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from ittybit_frames.errors import ConfigurationError, LakeCorruptError
from ittybit_frames.frames import JobFrames
from ittybit_frames.lake._format import (
    INDEX,
    MANIFEST,
    PROFILES,
    arrow_schema,
    conform_arrow,
    day_labels,
    file_version,
    from_arrow,
    plain_schema,
    read_manifest,
    write_manifest,
)
from ittybit_frames.lake._keys import padded_ids_line
from ittybit_frames.lake._lock import DEFAULT_LOCK_TIMEOUT
from ittybit_frames.lake._parents import Parents
from ittybit_frames.lake._place import LocalPlace, Place, RemotePlace
from ittybit_frames.lake._read import partition_label
from ittybit_frames.lake._store import ObjectStore, is_remote, local_path
from ittybit_frames.lake._sync_entry import checked_since, mended_sync_entry, sync_entry
from ittybit_frames.lake._write import newest_per_job, refuse_newer
from ittybit_frames.schema import (
    JOBS,
    PROBLEMS,
    SCHEMA_VERSION,
    TASKS,
    Table,
    counted,
    epoch_ms_array,
)


@dataclass
class CheckReport:
    """What :func:`check_lake` found and did.

    Attributes
    ----------
    problems : list of str
        What is wrong with the lake now (after the repair, when one was asked for).
    found : list of str
        What was wrong before any repair.
    repaired : list of str
        What the repair did, one line per action.
    notes : list of str
        What is fine but worth knowing (files of an earlier schema version).
    """

    path: Path | str  # a folder, or a remote lake's URL
    problems: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when no problem is left."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "path": str(self.path),
            "healthy": self.healthy,
            "problems": self.problems,
            "found": self.found,
            "repaired": self.repaired,
            "notes": self.notes,
        }


@dataclass
class _Scan:
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    # Each table's files, conformed to plain_schema, and each file's partition label:
    # converted to pandas once (per file, the conversion's fixed cost was ~20 ms).
    jobs: list[tuple[pa.Table, str | None]] = field(default_factory=list)
    tasks: list[tuple[pa.Table, str | None]] = field(default_factory=list)
    data_problem: bool = False
    index_problem: bool = False
    sync_fix: dict[str, Any] | None = None
    sync_fix_notes: list[str] | None = None  # what a mended sync entry lost
    sync_pulled: bool = False  # a frontier past the lake's newest job, pulled back
    layout: dict[str, Any] = field(default_factory=dict)  # partition_by, profile
    older: set[int] = field(default_factory=set)  # earlier schema versions of some files


def check_lake(
    path: str | os.PathLike[str],
    *,
    repair: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> CheckReport:
    """Check a Parquet lake, and optionally repair it.

    Parameters
    ----------
    path : str or path
        The lake's root folder, or its URL (``s3://bucket/prefix``, ``gs://...``...).
    repair : bool, default False
        Fix what can be fixed from the lake itself (holding the lake's lock): finish or
        roll back an interrupted write, remove leftovers, keep one row per job (the
        newest), drop tasks without their job, move misplaced jobs, rebuild the index
        and an unreadable manifest, pull a sync frontier back to the lake's contents.
        Files that are not the lake's are reported, never removed.
    lock_timeout : float, default 60
        With ``repair``: seconds to wait for another writer.

    Returns
    -------
    CheckReport

    Raises
    ------
    LakeError
        The lake was written by a newer ittybit-frames (upgrade to check it).
    """
    place = _place_of(path)
    root = place.root
    if not place.exists():
        raise FileNotFoundError(f"no lake at {place.name}")
    with contextlib.suppress(LakeCorruptError):  # a newer lake: judged by a newer version
        refuse_newer(root, read_manifest(root))
    report = CheckReport(root)
    scan = _scan(place)
    report.found = list(scan.problems)
    if not repair or not scan.problems:
        report.problems = scan.problems
        report.notes = _notes(scan)
        return report
    with place.locked(lock_timeout):  # finishes a pending write, removes leftovers
        report.repaired += [p for p in scan.problems if "leftover" in p or "interrupted" in p]
        scan = _scan(place)
        _repair(place, scan, report)
    scan = _scan(place)
    report.problems = scan.problems
    report.notes = _notes(scan)
    return report


def _notes(scan: _Scan) -> list[str]:
    return [
        f"files of schema v{v} (its missing columns read as null); a write upgrades the"
        " partitions it rewrites"
        for v in sorted(scan.older)
    ]


def _scan(place: Place) -> _Scan:
    scan = _Scan()
    try:
        scan.manifest = read_manifest(place.root)
    except LakeCorruptError as exc:
        scan.problems.append(f"manifest: {exc}")
    if place.pending():  # a journal left: a write not finished
        scan.problems.append("an interrupted write is pending (the next writer finishes it)")
    ours, foreign = place.leftovers()
    scan.problems += [f"leftover of a dead writer: {p}" for p in ours]
    scan.problems += [f"not the lake's (ignored): {p}" for p in foreign]
    # A lake without its manifest (an old writer's, or lost) is read as its files are.
    scan.layout = scan.manifest or _guess_manifest(place)
    profile = PROFILES.get(scan.layout.get("profile", "default"), PROFILES["default"])
    for name, table, sink in (("jobs", JOBS, scan.jobs), ("tasks", TASKS, scan.tasks)):
        expected = arrow_schema(table, profile)
        plain = plain_schema(table)
        files = place.files(name)
        for file, arrow in zip(files, place.read_many(files), strict=True):
            rel = place.rel(file)
            if isinstance(arrow, Exception):
                scan.problems.append(f"unreadable: {rel}: {arrow}")
                continue
            older = _older_schema(arrow.schema, expected)
            if older is not None:
                scan.older.add(older)
            elif not _same_schema(arrow.schema, expected):
                scan.problems.append(f"not the pinned schema v{SCHEMA_VERSION}: {rel}")
                continue
            # An older version's file gains its missing columns, null.
            sink.append((conform_arrow(arrow, plain), partition_label(Path(file))))
    _check_rows(place, scan)
    return scan


def _same_schema(actual: pa.Schema, expected: pa.Schema) -> bool:
    if actual.names != expected.names:
        return False
    return _same_types(actual, expected.names, expected)


def _same_types(actual: pa.Schema, names: list[str], expected: pa.Schema) -> bool:
    for name in names:
        a, e = actual.field(name).type, expected.field(name).type
        a_plain = a.value_type if pa.types.is_dictionary(a) else a
        e_plain = e.value_type if pa.types.is_dictionary(e) else e
        if a_plain != e_plain:
            return False
    return True


def _older_schema(actual: pa.Schema, expected: pa.Schema) -> int | None:
    """The version of a file an earlier schema version wrote (its columns a subset of
    today's, in order, of the same types); None for any other file."""
    version = file_version(actual)
    if version is None or version >= SCHEMA_VERSION:
        return None
    names = [n for n in expected.names if n in actual.names]
    if names != actual.names or not _same_types(actual, names, expected):
        return None
    return version


def _all(files: list[tuple[pa.Table, str | None]], table: Table) -> pd.DataFrame:
    """The rows of a table's files as one frame, with each row's partition label."""
    if not files:
        empty = table.empty()
        empty["_label"] = pd.Series([], dtype=object)
        return empty
    frame = from_arrow(pa.concat_tables(arrow for arrow, _ in files), table)
    labels = np.array([label for _, label in files], dtype=object)
    counts = [arrow.num_rows for arrow, _ in files]
    frame["_label"] = pd.Series(np.repeat(labels, counts), index=frame.index, dtype=object)
    return frame


def _check_rows(place: Place, scan: _Scan) -> None:
    jobs, tasks = _all(scan.jobs, JOBS), _all(scan.tasks, TASKS)
    no_id = jobs["job_id"].isna()
    if no_id.any():
        scan.problems.append(f"{int(no_id.sum())} jobs without a job_id")
        scan.data_problem = True
    dup = jobs["job_id"].duplicated(keep=False) & ~no_id
    if dup.any():
        scan.problems.append(f"{jobs.loc[dup, 'job_id'].nunique()} job IDs have several rows")
        scan.data_problem = True
    padded = padded_ids_line(jobs["job_id"])
    if padded is not None:  # --repair rewrites them keyed as the lake now keys
        scan.problems.append(padded)
        scan.data_problem = True
    twice = tasks.duplicated(["job_id", "task_index"], keep=False)
    if twice.any():
        pairs = len(tasks.loc[twice, ["job_id", "task_index"]].drop_duplicates())
        scan.problems.append(f"{pairs} tasks have several rows (job_id, task_index)")
        scan.data_problem = True
    orphans = ~tasks["job_id"].isin(set(jobs["job_id"]))
    if orphans.any():
        scan.problems.append(f"{int(orphans.sum())} tasks without their job")
        scan.data_problem = True
    if scan.layout.get("partition_by", "day") == "day" and len(jobs):
        days = day_labels(epoch_ms_array(jobs["created_at"]))
        wrong = days != jobs["_label"].to_numpy(dtype=object)
        if wrong.any():
            scan.problems.append(f"{int(wrong.sum())} jobs in the wrong day partition")
            scan.data_problem = True
    _check_parents(jobs, tasks, scan)
    has_index = place.has(INDEX)
    if (jobs.empty and not has_index) or place.pending():
        pass  # (a pending write brings its index: judged once that write is finished)
    elif not has_index:
        scan.problems.append(f"no job index {INDEX}")
        scan.index_problem = True
    elif not place.index_of_live_table():
        scan.problems.append(f"the job index {INDEX} is not of the jobs/ table (a backup?)")
        scan.index_problem = True
    else:
        index = place.index()
        lake = jobs.drop_duplicates("job_id").set_index("job_id")["_label"]
        if (
            set(index.index) != set(lake.index)
            or not (index["partition"].reindex(lake.index).to_numpy() == lake.to_numpy()).all()
        ):
            scan.problems.append(f"the job index {INDEX} does not match the jobs files")
            scan.index_problem = True
    _check_sync(jobs, scan)


def _check_parents(jobs: pd.DataFrame, tasks: pd.DataFrame, scan: _Scan) -> None:
    """Every task with its job: its job's parent columns, in its job's partition."""
    if jobs.empty or tasks.empty:
        return
    parents = Parents.of(jobs, tasks)
    if parents.any.any():
        scan.problems.append(
            parents.describe(tasks)
            + ": a read by window, kind or status splits them (--repair writes the job's)"
        )
        scan.data_problem = True
    mine = parents.at >= 0
    labels = jobs["_label"].to_numpy(dtype=object)[parents.at[mine]]
    away = int((tasks["_label"].to_numpy(dtype=object)[mine] != labels).sum())
    if away:
        scan.problems.append(
            f"{counted(away, 'task')} not in their job's partition (--repair moves them)"
        )
        scan.data_problem = True


def _check_sync(jobs: pd.DataFrame, scan: _Scan) -> None:
    try:
        state = sync_entry(scan.manifest or {})
        checked_since(state)
    except ConfigurationError as exc:  # a hand edit: named; --repair removes what is wrong
        scan.problems.append(f"{exc}; --repair removes it")
        state, scan.sync_fix_notes = mended_sync_entry(scan.manifest or {})
        scan.sync_fix = state  # and its frontiers are checked as any others
    frontiers = dict(state.get("frontiers") or {})
    created = epoch_ms_array(jobs["created_at"])
    kinds = jobs["kind"].astype(str).to_numpy()
    fixed = dict(frontiers)
    for key, frontier in frontiers.items():
        mine = created if key == "*" else created[kinds == key]
        mine = mine[~np.isnan(mine)]
        newest = int(mine.max()) if len(mine) else None
        if newest is None or frontier > newest:
            scan.problems.append(
                f"sync frontier {key!r} is past the lake's newest job: a sync would miss jobs"
            )
            if newest is None:
                fixed.pop(key)
            else:
                fixed[key] = newest
    if fixed != frontiers:
        # A kind's walked mark (sync_state.known_end) would stop the next walk above the
        # jobs the pulled-back frontier is there to read again: it goes with the frontier.
        pulled = {k for k in frontiers if fixed.get(k) != frontiers[k]}
        walked = {k: v for k, v in (state.get("walked") or {}).items() if k not in pulled}
        scan.sync_fix = {**state, "frontiers": fixed, "walked": walked}
        scan.sync_pulled = True
        if not walked:
            del scan.sync_fix["walked"]


def _place_of(path: str | os.PathLike[str]) -> Place:
    if is_remote(path):
        return RemotePlace(ObjectStore.open(str(path)))
    return LocalPlace(local_path(path))


@dataclass(frozen=True)
class Layout:
    """How a lake is written: what a writer keeping the lake's own layout writes."""

    partition_by: Literal["day"] | None
    profile: str
    guessed: bool  # from its files: the lake has no manifest (an old writer's)


def lake_layout(path: str | os.PathLike[str]) -> Layout | None:
    """How the lake at ``path`` is written (:class:`Layout`): from its manifest, or, for
    a lake without one, guessed from its files as ``check --repair`` rebuilds it;
    ``None`` where there is no lake yet. For ``sync`` and ``export`` into a lake."""
    place = _place_of(path)
    if not place.exists():
        return None
    manifest = read_manifest(place.root)
    if not manifest and not place.files("jobs"):
        return None
    found = manifest or _guess_manifest(place)
    day = found.get("partition_by", "day") == "day"
    return Layout("day" if day else None, found.get("profile", "default"), not manifest)


def _guess_manifest(place: Place) -> dict[str, Any]:
    partition_by = None if place.has("jobs.parquet") else "day"
    profile = "default"
    files = place.files("jobs")
    if files and not pa.types.is_dictionary(place.read(files[0]).schema.field("kind").type):
        profile = "spark"
    return {"partition_by": partition_by, "profile": profile}


def _repair(place: Place, scan: _Scan, report: CheckReport) -> None:
    root = place.root
    manifest = scan.manifest
    if manifest is None:
        manifest = _guess_manifest(place)
        place.drop_manifest()
        write_manifest(root, manifest)
        report.repaired.append(
            f"rebuilt {MANIFEST} from the files ({manifest}); the sync state was lost, so "
            "the next sync walks the whole listing (merging changes nothing it already has)"
        )
    if scan.data_problem:
        jobs, tasks = _all(scan.jobs, JOBS), _all(scan.tasks, TASKS)
        no_id = int(jobs["job_id"].isna().sum())  # no key to keep them by
        jobs = newest_per_job(jobs[jobs["job_id"].notna()].drop(columns="_label"))
        tasks = tasks.drop(columns="_label")
        kept = tasks["job_id"].isin(set(jobs["job_id"]))
        orphans = int((~kept).sum())
        tasks = tasks[kept].drop_duplicates(["job_id", "task_index"], keep="last")
        place.rewrite(
            JobFrames(jobs, tasks, PROBLEMS.empty()),
            manifest.get("partition_by", "day"),
            manifest.get("profile", "default"),
        )
        write_manifest(root, {**read_manifest(root), "sync": manifest.get("sync", {})})
        report.repaired.append(
            f"rewrote the lake with one row per job ({len(jobs)} jobs, {len(tasks)} tasks): "
            f"newest updated_at kept, orphan tasks dropped ({orphans}), jobs in their day "
            "partition, tasks with their job"
            + (f"; dropped {no_id} jobs without a job_id (no key to keep them by)" if no_id else "")
        )
    elif scan.index_problem:
        place.rebuild_index()
        report.repaired.append(f"rebuilt the job index {INDEX}")
    if scan.sync_fix is not None:
        body = {**read_manifest(root), "sync": scan.sync_fix}
        body["checked_at"] = dt.datetime.now(dt.UTC).isoformat()
        write_manifest(root, body)
        if scan.sync_fix_notes is not None:
            report.repaired.append(f"removed the malformed {', '.join(scan.sync_fix_notes)}")
        if scan.sync_pulled:
            report.repaired.append("pulled the sync frontier back to the lake's newest job")
