"""Entry point: parse, configure logging (only here), run, map errors to exit codes.

A mistake or a failure the user can act on is one line on stderr (``-v`` adds the
traceback): 2 for usage and configuration (a bad option, path, key, URL, a folder we
cannot write), 1 when work was done and failed part-way (the network, a full disk, the
API refusing an item), 3 when interrupted.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from ittybit_frames.cli._commands import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    from_ctrl_c,
)
from ittybit_frames.cli._output import Console, configure_logging
from ittybit_frames.cli._parser import build_parser
from ittybit_frames.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidJobIdError,
    IttybitError,
    LakeLockedError,
    NetworkError,
)

__all__ = ["main"]

#: OS errors that mean "you pointed us at a place we cannot use", not "the work failed".
_PLACE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}


def _explain(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line for an error that reached the top."""
    if isinstance(exc, ConfigurationError | AuthenticationError | InvalidJobIdError):
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, NetworkError):
        return EXIT_PARTIAL, (
            f"error: {str(exc).rstrip('.')}. Check --base-url / ITTYBIT_BASE_URL and the "
            "network; an interrupted sync resumes when run again."
        )
    if isinstance(exc, LakeLockedError):
        return EXIT_PARTIAL, f"error: {exc} (or raise --lock-timeout)"
    if isinstance(exc, IttybitError):
        return EXIT_PARTIAL, f"error: {exc}"
    assert isinstance(exc, OSError)
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in _PLACE_ERRNOS:
        return EXIT_USAGE, (
            f"error: cannot write{where} ({exc.strerror}): choose a place you can write to"
        )
    if exc.errno == errno.ENOSPC:
        return EXIT_PARTIAL, (
            f"error: cannot write{where} ({exc.strerror}): free some space and run the "
            "same command again (a lake stays consistent)"
        )
    return EXIT_PARTIAL, f"error: {exc.strerror or exc}{where}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    configure_logging(args.verbose, args.quiet)
    args.progress = False if args.quiet else None
    args.console = Console(quiet=args.quiet, verbose=args.verbose, json=args.json)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    func: Any = args.func
    try:
        code = int(func(args))
        # What is buffered for stdout is written now, so a full disk or a closed pipe is
        # reported like any other error (not at the interpreter's exit, with a traceback).
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if from_ctrl_c(exc):  # a clean-up that failed after Ctrl-C: the Ctrl-C is the news
            print("Interrupted.", file=sys.stderr)
            return EXIT_INTERRUPTED
        if not isinstance(exc, IttybitError | OSError):
            raise
        code, line = _explain(exc)
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        print(line, file=sys.stderr)
        _silence_stdout(exc)
        return code


def _silence_stdout(exc: BaseException) -> None:
    """After stdout itself failed (a full disk, a closed pipe), drop what is still
    buffered for it, so the interpreter's exit does not fail on it again."""
    if isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, errno.EPIPE}:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
