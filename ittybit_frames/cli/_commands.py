"""What each subcommand does (argument parsing is in ``_parser``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from ittybit_frames.client import Client
from ittybit_frames.errors import (
    ConfigurationError,
)
from ittybit_frames.frames import to_frames
from ittybit_frames.lake import (
    check_lake,
    read_parquet,
    write_bytes_atomic,
    write_parquet,
)
from ittybit_frames.report import report as write_report
from ittybit_frames.schema import data_dictionary
from ittybit_frames.simulator import Faults, SimulatorAPI, generate_history, serve
from ittybit_frames.sync import sync

logger = logging.getLogger("ittybit_frames.cli")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3


def _say(message: str) -> None:
    """Human-facing messages go to stderr; stdout is kept for data."""
    print(message, file=sys.stderr)


def _cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    lake = out / "lake"
    began = time.monotonic()
    _say(f"Generating {args.jobs:,} simulated jobs (30 days of history)...")
    history = generate_history(args.jobs, seed=args.seed)
    with serve(history, latency=0.002) as api:
        _say(f"Simulated ittybit API at {api.url}; syncing into {lake} ...")
        report = sync(
            lake,
            api_key=api.api_key,
            base_url=api.url,
            progress=args.progress,
            lock_timeout=args.lock_timeout,
        )
    frames = read_parquet(lake)
    page = write_report(frames, out / "report")
    elapsed = time.monotonic() - began
    finished = frames.jobs.dropna(subset=["total_seconds"])
    p95 = finished.groupby("kind", observed=True)["total_seconds"].quantile(0.95)
    counts = frames.jobs["status"].value_counts()
    _say(
        f"Lake holds {len(frames.jobs):,} jobs ({len(frames.tasks):,} tasks); this run: "
        f"{report.new_jobs:,} new, {report.updated_jobs:,} updated, {report.requests:,} "
        f"requests; {elapsed:.1f} s in all."
    )
    _say("Jobs by status: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))
    _say("p95 total time by kind: " + ", ".join(f"{k} {v:,.1f} s" for k, v in p95.items()))
    _say(f"Report:       {page.resolve()}  (open it in a browser)")
    _say(f"Parquet lake: {lake.resolve()}")
    _say(f"  pandas:  ittybit_frames.read_parquet({str(lake)!r})")
    _say(
        f"  DuckDB:  SELECT * FROM read_parquet('{lake}/jobs/created_date=[0-9_]*/"
        "part-0.parquet', hive_partitioning = true)"
    )
    if args.json:
        summary = {
            "jobs": len(frames.jobs),
            "tasks": len(frames.tasks),
            "requests": report.requests,
            "seconds": round(elapsed, 2),
            "lake": str(lake.resolve()),
            "report": str(page.resolve()),
        }
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return EXIT_OK


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "concurrency": args.concurrency,
        "progress": args.progress,
        "max_attempts": args.max_attempts,
    }
    if args.base_url:
        options["base_url"] = args.base_url
    if args.rate_limit:
        options["rate_limit"] = args.rate_limit
    return options


def _read_ids(args: argparse.Namespace) -> list[str] | None:
    if args.ids:
        return list(args.ids)
    if args.ids_file:
        path = Path(args.ids_file)
        if not path.exists():
            raise ConfigurationError(f"--ids-file {path} does not exist")
        lines = path.read_text(encoding="utf-8").splitlines()
        return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]
    return None


def _cmd_export(args: argparse.Namespace) -> int:

    ids = _read_ids(args)
    if args.out == "-" and args.format != "ndjson":
        raise ConfigurationError("--out - (stdout) works with --format ndjson only")
    began = time.monotonic()
    failures = None
    with Client(**_client_options(args)) as client:
        try:
            if ids is not None:
                result = client.fetch_jobs(ids)
                records, failures = result.jobs, result.failures
            else:
                records = list(
                    client.iter_jobs(
                        kind=args.kind, status=args.status, since=args.since, until=args.until
                    )
                )
        except KeyboardInterrupt:
            _say("Interrupted: nothing was written.")
            return EXIT_INTERRUPTED
        stats = client.stats
    frames = to_frames(records)
    if ids is not None and (args.kind or args.status or args.since or args.until):
        frames = frames.subset(
            kind=args.kind, status=args.status, since=args.since, until=args.until
        )
        keep = set(frames.jobs["job_id"].dropna())
        records = [r for r in records if r.get("id") in keep]
    out = Path(args.out)
    n_failed = 0 if failures is None else len(failures)
    if ids is not None and n_failed and not records:
        for row in failures.itertuples() if failures is not None else ():
            _say(f"failed: {row.job_id}: {row.message}")
        _say(f"Every ID failed: nothing was written to {args.out}.")
        return EXIT_PARTIAL
    if args.format == "parquet":
        write_parquet(
            frames, out, mode=args.mode, profile=args.profile, lock_timeout=args.lock_timeout
        )
    elif args.format == "csv":
        for name, frame in (("jobs", frames.jobs), ("tasks", frames.tasks)):
            write_bytes_atomic(out / f"{name}.csv", frame.to_csv(index=False).encode())
    elif args.out == "-":
        sys.stdout.buffer.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
        sys.stdout.flush()
    else:
        write_bytes_atomic(out, b"".join(orjson.dumps(r) + b"\n" for r in records))
    _say(
        f"Exported {len(frames.jobs):,} jobs ({len(frames.tasks):,} tasks) to {args.out} as "
        f"{args.format} in {time.monotonic() - began:.1f} s ({stats.requests:,} requests, "
        f"{stats.retries:,} retries); {len(frames.problems):,} data problems."
    )
    if failures is not None:
        for row in failures.itertuples():
            _say(f"failed: {row.job_id}: {row.message}")
    if args.json and args.out != "-":
        summary = {
            "jobs": len(frames.jobs),
            "tasks": len(frames.tasks),
            "failures": n_failed,
            "problems": len(frames.problems),
            "requests": stats.requests,
            "out": str(out.resolve()),
        }
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return EXIT_PARTIAL if n_failed else EXIT_OK


def _cmd_sync(args: argparse.Namespace) -> int:

    options = _client_options(args)
    try:
        report = sync(
            args.path,
            since=args.since,
            kind=args.kind,
            batch_jobs=args.batch_jobs,
            profile=args.profile,
            lock_timeout=args.lock_timeout,
            **options,
        )
    except KeyboardInterrupt:
        _say(
            f"Interrupted: the lake at {args.path} is consistent; run the same command "
            "again to resume."
        )
        return EXIT_INTERRUPTED
    _say(
        f"Synced {args.path}: {report.new_jobs:,} new, {report.updated_jobs:,} updated, "
        f"{report.unchanged_jobs:,} unchanged; {report.lake_jobs:,} jobs in the lake; "
        f"{report.requests:,} requests ({report.retries:,} retries) in "
        f"{report.elapsed_seconds:.1f} s" + (" (resumed)" if report.resumed else "")
    )
    for row in report.failures.itertuples():
        _say(f"failed: {row.job_id}: {row.message}")
    if args.json:
        summary = {
            "new_jobs": report.new_jobs,
            "updated_jobs": report.updated_jobs,
            "unchanged_jobs": report.unchanged_jobs,
            "refreshed": report.refreshed,
            "failures": len(report.failures),
            "requests": report.requests,
            "retries": report.retries,
            "lake_jobs": report.lake_jobs,
            "resumed": report.resumed,
            "seconds": round(report.elapsed_seconds, 2),
        }
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return EXIT_PARTIAL if len(report.failures) else EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    if not Path(args.path).is_dir():
        raise ConfigurationError(f"no lake at {args.path}")
    result = check_lake(args.path, repair=args.repair, lock_timeout=args.lock_timeout)
    for line in result.repaired:
        _say(f"repaired: {line}")
    for line in result.problems:
        _say(f"problem: {line}")
    if result.healthy:
        _say(f"{args.path}: healthy" + (" after repair" if result.repaired else ""))
    elif not args.repair:
        _say(f"{args.path}: {len(result.problems)} problems; 'check --repair' fixes what it can")
    if args.json:
        sys.stdout.write(orjson.dumps(result.to_dict()).decode() + "\n")
    return EXIT_OK if result.healthy else EXIT_PARTIAL


def _cmd_report(args: argparse.Namespace) -> int:

    if not Path(args.path).exists():
        raise ConfigurationError(
            f"no lake at {args.path}: run 'ittybit-frames sync {args.path}' first"
        )
    page = write_report(args.path, args.out, since=args.since, until=args.until)
    _say(f"Report: {page.resolve()} (open it in a browser; PNGs beside it)")
    if args.json:
        sys.stdout.write(orjson.dumps({"report": str(page.resolve())}).decode() + "\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:

    sys.stdout.write(data_dictionary(args.format))
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:

    faults = Faults(
        rate=args.fault_rate,
        retry_after=args.retry_after_form,
        retry_after_seconds=args.retry_after,
    )
    api = SimulatorAPI(
        generate_history(args.jobs, seed=args.seed),
        port=args.port,
        latency=args.latency_ms / 1000.0,
        jitter=args.jitter_ms / 1000.0,
        faults=faults,
        rate_limit=args.rate_limit,
        envelope=args.envelope,
        paging=args.paging,
        advance_every=args.advance_every,
        record=False,
    ).start()
    # The URL and key on stdout (one JSON line) so scripts can read them.
    sys.stdout.write(orjson.dumps({"url": api.url, "api_key": api.api_key}).decode() + "\n")
    sys.stdout.flush()
    _say(f"Serving {args.jobs:,} simulated jobs at {api.url} (key {api.api_key}); Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    finally:
        api.stop()
