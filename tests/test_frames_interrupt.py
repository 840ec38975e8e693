"""Ctrl-C while DuckDB reads reaches the caller as KeyboardInterrupt (a sync then stops
cleanly with exit 3), not as DuckDB's RuntimeError("Query interrupted")."""

from __future__ import annotations

from typing import Any

import pytest

from ittybit_frames.frames._ndjson import scan


def test_an_interrupted_duckdb_query_is_a_keyboard_interrupt() -> None:
    def interrupted(*_: Any) -> None:
        raise RuntimeError("Query interrupted")

    with pytest.raises(KeyboardInterrupt):
        list(scan(b'{"id": "job_1"}\n' * 3, 1 << 20, read=interrupted))


def test_other_duckdb_errors_stay_what_they_are() -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        list(scan(b'{"id": "job_1"}\n' * 3, 1 << 20, read=broken))
