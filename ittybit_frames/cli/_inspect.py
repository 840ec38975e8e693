"""``info`` (a lake at a glance) and ``show`` (one job and its tasks).

Both print what was asked for on stdout (text, or JSON with ``--json``), through the
public ``read_parquet``/``read_manifest``/``Client`` APIs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ittybit_frames.cli._commands import EXIT_OK, EXIT_PARTIAL, client_for
from ittybit_frames.cli._output import Console, plural
from ittybit_frames.cli._paths import file_to_write, lake_to_read
from ittybit_frames.errors import ConfigurationError
from ittybit_frames.frames import JobFrames, to_frames
from ittybit_frames.lake import (
    MANIFEST,
    lake_layout,
    lake_objects,
    read_manifest,
    read_parquet,
    sync_entry,
    write_bytes_atomic,
)
from ittybit_frames.plots import plot_job_timeline

_TASK_COLUMNS = {
    "task_index": "#",
    "kind": "kind",
    "status": "status",
    "started_at": "started (UTC)",
    "queue_seconds": "waited s",
    "processing_seconds": "ran s",
    "error": "error",
}


def _plain(value: Any) -> Any:
    """A cell as JSON: NA -> null, times -> ISO 8601, numpy scalars -> numbers."""
    if value is None or (not isinstance(value, str | dict | list) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _iso_ms(ms: Any) -> str | None:
    if not isinstance(ms, int | float):
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat()


def _counts(column: pd.Series) -> dict[str, int]:
    counts = column.astype("string").value_counts()
    return {str(k): int(v) for k, v in counts.items() if v}


def _files(lake: Path | str) -> tuple[list[int], list[str], str | None]:
    """(file sizes, partition days, when the manifest was written) of a folder or URL."""
    if isinstance(lake, str):
        objects = lake_objects(lake)
        folders = {k.split("/")[1] for k in objects if k.startswith("jobs/created_date=")}
        when = read_manifest(lake).get("updated_at")
        return list(objects.values()), sorted(d.split("=", 1)[1] for d in folders), when
    # The twins (.jobs.swap, .tasks.swap) are hard links: count each file once.
    files = {
        (st.st_dev, st.st_ino): st.st_size
        for p in lake.rglob("*")
        if p.is_file()
        for st in [p.stat()]
    }
    days = sorted(p.name.split("=", 1)[1] for p in (lake / "jobs").glob("created_date=*"))
    written = lake / MANIFEST
    return (
        list(files.values()),
        days,
        _iso_ms(written.stat().st_mtime * 1000) if written.exists() else None,
    )


def lake_info(lake: Path | str) -> dict[str, Any]:
    """Everything ``info`` says about a lake, as plain JSON-able values."""
    manifest = read_manifest(lake)
    frames = read_parquet(lake)
    jobs, tasks = frames.jobs, frames.tasks
    created = jobs["created_at"].dropna()
    files, days, written = _files(lake)
    state = sync_entry(manifest)
    guessed = None if manifest else lake_layout(lake)
    return {
        "lake": lake if isinstance(lake, str) else str(lake.resolve()),
        "schema_version": manifest.get("schema_version"),
        "written_by": manifest.get("package_version"),
        # A lake without its manifest (an old writer's): what its files show.
        "profile": manifest.get("profile") if guessed is None else guessed.profile,
        "partition_by": (
            manifest.get("partition_by", "day") if guessed is None else guessed.partition_by
        ),
        "jobs": len(jobs),
        "tasks": len(tasks),
        "first_created_at": _plain(created.min()) if len(created) else None,
        "last_created_at": _plain(created.max()) if len(created) else None,
        "jobs_by_status": _counts(jobs["status"]),
        "jobs_by_kind": _counts(jobs["kind"]),
        "tasks_by_status": _counts(tasks["status"]),
        "tasks_by_kind": _counts(tasks["kind"]),
        "partitions": len(days),
        "first_partition": days[0] if days else None,
        "last_partition": days[-1] if days else None,
        "files": len(files),
        "size_bytes": sum(files),
        "last_written_at": written,
        "synced_up_to": {
            ("all kinds" if key in ("", "*") else key): _iso_ms(ms)
            for key, ms in state.get("frontiers", {}).items()
        },
        # A kind the listing does not filter: how far its last walk listed (any kind).
        "sync_walked_to": {key: _iso_ms(ms) for key, ms in state.get("walked", {}).items()},
        "sync_interrupted": bool(state.get("walks")),
        "last_sync": manifest.get("last_sync"),
    }


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""  # pragma: no cover


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items())


def _info_text(info: dict[str, Any]) -> str:
    def by(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"

    synced = _pairs(info["synced_up_to"]) or "never synced"
    lines = [
        f"lake:        {info['lake']}",
        f"jobs:        {info['jobs']:,} ({by(info['jobs_by_status'])})",
        f"  by kind:   {by(info['jobs_by_kind'])}",
        f"tasks:       {info['tasks']:,} ({by(info['tasks_by_status'])})",
        f"  by kind:   {by(info['tasks_by_kind'])}",
        f"created:     {info['first_created_at']} to {info['last_created_at']}",
        (
            f"partitions:  {info['partitions']:,} days ({info['first_partition']} to "
            f"{info['last_partition']})"
            if info["partition_by"] is not None
            else "partitions:  none (one file per table)"
        ),
        f"on disk:     {_size(info['size_bytes'])} in {plural(info['files'], 'file')}",
        (
            f"schema:      version {info['schema_version']} (written by ittybit-frames "
            f"{info['written_by']}, profile {info['profile']})"
            if info["schema_version"] is not None
            else f"schema:      no manifest (an old writer's lake; its files show profile "
            f"{info['profile']}; the next sync or write records one)"
        ),
        f"last write:  {info['last_written_at'] or 'not recorded'}",
        f"sync:        newest job seen {synced}"
        + (f"; listing walked to {walked}" if (walked := _pairs(info["sync_walked_to"])) else "")
        + ("; an interrupted sync will resume" if info["sync_interrupted"] else ""),
        f"last sync:   {_last_sync(info['last_sync'])}",
    ]
    return "\n".join(lines) + "\n"


def _last_sync(last: dict[str, Any] | None) -> str:
    if not last:
        return "none recorded"
    return (
        f"{last['finished_at']}: {last['new_jobs']:,} new, {last['updated_jobs']:,} updated, "
        f"{last['refreshed']:,} re-read, {plural(last['failures'], 'failure')}, "
        f"{plural(last['requests'], 'request')} in {last['seconds']} s"
        + (f", {plural(n, 'write problem')}" if (n := last.get("write_problems")) else "")
        + (f", {plural(n, 'data problem')}" if (n := last.get("data_problems")) else "")
    )


def cmd_info(args: argparse.Namespace) -> int:
    info = lake_info(lake_to_read(args.path))
    sys.stdout.write(orjson.dumps(info).decode() + "\n" if args.json else _info_text(info))
    sys.stdout.flush()
    return EXIT_OK


def _job_frames(args: argparse.Namespace) -> JobFrames:
    if args.lake:
        return read_parquet(lake_to_read(args.lake))
    with client_for(args) as client:
        return to_frames([client.get_job(args.job_id)])


def _task_table(tasks: pd.DataFrame) -> pd.DataFrame:
    table = tasks.sort_values("task_index").assign(
        started_at=tasks["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        error=tasks["error_kind"].fillna("").astype(str)
        + ": "
        + tasks["error_message"].fillna("").astype(str),
    )
    table["error"] = table["error"].where(table["error"] != ": ", "")
    return table[list(_TASK_COLUMNS)].rename(columns=_TASK_COLUMNS)


def _text_table(frame: pd.DataFrame) -> str:
    """Columns of text: numbers to the right, words to the left, NA blank."""

    def cell(value: Any) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return f"{value:,.1f}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    header = [str(c) for c in frame.columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in cells)])


def _seconds(value: Any) -> str:
    return "-" if pd.isna(value) else f"{value:,.1f} s"


def _draw_timeline(frames: JobFrames, job_id: str, png: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(9, 3.5), layout="constrained", dpi=110)
    FigureCanvasAgg(figure)
    plot_job_timeline(frames, job_id, ax=figure.add_subplot())
    image = io.BytesIO()
    figure.savefig(image, format="png")
    # Whole or not at all, its folder made if needed (as --png was checked).
    write_bytes_atomic(png, image.getvalue())


def _png_path(given: str) -> Path:
    """Where ``--png`` draws: a writable path ending in ``.png`` (PNG bytes in a file
    named otherwise would be taken for another kind of image)."""
    path = file_to_write(given, "--png")
    if path.suffix.lower() != ".png":
        raise ConfigurationError(
            f"--png {given}: the timeline is drawn as PNG; give a path ending in .png"
        )
    return path


def cmd_show(args: argparse.Namespace) -> int:
    console: Console = args.console
    png = _png_path(args.png) if args.png else None
    frames = _job_frames(args)
    job = frames.jobs[frames.jobs["job_id"] == args.job_id]
    if job.empty:
        console.problem(f"no job {args.job_id} in {args.lake}: check the ID, or leave out --lake")
        return EXIT_PARTIAL
    tasks = frames.tasks[frames.tasks["job_id"] == args.job_id]
    if args.json:
        body = {"job": _records(job)[0], "tasks": _records(tasks.sort_values("task_index"))}
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
    else:
        row = job.iloc[0]
        created = row["created_at"]
        head = (
            f"{args.job_id}: {row['kind']}, {row['status']}, created "
            f"{'-' if pd.isna(created) else f'{created:%Y-%m-%d %H:%M:%S} UTC'}, waited "
            f"{_seconds(row['queue_seconds'])}, ran {_seconds(row['processing_seconds'])}, "
            f"total {_seconds(row['total_seconds'])}"
        )
        if pd.notna(row["error_kind"]) or pd.notna(row["error_message"]):
            head += f"\nerror: {row['error_kind']}: {row['error_message']}"
        table = _text_table(_task_table(tasks)) if len(tasks) else "no tasks"
        sys.stdout.write(f"{head}\n{table}\n")
    sys.stdout.flush()
    if png is not None:
        _draw_timeline(frames, args.job_id, png)
        console.summary(f"Timeline: {png}")
    return EXIT_OK
