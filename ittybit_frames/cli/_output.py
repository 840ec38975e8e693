"""What the command prints, by level, and the logging set-up (only the CLI configures
logging).

Levels: ``-q`` errors and per-item failures only; default one summary line per command
(plus progress bars on a terminal); ``-v`` each step, retry and wait as one line of our
logger; ``-vv`` debug. ``--json`` prints a machine-readable summary on stdout at any level.
Human-facing text goes to stderr; stdout is kept for data.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Console", "configure_logging", "plural"]

logger = logging.getLogger("ittybit_frames.cli")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 job``, ``2 jobs``, ``1 retry``, ``3 retries``."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


@dataclass(frozen=True)
class Console:
    """Where a command's words go, at the level the user asked for."""

    quiet: bool = False
    verbose: int = 0
    json: bool = False

    def summary(self, text: str) -> None:
        """The command's one line (not with ``-q``)."""
        if not self.quiet:
            print(text, file=sys.stderr)

    def problem(self, text: str) -> None:
        """A per-item failure or a problem found: shown at every level."""
        print(text, file=sys.stderr)

    def step(self, text: str, *args: Any) -> None:
        """One step of the work (``-v``)."""
        logger.info(text, *args)

    def data(self, summary: dict[str, Any]) -> None:
        """The ``--json`` summary on stdout."""
        if self.json:
            sys.stdout.write(orjson.dumps(summary, default=str).decode() + "\n")
            sys.stdout.flush()


class _OurWords(logging.Filter):
    """stamina's retry records in one readable line of ours (its bare
    ``stamina.retry_scheduled`` message says nothing by itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "stamina" and record.msg == "stamina.retry_scheduled":
            extra = record.__dict__
            record.name = "ittybit_frames.client"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "retry %s in %.2f s (%.1f s waited so far) after %s"
            record.args = (
                extra.get("stamina.retry_num", "?"),
                float(extra.get("stamina.wait_for", 0.0)),
                float(extra.get("stamina.waited_so_far", 0.0)),
                extra.get("stamina.caused_by", "an error"),
            )
        return True


def configure_logging(verbose: int, quiet: bool) -> None:
    """Route every log record to stderr at the chosen level, one line each."""
    if quiet:
        level = logging.ERROR
    elif verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1:
        level = logging.INFO
    else:
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(_OurWords())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("ittybit_frames", "stamina"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    # Retries are steps (-v), not warnings: by default the summary counts them.
    logging.getLogger("stamina").setLevel(logging.DEBUG if verbose else logging.ERROR)
    # The lake says when it waits for another writer (a wait the user would otherwise
    # take for a hang), except with -q.
    logging.getLogger("ittybit_frames.lake").setLevel(
        logging.ERROR if quiet else min(level, logging.INFO)
    )
