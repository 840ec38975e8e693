"""The ``ittybit-frames`` command. The only module that configures logging.

Exit codes: 0 success; 1 finished with per-item failures (or the API could not be
reached); 2 usage or configuration error; 3 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ittybit_frames.client import Client
from ittybit_frames.errors import (
    AuthenticationError,
    ConfigurationError,
    IttybitError,
    NetworkError,
)
from ittybit_frames.frames import to_frames
from ittybit_frames.lake import (
    DEFAULT_LOCK_TIMEOUT,
    check_lake,
    read_parquet,
    write_bytes_atomic,
    write_parquet,
)
from ittybit_frames.report import report as write_report
from ittybit_frames.schema import data_dictionary
from ittybit_frames.simulator import Faults, SimulatorAPI, generate_history, serve
from ittybit_frames.sync import sync
from ittybit_frames.version import __version__
from ittybit_frames.vocabulary import parse_when

__all__ = ["main"]

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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ittybit-frames",
        description="ittybit jobs as pandas DataFrames and Parquet.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    common.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress")
    common.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", parents=[common], help="run the whole pipeline against the built-in simulator"
    )
    demo.add_argument("--out", default="ittybit-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--jobs", type=_positive_int, default=20_000, help="jobs to simulate")
    demo.add_argument("--seed", type=int, default=0, help="simulation seed")
    _add_lock_argument(demo)
    demo.set_defaults(func=_cmd_demo)

    syn = sub.add_parser("sync", parents=[common], help="bring a Parquet lake up to date")
    syn.add_argument("path", help="the lake folder")
    syn.add_argument(
        "--since", type=_when, help="first sync only: how far back (7d, 2026-11-01...)"
    )
    syn.add_argument("--kind", help="only jobs of this kind")
    _add_client_arguments(syn)
    syn.add_argument(
        "--batch-jobs", type=_positive_int, default=2000, help="jobs written per checkpoint"
    )
    syn.add_argument(
        "--profile", default="default", choices=("default", "spark", "bigquery", "athena")
    )
    _add_lock_argument(syn)
    syn.set_defaults(func=_cmd_sync)

    exp = sub.add_parser("export", parents=[common], help="export jobs by ID or by listing")
    exp.add_argument(
        "--out",
        required=True,
        help="lake folder (parquet), folder (csv) or file (ndjson; - for stdout)",
    )
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", nargs="+", metavar="ID", help="job IDs to fetch")
    which.add_argument("--ids-file", help="file with one job ID per line (# comments)")
    which.add_argument("--all", action="store_true", help="walk the whole listing")
    exp.add_argument("--kind", help="only jobs of this kind")
    exp.add_argument("--status", help="only jobs with this status")
    exp.add_argument("--since", type=_when, help="only jobs created since (7d, 12h, 2026-11-01...)")
    exp.add_argument("--until", type=_when, help="only jobs created before")
    exp.add_argument("--format", choices=("parquet", "csv", "ndjson"), default="parquet")
    exp.add_argument(
        "--profile", default="default", choices=("default", "spark", "bigquery", "athena")
    )
    exp.add_argument(
        "--mode",
        choices=("merge", "overwrite"),
        default="merge",
        help="parquet into an existing lake: merge (upsert, default) or overwrite it",
    )
    _add_lock_argument(exp)
    _add_client_arguments(exp)
    exp.set_defaults(func=_cmd_export)

    chk = sub.add_parser("check", parents=[common], help="check a Parquet lake (and repair it)")
    chk.add_argument("path", help="the lake folder")
    chk.add_argument("--repair", action="store_true", help="fix what the lake itself can fix")
    _add_lock_argument(chk)
    chk.set_defaults(func=_cmd_check)

    rep = sub.add_parser("report", parents=[common], help="write an HTML + PNG report")
    rep.add_argument("path", help="the lake folder")
    rep.add_argument("--out", required=True, help="folder for report.html and the PNGs")
    rep.add_argument("--since", type=_when, help="only jobs created since (7d, 2026-11-01...)")
    rep.add_argument("--until", type=_when, help="only jobs created before")
    rep.set_defaults(func=_cmd_report)

    schema = sub.add_parser("schema", parents=[common], help="print the data dictionary")
    schema.add_argument("--format", choices=("markdown", "json"), default="markdown")
    schema.set_defaults(func=_cmd_schema)

    sim = sub.add_parser("simulate", parents=[common], help="serve a simulated ittybit API")
    sim.add_argument("--jobs", type=_positive_int, default=10_000)
    sim.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--latency-ms", type=float, default=0.0)
    sim.add_argument("--jitter-ms", type=float, default=0.0)
    sim.add_argument("--fault-rate", type=float, default=0.0, help="share of faulty answers")
    sim.add_argument("--retry-after", type=int, default=1, help="seconds asked for by 429s")
    sim.add_argument("--retry-after-form", choices=("seconds", "date", "mixed"), default="seconds")
    sim.add_argument("--rate-limit", type=float, default=None, help="server-side requests/s")
    sim.add_argument("--envelope", action="store_true", help='answer lists as {"data": [...]}')
    sim.add_argument(
        "--paging", choices=("cursor", "pages"), default="cursor", help="listing style"
    )
    sim.add_argument("--advance-every", type=float, default=None, help="advance jobs every N s")
    sim.set_defaults(func=_cmd_simulate)
    return parser


def _add_lock_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        metavar="SECONDS",
        help="wait this long for another writer of the lake (default: %(default)s)",
    )


def _add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", help="API base URL (default: ITTYBIT_BASE_URL or the API)")
    parser.add_argument("--concurrency", type=_positive_int, default=16)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests/second")
    parser.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=8,
        help="attempts per request before giving up",
    )


def _when(text: str) -> str:
    """Validate a WHEN argument early (ISO date or time, epoch, or a span like 7d)."""

    try:
        parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The lake says when it waits for another writer, and what it repaired.
    logging.getLogger("ittybit_frames.lake").setLevel(level if quiet else min(level, logging.INFO))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    _configure_logging(args.verbose, args.quiet)
    args.progress = False if args.quiet else None
    func: Any = args.func
    try:
        return int(func(args))
    except KeyboardInterrupt:
        _say("Interrupted.")
        return EXIT_INTERRUPTED
    except (ConfigurationError, AuthenticationError) as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except NetworkError as exc:
        _say(
            f"error: {exc}. Check --base-url / ITTYBIT_BASE_URL and the network; an "
            "interrupted sync resumes when run again."
        )
        return EXIT_PARTIAL
    except IttybitError as exc:
        _say(f"error: {exc}")
        return EXIT_PARTIAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
