"""The NDJSON fast path's readers (:func:`._ndjson.scan`): how many blocks DuckDB reads
at once, and the connections they read them with."""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

from ittybit_frames.machine import usable_cores

__all__ = ["MAX_READERS", "Connections", "readers"]

#: At most this many blocks are read at once (see :func:`readers`).
MAX_READERS = 4


def readers(threads: int | None) -> tuple[int, int]:
    """How many blocks DuckDB reads at once, and with how many threads each: one block
    per thread (up to ``MAX_READERS``; more threads than that share the blocks). A
    block's reading is several queries with Python between them, and each query ends
    on one thread; two blocks read at once with a thread each, on 2 cores, took 2-19 %
    less wall time than one block with two threads (100,000 jobs, by history and route;
    BENCHMARKS.md, session 16)."""
    total = threads or usable_cores()
    count = min(total, MAX_READERS)
    return count, max(1, total // count)


class Connections:
    """The readers' DuckDB connections, each used by one read at a time. One is made
    when a read finds none free (so never more than there are reading threads, and one
    only for input of one block: a connection takes ~10-40 ms to make); all are closed
    at the end."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._made: list[Any] = []
        self._lock = threading.Lock()

    def take(self) -> Any:
        import duckdb  # noqa: PLC0415

        with contextlib.suppress(queue.Empty):
            return self._free.get_nowait()
        con = duckdb.connect(":memory:", config=self._config)
        with self._lock:
            self._made.append(con)
        # A library draws nothing on the caller's terminal: DuckDB would show a progress
        # bar for a query that runs over two seconds (as on a loaded machine). In Jupyter
        # without ipywidgets DuckDB refuses to change the setting (and draws no bar there).
        with contextlib.suppress(duckdb.Error):
            con.execute("SET enable_progress_bar = false")
        return con

    def give(self, con: Any) -> None:
        self._free.put(con)

    def interrupt(self) -> None:
        """Stop the queries running (their reads are no longer wanted)."""
        with self._lock:
            made = list(self._made)
        for con in made:
            with contextlib.suppress(Exception):
                con.interrupt()

    def close(self) -> None:
        """Close every connection. One still running a query (a second Ctrl-C cut
        the wait for it short) refuses: it is left to its thread, and the caller's
        exception stays the one it gets."""
        import duckdb  # noqa: PLC0415

        with self._lock:
            made, self._made = self._made, []
        for con in made:
            with contextlib.suppress(duckdb.Error):
                con.close()
