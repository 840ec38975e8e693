"""The command line's arguments, one function per group of subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from ittybit_frames.cli._commands import (
    _cmd_check,
    _cmd_demo,
    _cmd_export,
    _cmd_report,
    _cmd_schema,
    _cmd_simulate,
    _cmd_sync,
)
from ittybit_frames.lake import (
    DEFAULT_LOCK_TIMEOUT,
)
from ittybit_frames.version import __version__
from ittybit_frames.vocabulary import parse_when


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

    _add_lake_commands(sub, common)
    _add_export_command(sub, common)
    _add_reading_commands(sub, common)
    _add_simulate_command(sub, common)
    return parser


def _add_lake_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`demo` and `sync`: the commands that fill a lake from the API."""
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


def _add_export_command(sub: Any, common: argparse.ArgumentParser) -> None:
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


def _add_reading_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`check`, `report` and `schema`."""
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


def _add_simulate_command(sub: Any, common: argparse.ArgumentParser) -> None:
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
