"""Entry point: parse, configure logging (only here), run, map errors to exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from ittybit_frames.cli._commands import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    _say,
)
from ittybit_frames.cli._parser import (
    _build_parser,
)
from ittybit_frames.errors import (
    AuthenticationError,
    ConfigurationError,
    IttybitError,
    NetworkError,
)

__all__ = ["main"]


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
