"""The command line's arguments, one function per group of subcommands.

Every value is checked as it is parsed (``_args``); a mistake is one line on stderr and
exit 2. Help shows each option's default and an example for every subcommand.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ittybit_frames.cli import _args
from ittybit_frames.cli._commands import (
    EXIT_USAGE,
    cmd_check,
    cmd_demo,
    cmd_export,
    cmd_report,
    cmd_schema,
    cmd_simulate,
    cmd_sync,
)
from ittybit_frames.cli._inspect import cmd_info, cmd_show
from ittybit_frames.lake import DEFAULT_LOCK_TIMEOUT, PROFILES
from ittybit_frames.version import __version__


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help (where there is one to show), examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


_CHOICE = re.compile(r"invalid choice: '?(?P<given>[^' ]*)'? \(choose from (?P<choices>.*)\)")


def _closest(given: str, words: Sequence[str]) -> str:
    """ ", did you mean X?" for a likely typo of one of ``words``, else "". Options are
    compared without their dashes (``--kind`` is no typo of ``--since``), and all words
    in lower case (``SYNC`` is ``sync`` in capitals, ``--FORMAT`` is ``--format``)."""
    bare = {w.lstrip("-").lower(): w for w in words}
    found = difflib.get_close_matches(given.lstrip("-").lower(), list(bare), n=1, cutoff=0.6)
    return f"; did you mean {bare[found[0]]}?" if found else ""


def _takes(parser: argparse.ArgumentParser) -> str:
    """ "; it takes JOB_ID; give the rest as options (--lake, ...)" for a command given
    more words than it has places for."""
    places = [
        a.metavar or a.dest
        for a in parser._actions
        if not a.option_strings and not isinstance(a, argparse._SubParsersAction)
    ]
    options = [
        a.option_strings[-1]
        for a in parser._actions
        if a.option_strings and a.nargs != 0 and a.dest not in ("help", "version")
    ]
    if not places:
        return "; it takes options only"
    rest = f"; give the rest as options ({', '.join(options)})" if options else ""
    return f"; it takes {' '.join(map(str, places))}{rest}"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line naming what to fix, with the
    closest command, option or choice when the mistake looks like a typo."""

    def error(self, message: str) -> NoReturn:
        match = _CHOICE.search(message)
        if match:
            words = [w.strip(" '\"") for w in match["choices"].split(",")]
            given = match["given"]
            message += (
                _closest(given, words)
                if given
                else " (the value is empty: an unset shell variable?)"
            )
        print(
            f"{self.prog}: error: {message} (see '{self.prog} --help' for usage)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        """Unknown arguments are reported by the command they were given to (its help
        is the one to read), with the closest option of that command."""
        parsed: argparse.Namespace
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            owner = _commands(self).get(getattr(parsed, "command", None) or "", self)
            options = [o for a in owner._actions for o in a.option_strings]
            first = next((e.split("=", 1)[0] for e in extras if e.startswith("-")), "")
            owner.error(
                f"unrecognized arguments: {' '.join(extras)}"
                + (_closest(first, options) if first else _takes(owner))
            )
        return parsed


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _add(sub: Any, name: str, common: argparse.ArgumentParser, text: str, *examples: str) -> Any:
    return sub.add_parser(
        name,
        parents=[common],
        help=text,
        description=text[:1].upper() + text[1:] + ".",
        epilog=_examples(*examples),
        formatter_class=_Help,
    )


def _output_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """-v/-q/--json, on the main parser and (so they work after the command) on each
    subcommand, where their default is SUPPRESS so the main parser's value stands."""
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="each step; -vv debug"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="errors only: no summary, no progress",
    )
    parser.add_argument(
        "--json", action="store_true", default=default, help="a JSON summary on stdout"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ittybit-frames",
        description="ittybit jobs as pandas DataFrames and Parquet.",
        epilog=_examples(
            "ittybit-frames demo",
            "ittybit-frames sync lake --since 30d",
            "ittybit-frames info lake",
            "ittybit-frames sync -h   (help of one command)",
        ),
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _output_options(parser, None)
    parser.set_defaults(verbose=0, quiet=False, json=False)
    common = argparse.ArgumentParser(add_help=False)
    _output_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_lake_commands(sub, common)
    _add_export_command(sub, common)
    _add_reading_commands(sub, common)
    _add_inspect_commands(sub, common)
    _add_simulate_command(sub, common)
    return parser


def _add_lake_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`demo` and `sync`: the commands that fill a lake from the API."""
    demo = _add(
        sub,
        "demo",
        common,
        "run the whole pipeline against the built-in simulator",
        "ittybit-frames demo --jobs 2000 --out /tmp/demo",
        "ittybit-frames demo --out /tmp/demo --replace   (run again into the same folder)",
    )
    demo.add_argument(
        "--out", type=_args.path, default="ittybit-demo", help="output folder (a new one)"
    )
    demo.add_argument(
        "--replace",
        action="store_true",
        help="replace the lake and report of an earlier demo in --out",
    )
    demo.add_argument(
        "--jobs", type=_args.positive_int, default=20_000, metavar="N", help="jobs to simulate"
    )
    demo.add_argument("--seed", type=int, default=0, help="simulation seed")
    _add_lock_argument(demo)
    demo.set_defaults(func=cmd_demo)

    syn = _add(
        sub,
        "sync",
        common,
        "bring a Parquet lake up to date with the API",
        "ittybit-frames sync lake --since 30d   (first run: how far back)",
        "ittybit-frames sync lake               (later runs: what changed)",
    )
    syn.add_argument("path", type=_args.path, help="the lake folder (created if needed)")
    syn.add_argument(
        "--since",
        type=_args.when,
        metavar="WHEN",
        help="how far back a lake's first sync (or a kind's) goes (7d, 2026-11-01...); "
        "kinds synced later keep to the lake's",
    )
    syn.add_argument("--kind", type=_args.kind, help="only jobs of this kind")
    _add_client_arguments(syn)
    syn.add_argument(
        "--batch-jobs",
        type=_args.positive_int,
        default=2000,
        metavar="N",
        help="jobs written per checkpoint",
    )
    syn.add_argument(
        "--overlap",
        type=_args.non_negative_float,
        default=300,
        metavar="S",
        help="seconds below the newest job seen that the listing is walked again, for "
        "jobs the API listed late (default: 300)",
    )
    _add_profile_argument(syn)
    _add_lock_argument(syn)
    syn.set_defaults(func=cmd_sync)


def _add_export_command(sub: Any, common: argparse.ArgumentParser) -> None:
    exp = _add(
        sub,
        "export",
        common,
        "export jobs by ID or by listing",
        "ittybit-frames export --ids job_1 job_2 --out lake",
        "ittybit-frames export --all --since 7d --kind video --format csv --out csv/",
        "ittybit-frames export --ids-file ids.txt --format ndjson --out -",
    )
    exp.add_argument(
        "--out",
        type=_args.path,
        required=True,
        help="lake folder (parquet), folder (csv) or file (ndjson; - for stdout)",
    )
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", nargs="+", type=_args.job_id, metavar="ID", help="job IDs")
    which.add_argument(
        "--ids-file", type=_args.path, help="UTF-8 file with one job ID per line (# comments)"
    )
    which.add_argument("--all", action="store_true", help="walk the whole listing")
    exp.add_argument("--kind", type=_args.kind, help="only jobs of this kind")
    exp.add_argument("--status", type=_args.status, help="only jobs with this status")
    _add_time_window(exp)
    exp.add_argument(
        "--format",
        type=_args.choice,
        choices=("parquet", "csv", "ndjson"),
        default="parquet",
        help="output format",
    )
    _add_profile_argument(exp)
    exp.add_argument(
        "--mode",
        type=_args.choice,
        choices=("merge", "overwrite"),
        default="merge",
        help="parquet into an existing lake: merge (upsert) or overwrite it",
    )
    _add_lock_argument(exp)
    _add_client_arguments(exp)
    exp.set_defaults(func=cmd_export)


def _add_reading_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`check`, `report` and `schema`."""
    chk = _add(
        sub,
        "check",
        common,
        "check a Parquet lake (and repair it)",
        "ittybit-frames check lake",
        "ittybit-frames check lake --repair",
    )
    chk.add_argument("path", type=_args.path, help="the lake folder")
    chk.add_argument("--repair", action="store_true", help="fix what the lake itself can fix")
    _add_lock_argument(chk)
    chk.set_defaults(func=cmd_check)

    rep = _add(
        sub,
        "report",
        common,
        "write an HTML + PNG report of a lake",
        "ittybit-frames report lake --out report/",
        "ittybit-frames report lake --out report/ --since 7d",
    )
    rep.add_argument("path", type=_args.path, help="the lake folder")
    rep.add_argument(
        "--out", type=_args.path, required=True, help="folder for report.html and the PNGs"
    )
    rep.add_argument(
        "--customer-key",
        default="customer_id",
        metavar="KEY",
        help="the jobs' metadata key that names a customer (the per-customer table)",
    )
    _add_time_window(rep)
    rep.set_defaults(func=cmd_report)

    schema = _add(
        sub,
        "schema",
        common,
        "print the data dictionary",
        "ittybit-frames schema",
        "ittybit-frames schema --format json",
    )
    schema.add_argument(
        "--format",
        type=_args.choice,
        choices=("markdown", "json"),
        default="markdown",
        help="output format",
    )
    schema.set_defaults(func=cmd_schema)


def _add_inspect_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """`info` and `show`."""
    info = _add(
        sub,
        "info",
        common,
        "summarise a lake: time span, counts by status and kind, size, sync state",
        "ittybit-frames info lake",
        "ittybit-frames info lake --json",
    )
    info.add_argument("path", type=_args.path, help="the lake folder")
    info.set_defaults(func=cmd_info)

    show = _add(
        sub,
        "show",
        common,
        "show one job and its tasks, from a lake or the API",
        "ittybit-frames show job_abc123",
        "ittybit-frames show job_abc123 --lake lake --png job.png",
    )
    show.add_argument("job_id", type=_args.job_id, metavar="JOB_ID", help="the job's ID")
    show.add_argument(
        "--lake", type=_args.path, help="read the job from this lake instead of the API"
    )
    show.add_argument(
        "--png", type=_args.path, help="also draw the job's timeline into this PNG file"
    )
    show.add_argument(
        "--base-url", metavar="URL", help="API base URL (default: ITTYBIT_BASE_URL or the API)"
    )
    show.set_defaults(func=cmd_show)


def _add_simulate_command(sub: Any, common: argparse.ArgumentParser) -> None:
    sim = _add(
        sub,
        "simulate",
        common,
        "serve a simulated ittybit API on 127.0.0.1 until Ctrl-C",
        "ittybit-frames simulate --jobs 10000 --port 8080 --latency-ms 20",
        "ittybit-frames simulate --fault-rate 0.05 --rate-limit 50",
    )
    sim.add_argument(
        "--jobs", type=_args.positive_int, default=10_000, metavar="N", help="jobs to serve"
    )
    sim.add_argument("--port", type=_args.port, default=0, help="port (0: any free one)")
    sim.add_argument("--seed", type=int, default=0, help="simulation seed")
    sim.add_argument(
        "--latency-ms", type=_args.non_negative_float, default=0.0, help="delay per answer"
    )
    sim.add_argument(
        "--jitter-ms", type=_args.non_negative_float, default=0.0, help="random extra delay"
    )
    sim.add_argument(
        "--fault-rate", type=_args.share, default=0.0, help="share of faulty answers (0-1)"
    )
    sim.add_argument(
        "--retry-after", type=_args.non_negative_int, default=1, help="seconds asked by 429s"
    )
    sim.add_argument(
        "--retry-after-form",
        type=_args.choice,
        choices=("seconds", "date", "mixed"),
        default="seconds",
        help="how 429s say Retry-After",
    )
    sim.add_argument(
        "--rate-limit",
        type=_args.positive_float,
        metavar="PER_SECOND",
        help="server-side requests/second (default: no limit)",
    )
    sim.add_argument(
        "--generation",
        type=_args.choice,
        choices=("current", "older", "mix"),
        default="current",
        help="the API version(s) the jobs are shaped as",
    )
    sim.add_argument("--envelope", action="store_true", help='answer lists as {"data": [...]}')
    sim.add_argument(
        "--paging",
        type=_args.choice,
        choices=("cursor", "pages"),
        default="cursor",
        help="listing style",
    )
    sim.add_argument(
        "--advance-every",
        type=_args.positive_float,
        default=None,
        metavar="SECONDS",
        help="move unfinished jobs on every SECONDS",
    )
    sim.set_defaults(func=cmd_simulate)


def _add_time_window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_args.when,
        metavar="WHEN",
        help="only jobs created since (7d, 12h, 2026-11-01...)",
    )
    parser.add_argument("--until", type=_args.when, metavar="WHEN", help="only jobs created before")


def _add_profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default=None,
        type=_args.choice,
        choices=tuple(PROFILES),
        help="Parquet for which engine (default: the lake's own; 'default' for a new one)",
    )


def _add_lock_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-timeout",
        type=_args.non_negative_float,
        default=DEFAULT_LOCK_TIMEOUT,
        metavar="SECONDS",
        help="wait this long for another writer of the lake",
    )


def _add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url", metavar="URL", help="API base URL (default: ITTYBIT_BASE_URL or the API)"
    )
    parser.add_argument(
        "--concurrency", type=_args.positive_int, default=16, metavar="N", help="requests at once"
    )
    parser.add_argument(
        "--rate-limit",
        type=_args.positive_float,
        metavar="PER_SECOND",
        help="requests/second at most (default: no limit)",
    )
    parser.add_argument(
        "--max-attempts",
        type=_args.positive_int,
        metavar="N",
        default=8,
        help="attempts per request before giving up",
    )
