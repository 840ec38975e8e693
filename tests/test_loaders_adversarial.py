"""Adversarial tests of read_jobs' conversion while the listing is walked (or the jobs
fetched by ID): what stops it half way leaves nothing running, and the frames equal
those of to_frames over the same jobs."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ittybit_frames as itf
import ittybit_frames.frames._convert as convert
import ittybit_frames.frames._ndjson as ndjson
from ittybit_frames.client import AiohttpTransport, ndjson_parts, records_of
from ittybit_frames.frames import to_frames_in_parts
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client
from tests.frames_equal import assert_frame_equal


@pytest.fixture(scope="module")
def many() -> list[dict[str, Any]]:
    """Enough jobs (about 4 MB of NDJSON) for the listing to be read in pieces."""
    return generate_history(1500, seed=11, end=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


def _ndjson_threads() -> list[threading.Thread]:
    """DuckDB's reader threads of the fast path (see frames._ndjson.scan)."""
    return [t for t in threading.enumerate() if t.name.startswith("ndjson") and t.is_alive()]


@pytest.mark.parametrize("by_id", [False, True])
@pytest.mark.parametrize(
    "where",
    [
        (convert, "assemble_read"),  # converting a piece DuckDB has read (it reads the next)
        (ndjson, "_result"),  # waiting for DuckDB's read of a piece
    ],
)
def test_ctrl_c_while_a_piece_is_converted_leaves_no_reader_behind(
    many: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, by_id: bool, where: Any
) -> None:
    """Ctrl-C lands while the caller's thread converts a piece DuckDB has read (the
    next piece being read meanwhile), or waits for DuckDB: DuckDB's reader thread and
    connection end before the exception reaches the caller, even while its traceback
    is kept (as a notebook or ``sys.last_traceback`` keeps it)."""
    module, name = where
    real = getattr(module, name)
    calls: list[int] = []

    def interrupted(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second piece: DuckDB has the third
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(module, name, interrupted)
    ids = [j["id"] for j in many] if by_id else None
    with serve(many, api_key=SECRET) as api, fast_client(api) as client:
        with pytest.raises(KeyboardInterrupt) as caught:
            itf.read_jobs(ids, client=client)
        assert len(calls) == 2
        assert _ndjson_threads() == []  # the traceback is still held here
        del caught
        monkeypatch.setattr(module, name, real)
        assert len(itf.read_jobs(ids, client=client)) == len(many)  # the client works


_POOL = generate_history(60, seed=5, end=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


def _variant(job: dict[str, Any], how: str, n: int) -> Any:
    """``job`` as a misbehaving server might list it again, or with an odd value."""
    job = copy.deepcopy(job)
    if how == "envelope":  # a page inside the page, with a huge integer or not
        return {"data": [job, _variant(job, "big" if n % 2 else "later", n)]}
    if how == "not-a-job":
        return ["not", "a", "job"] if n % 2 else f"job {n}"
    if how == "later":  # changed between pages: updated later
        job["updated_at"] = f"2026-12-0{1 + n % 9}T00:00:00Z"
        job["status"] = "failed"
    elif how == "earlier":  # a stale copy
        job["updated_at"] = "2020-01-01T00:00:00Z"
        job["status"] = "processing"
    elif how == "big":
        job["metadata"] = {"big": 10**30 + n}
    elif how == "bad":
        job["status"] = "bogus"
    return job


@st.composite
def _listings(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Pages of jobs from a small pool: repeats (some changed, some stale), skips, odd
    values, cut into pages of random sizes (some empty)."""
    picks = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(_POOL) - 1),
                st.sampled_from(
                    ["same", "same", "later", "earlier", "big", "bad", "envelope", "not-a-job"]
                ),
            ),
            max_size=80,
        )
    )
    jobs = [_variant(_POOL[i], how, n) for n, (i, how) in enumerate(picks)]
    cuts = sorted(draw(st.lists(st.integers(0, len(jobs)), max_size=12)))
    bounds = [0, *cuts, len(jobs)]
    return [jobs[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages=_listings(), piece=st.integers(1, 6000), min_lines=st.integers(1, 30))
def test_pieces_of_any_listing_equal_to_frames_after_the_walk(
    pages: list[list[dict[str, Any]]], piece: int, min_lines: int
) -> None:
    """What read_jobs hands to_frames_in_parts (ndjson_parts of the pages) gives the
    frames to_frames makes of the whole listing (main's way: records_of, then convert),
    whatever the repeats (the record updated last wins), pieces and odd values."""
    reader = NdjsonReader(min_lines=min_lines, min_records=1)
    got = to_frames_in_parts(ndjson_parts(pages), piece_bytes=piece, _reader=reader)
    want = itf.to_frames(records_of(pages), _reader=NdjsonReader(use_sql=False))
    assert_frame_equal(got.jobs, want.jobs)
    assert_frame_equal(got.tasks, want.tasks)
    assert sorted(map(str, got.problems.itertuples(index=False))) == sorted(
        map(str, want.problems.itertuples(index=False))
    )


class Odd(httpx.AsyncBaseTransport):
    """The default transport, except that ``GET /jobs/{id}`` of some IDs answers another
    job, and of one (once ``refuse`` is set) a 401, as a key revoked mid-fetch."""

    def __init__(self, wrong: dict[str, str]) -> None:
        self.inner = AiohttpTransport()
        self.wrong = wrong
        self.refuse: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        asked = request.url.path.rsplit("/", 1)[-1]
        if asked == self.refuse:
            return httpx.Response(401, json={"kind": "unauthorized", "message": "key revoked"})
        if asked in self.wrong:
            path = request.url.path.replace(asked, self.wrong[asked])
            request = httpx.Request(
                request.method, request.url.copy_with(path=path), headers=request.headers
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_by_id_wrong_jobs_and_a_revoked_key_as_fetch_jobs_says(
    many: list[dict[str, Any]],
) -> None:
    ids = [j["id"] for j in many]
    wrong = {ids[3]: ids[4], ids[1200]: ids[0]}  # a cache answering another job
    with serve(many, api_key=SECRET) as api:
        transport = Odd(wrong)
        with fast_client(api, transport=transport, max_attempts=1, concurrency=4) as client:
            frames = itf.read_jobs(ids, client=client)
            fetched = client.fetch_jobs(ids)
            transport.refuse = ids[900]
            with pytest.raises(itf.AuthenticationError) as caught:
                itf.read_jobs(ids, client=client)
            assert SECRET not in str(caught.value)
            assert _ndjson_threads() == []
            transport.refuse = None
            again = itf.read_jobs(ids, client=client)  # the client still works
            client._run(transport.aclose)
    want = itf.to_frames(records_of([fetched.jobs]))
    assert_frame_equal(frames.jobs, want.jobs)
    assert_frame_equal(frames.tasks, want.tasks)
    assert frames.failures is not None
    assert_frame_equal(frames.failures, fetched.failures)
    assert set(frames.failures["job_id"]) == set(wrong)
    assert len(frames.jobs) == len(many) - 2
    assert_frame_equal(again.jobs, frames.jobs)
