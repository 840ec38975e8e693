"""Adversarial tests of read_jobs' conversion while the listing is walked (or the jobs
fetched by ID): what stops it half way leaves nothing running, and the frames equal
those of to_frames over the same jobs."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

import ittybit_frames as itf
import ittybit_frames.frames._convert as convert
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client


@pytest.fixture(scope="module")
def many() -> list[dict[str, Any]]:
    """Enough jobs (about 4 MB of NDJSON) for the listing to be read in pieces."""
    return generate_history(1500, seed=11, end=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


def _ndjson_threads() -> list[threading.Thread]:
    """DuckDB's reader threads of the fast path (see frames._ndjson.scan)."""
    return [t for t in threading.enumerate() if t.name.startswith("ndjson") and t.is_alive()]


@pytest.mark.parametrize("by_id", [False, True])
def test_ctrl_c_while_a_piece_is_converted_leaves_no_reader_behind(
    many: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, by_id: bool
) -> None:
    """Ctrl-C lands while the caller's thread converts a piece DuckDB has read (the
    next piece being read meanwhile): DuckDB's reader thread and connection end before
    the exception reaches the caller, even while its traceback is kept (as a notebook
    or ``sys.last_traceback`` keeps it)."""
    real = convert.assemble_read
    calls: list[int] = []

    def interrupted(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second piece: DuckDB has the third
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(convert, "assemble_read", interrupted)
    ids = [j["id"] for j in many] if by_id else None
    with serve(many, api_key=SECRET) as api, fast_client(api) as client:
        with pytest.raises(KeyboardInterrupt) as caught:
            itf.read_jobs(ids, client=client)
        assert _ndjson_threads() == []  # the traceback is still held here
        del caught
        monkeypatch.setattr(convert, "assemble_read", real)
        assert len(itf.read_jobs(ids, client=client)) == len(many)  # the client works
