"""What each subcommand does (arguments are parsed and typed in ``_parser``/``_args``).

Each command checks its paths and settings first (``_paths``, building the client), so a
mistake costs no network or disk work; then it works, prints one summary line (``-v``:
each step) and returns its exit code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import orjson

from ittybit_frames.cli._output import Console, plural
from ittybit_frames.cli._paths import (
    file_to_write,
    folder_for_files,
    folder_to_write,
    lake_to_read,
    lake_to_write,
    read_ids_file,
)
from ittybit_frames.cli._sync_lines import say_data_problems, say_since, say_write_problems
from ittybit_frames.client import Client
from ittybit_frames.errors import ConfigurationError, EmptyWindowWarning
from ittybit_frames.frames import JobFrames, to_frames
from ittybit_frames.lake import (
    check_lake,
    lake_layout,
    read_parquet,
    write_bytes_atomic,
    write_parquet,
)
from ittybit_frames.loaders import empty_window_hint, listing_filters
from ittybit_frames.report import report as write_report
from ittybit_frames.schema import data_dictionary
from ittybit_frames.simulator import Faults, SimulatorAPI, generate_history, serve
from ittybit_frames.sync import sync
from ittybit_frames.vocabulary import parse_window

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3


def from_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a Ctrl-C was being handled (the client's
    clean-up of a listing cut short can fail so: the user pressed Ctrl-C, and that is
    what they are told, not a traceback)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _console(args: argparse.Namespace) -> Console:
    console: Console = args.console
    return console


def _failures(console: Console, failures: Any) -> int:
    """List per-item failures (at every level); returns how many."""
    for row in failures.itertuples():
        console.problem(f"failed: {row.job_id}: {row.message}")
    return len(failures)


def client_for(args: argparse.Namespace, **extra: Any) -> Client:
    """A client from the command's options: key, base URL and limits are checked here,
    before any request (a mistake is a ConfigurationError, exit 2)."""
    if "api_key" not in extra:
        key = os.environ.get("ITTYBIT_API_KEY")
        if key is None:
            raise ConfigurationError(
                "no ittybit API key: export ITTYBIT_API_KEY=<your key> in this shell "
                "(`ittybit-frames demo` needs none)"
            )
        if not key.strip():
            raise ConfigurationError(
                "ITTYBIT_API_KEY is empty: export ITTYBIT_API_KEY=<your key> in this shell"
            )
    options: dict[str, Any] = {"progress": args.progress, **extra}
    for name in ("base_url", "concurrency", "max_attempts", "rate_limit"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    return Client(**options)


def check_window(args: argparse.Namespace) -> None:
    parse_window(args.since, args.until, flags=True)


def _demo_folder(args: argparse.Namespace) -> Path:
    """A new folder, or an earlier demo's (with --replace): never two histories in one."""
    out = folder_to_write(args.out, "--out")
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if not held:
        return out
    if not args.replace:
        raise ConfigurationError(
            f"--out {out} is not empty: a new demo history would mix with what is there; "
            "give a new folder, or add --replace to replace an earlier demo's lake and report"
        )
    if not set(held) <= {"lake", "report"} or not (out / "lake" / "_ittybit_frames.json").exists():
        raise ConfigurationError(
            f"--replace removes only an earlier demo's lake/ and report/, and {out} holds "
            f"something else ({', '.join(held)}): give a new folder"
        )
    for name in held:
        shutil.rmtree(out / name)
    return out


def cmd_demo(args: argparse.Namespace) -> int:
    console = _console(args)
    out = _demo_folder(args)
    lake = out / "lake"
    began = time.monotonic()
    console.step("generating %s simulated jobs (30 days of history)", f"{args.jobs:,}")
    history = generate_history(args.jobs, seed=args.seed)
    with serve(history, latency=0.002) as api:
        console.step("simulated ittybit API at %s; syncing into %s", api.url, lake)
        with client_for(args, api_key=api.api_key, base_url=api.url) as client:
            report = sync(lake, client=client, lock_timeout=args.lock_timeout)
    frames = read_parquet(lake)
    console.step("writing the report")
    page = write_report(frames, out / "report")
    _demo_steps(console, frames, lake)
    n_failed = _failures(console, report.failures)
    say_write_problems(console, report.problems)
    say_data_problems(console, report)
    console.summary(
        f"Demo: {plural(len(frames.jobs), 'job')} ({plural(len(frames.tasks), 'task')}) in "
        f"{lake}, {plural(report.requests, 'request')}; report {page} "
        f"(open it in a browser); {time.monotonic() - began:.1f} s"
    )
    console.data(
        {
            "jobs": len(frames.jobs),
            "tasks": len(frames.tasks),
            "failures": n_failed,
            "requests": report.requests,
            "seconds": round(time.monotonic() - began, 2),
            "lake": str(lake.resolve()),
            "report": str(page.resolve()),
        }
    )
    return EXIT_PARTIAL if n_failed else EXIT_OK


def _demo_steps(console: Console, frames: JobFrames, lake: Path) -> None:
    finished = frames.jobs.dropna(subset=["total_seconds"])
    p95 = finished.groupby("kind", observed=True)["total_seconds"].quantile(0.95)
    counts = frames.jobs["status"].value_counts()
    console.step("jobs by status: %s", ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))
    console.step("p95 total time by kind: %s", ", ".join(f"{k} {v:,.1f} s" for k, v in p95.items()))
    console.step("pandas: ittybit_frames.read_parquet(%r)", str(lake))
    console.step(
        "DuckDB: SELECT * FROM read_parquet('%s/jobs/created_date=[0-9_]*/part-0.parquet', "
        "hive_partitioning = true)",
        lake,
    )


def _export_target(args: argparse.Namespace) -> Path | str | None:
    if args.out == "-":
        if args.format != "ndjson":
            raise ConfigurationError("--out - (stdout) works with --format ndjson only")
        return None
    if args.format == "parquet":
        return lake_to_write(args.out, "--out")
    if args.format == "csv":
        hint = " (or --format parquet to merge into the lake)"
        folder = folder_for_files(args.out, "--out", "the CSV files", hint)
        for name in _CSV_TABLES:
            if (folder / f"{name}.csv").is_dir():
                raise ConfigurationError(
                    f"--out {folder} holds a folder named {name}.csv where the export "
                    "writes a file: move it away, or give another folder"
                )
        return folder
    return file_to_write(args.out, "--out")


#: The files of a CSV export, one per table.
_CSV_TABLES = ("jobs", "tasks")


def _fetch(args: argparse.Namespace, client: Client, ids: list[str] | None) -> tuple[Any, Any]:
    if ids is not None:
        result = client.fetch_jobs(ids)
        return result.jobs, result.failures
    window = {"since": args.since, "until": args.until}
    kind, status, _ = listing_filters(args.kind, args.status)  # others: cmd_export's subset
    jobs = list(client.iter_jobs(kind=kind, status=status, **window))
    if not jobs and (args.since or args.until):
        hint = empty_window_hint(client, args.since, args.until)
        if hint:
            _console(args).problem(hint)
    return jobs, None


def cmd_export(args: argparse.Namespace) -> int:
    console = _console(args)
    check_window(args)
    ids = list(args.ids) if args.ids else read_ids_file(args.ids_file) if args.ids_file else None
    target = _export_target(args)
    began = time.monotonic()
    with client_for(args) as client:
        console.step("fetching %s", plural(len(ids), "job") if ids else "the listing")
        try:
            records, failures = _fetch(args, client, ids)
        except Exception as exc:
            if not from_ctrl_c(exc):
                raise
            console.problem("Interrupted: nothing was written.")
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            console.problem("Interrupted: nothing was written.")
            return EXIT_INTERRUPTED
        stats = client.stats
    frames = to_frames(records)
    kept: dict[str, Any] = listing_filters(args.kind, args.status)[2]  # not the listing's
    if ids is not None and (args.kind or args.status or args.since or args.until):
        kept = {"kind": args.kind, "status": args.status, "since": args.since, "until": args.until}
    if kept:
        frames = frames.subset(**kept)
        keep = set(frames.jobs["job_id"].dropna())
        records = [r for r in records if r.get("id") in keep]
    n_failed = 0 if failures is None else _failures(console, failures)
    if ids is not None and n_failed and not records:
        console.problem(f"Every ID failed: nothing was written to {args.out}.")
        return EXIT_PARTIAL
    console.step("writing %s as %s", plural(len(frames.jobs), "job"), args.format)
    _write_export(args, frames, records, target)
    console.summary(
        f"Exported {plural(len(frames.jobs), 'job')} ({plural(len(frames.tasks), 'task')}) to "
        f"{args.out} as {args.format} in {time.monotonic() - began:.1f} s "
        f"({plural(stats.requests, 'request')}, {plural(stats.retries, 'retry', 'retries')}); "
        f"{plural(len(frames.problems), 'data problem')}"
        + (f"; {plural(n_failed, 'ID')} failed" if n_failed else "")
    )
    if args.out != "-":
        console.data(
            {
                "jobs": len(frames.jobs),
                "tasks": len(frames.tasks),
                "failures": n_failed,
                "problems": len(frames.problems),
                "requests": stats.requests,
                "retries": stats.retries,
                "out": target if isinstance(target, str) else str(Path(args.out).resolve()),
            }
        )
    return EXIT_PARTIAL if n_failed else EXIT_OK


def _write_export(
    args: argparse.Namespace, frames: JobFrames, records: list[Any], target: Path | str | None
) -> None:
    lines = b"".join(orjson.dumps(r) + b"\n" for r in records) if args.format == "ndjson" else b""
    if target is None:
        _write_all(sys.stdout.buffer, lines)
        sys.stdout.flush()
    elif args.format == "parquet":
        # Into a lake: its own profile and partitioning, unless --profile says otherwise.
        layout = lake_layout(target) if args.mode != "overwrite" else None
        write_parquet(
            frames,
            target,
            mode=args.mode,
            partition_by="day" if layout is None else layout.partition_by,
            profile=args.profile or ("default" if layout is None else layout.profile),
            lock_timeout=args.lock_timeout,
        )
    elif args.format == "csv":
        _write_csv(Path(target), {"jobs": frames.jobs, "tasks": frames.tasks})
    else:
        write_bytes_atomic(Path(target), lines)


def _write_all(stream: Any, data: bytes) -> None:
    """``data`` written whole: a buffered write to a pipe whose reader went away midway
    returns the short count the kernel took, without an error; the next write raises
    the broken pipe (reported, exit 1), instead of the export saying it is done."""
    view = memoryview(data)
    while view:
        view = view[stream.write(view) :]


def _write_csv(folder: Path, tables: dict[str, Any]) -> None:
    """Each table as ``NAME.csv``, both or neither: every file is written whole under
    a hidden name first, then they replace what was there (a full disk or Ctrl-C while
    writing leaves the earlier export as it was, not a new jobs.csv beside old tasks)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name in _CSV_TABLES:
            target = folder / f"{name}.csv"
            hidden = folder / f".{name}.csv.{os.getpid()}.part"
            write_bytes_atomic(hidden, tables[name].to_csv(index=False).encode())
            staged.append((hidden, target))
        for hidden, target in staged:
            os.replace(hidden, target)
    finally:
        for hidden, _ in staged:
            hidden.unlink(missing_ok=True)


def cmd_sync(args: argparse.Namespace) -> int:
    console = _console(args)
    lake = lake_to_write(args.path)
    say_since(console, lake, args.kind, args.since)
    with client_for(args) as client:
        console.step("syncing %s from %s", lake, client.base_url)
        try:
            report = sync(
                lake,
                client=client,
                since=args.since,
                kind=args.kind,
                batch_jobs=args.batch_jobs,
                profile=args.profile,
                lock_timeout=args.lock_timeout,
                overlap_seconds=args.overlap,
            )
        except KeyboardInterrupt:
            console.problem(
                f"Interrupted: the lake at {args.path} is consistent; run the same command "
                "again to resume."
            )
            return EXIT_INTERRUPTED
    n_failed = _failures(console, report.failures)
    say_write_problems(console, report.problems)
    say_data_problems(console, report)
    if args.since and not report.lake_jobs:
        with client_for(args) as client:
            hint = empty_window_hint(client, args.since, None)
        if hint:
            console.problem(hint)
    console.summary(
        f"Synced {args.path}: {report.new_jobs:,} new, {report.updated_jobs:,} updated, "
        f"{report.unchanged_jobs:,} unchanged; {plural(report.lake_jobs, 'job')} in the lake; "
        f"{plural(report.requests, 'request')} ({plural(report.retries, 'retry', 'retries')}) "
        f"in {report.elapsed_seconds:.1f} s"
        + (" (resumed)" if report.resumed else "")
        + (f"; {plural(n_failed, 'job')} failed" if n_failed else "")
    )
    console.data(
        {
            "new_jobs": report.new_jobs,
            "updated_jobs": report.updated_jobs,
            "unchanged_jobs": report.unchanged_jobs,
            "refreshed": report.refreshed,
            "failures": n_failed,
            "write_problems": len(report.problems),
            "data_problems": report.data_problem_count,
            "requests": report.requests,
            "retries": report.retries,
            "lake_jobs": report.lake_jobs,
            "resumed": report.resumed,
            "seconds": round(report.elapsed_seconds, 2),
        }
    )
    return EXIT_PARTIAL if n_failed else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    console = _console(args)
    lake = lake_to_read(args.path)
    result = check_lake(lake, repair=args.repair, lock_timeout=args.lock_timeout)
    for line in result.repaired:
        console.summary(f"repaired: {line}")
    for line in result.problems:
        console.problem(f"problem: {line}")
    if result.healthy:
        console.summary(f"{args.path}: healthy" + (" after repair" if result.repaired else ""))
    elif not args.repair:
        console.problem(
            f"{args.path}: {plural(len(result.problems), 'problem')}; "
            "'check --repair' fixes what it can"
        )
    console.data(result.to_dict())
    return EXIT_OK if result.healthy else EXIT_PARTIAL


def cmd_report(args: argparse.Namespace) -> int:
    console = _console(args)
    check_window(args)
    lake = lake_to_read(args.path)
    out = folder_for_files(args.out, "--out", "the report")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", EmptyWindowWarning)
        frames = read_parquet(lake, since=args.since, until=args.until)
    if frames.jobs.empty:
        spans = [str(w.message) for w in said if issubclass(w.category, EmptyWindowWarning)]
        why = spans[0] if spans else "it holds no jobs"
        console.problem(f"{lake}: {why}; nothing to report")
        return EXIT_PARTIAL
    console.step("drawing the report of %s", plural(len(frames.jobs), "job"))
    page = write_report(frames, out, customer_key=args.customer_key)
    console.summary(f"Report: {page.resolve()} (open it in a browser; PNGs beside it)")
    console.data({"report": str(page.resolve()), "jobs": len(frames.jobs)})
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(data_dictionary("json" if args.json else args.format))
    sys.stdout.flush()
    return EXIT_OK


def _free_port(port: int) -> None:
    """Refuse a port in use before building the history (the server binds the same way:
    address reuse on, so only a listener in the way fails)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigurationError(
                f"--port {port} is in use on 127.0.0.1 ({exc.strerror}): pick another "
                "port, or 0 for any free one"
            ) from exc


def cmd_simulate(args: argparse.Namespace) -> int:
    console = _console(args)
    _free_port(args.port)
    faults = Faults(
        rate=args.fault_rate,
        retry_after=args.retry_after_form,
        retry_after_seconds=args.retry_after,
    )
    api = SimulatorAPI(
        generate_history(args.jobs, seed=args.seed, generation=args.generation),
        port=args.port,
        latency=args.latency_ms / 1000.0,
        jitter=args.jitter_ms / 1000.0,
        faults=faults,
        rate_limit=args.rate_limit,
        envelope=args.envelope,
        paging=args.paging,
        advance_every=args.advance_every,
        record=False,
    )
    try:
        api.start()
    except (OSError, OverflowError) as exc:  # taken between our check and the bind
        raise ConfigurationError(
            f"--port {args.port}: cannot listen on 127.0.0.1 ({exc}): pick another port, "
            "or 0 for any free one"
        ) from exc
    # The URL and key on stdout (one JSON line) so scripts can read them.
    sys.stdout.write(orjson.dumps({"url": api.url, "api_key": api.api_key}).decode() + "\n")
    sys.stdout.flush()
    console.summary(
        f"Serving {plural(args.jobs, 'simulated job')} at {api.url} (key {api.api_key}); "
        "Ctrl-C stops."
    )
    try:
        while True:
            time.sleep(3600)
    finally:
        api.stop()
