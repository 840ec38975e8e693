"""Adversarial tests of the s18 changes: one DuckDB pass over a block's job and envelope
lines (0ba74d8), the dicts route's per-record NaN check (f9401b0), lake category words
another writer stored (c31ba62, e29c362, d49e65d) and LoopThread's hand-over (24adda9).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures as cf
import copy
import enum
import json
import math
import random
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ittybit_frames as itf
from ittybit_frames.client._runtime import LoopThread
from ittybit_frames.frames._ndjson import NdjsonReader
from ittybit_frames.simulator import generate_history
from tests import test_lake_remote
from tests.test_adv_s17_check import as_v1
from tests.test_frames_properties import assert_same, through_sql
from tests.test_s18_lake_words import _files, _lake, _rename

CLEAN = generate_history(40, seed=7)
s3_endpoint, s3_lake = test_lake_remote.s3_endpoint, test_lake_remote.s3_lake


def _careful(data: Any) -> itf.JobFrames:
    return itf.to_frames(data, _reader=NdjsonReader(use_sql=False))


# --------------------------------------------------------------------------------------
# 0ba74d8: job lines and envelope lines of a block read by one DuckDB pass
# --------------------------------------------------------------------------------------
#: Envelope ``meta`` values (as JSON text) the careful path keeps in ``extra``.
METAS = [
    '{"request_id": "r1"}',
    '{"n": 18446744073709551621}',
    '{"n": 9223372036854775808, "m": -9223372036854775809}',
    '{"n": 123456789012345678901234567890}',
    '{"x": 1.5e308, "y": -0.0, "z": 5e-324}',
    '{"deep": ' + "[" * 60 + "]" * 60 + "}",
    '{"deep": ' + "[" * 700 + "]" * 700 + "}",
    "{}",
    "null",
    '"text"',
    '{"u": "\\u00e9\\ud83d\\ude00"}',
    '{"n": NaN}',
    '{"n": Infinity}',
    '{"n": 1e999}',
    '{"a": 1,}',
]
ODD_LINES = [
    "not json",
    "{",
    "null",
    "{}",
    "[]",
    '{"meta": {"a": 1}, "data": null}',
    '{"meta": {"a": 1}, "data": {}}',
    '{"meta": {"a": 1}, "data": {"id": "job_x"}}',
    '{"meta": {"a": 1}, "data": {"id": "job_y", "tasks": []}}',
    '{"meta": {"a": 1}, "data": {"id": "job_z", "tasks": null}}',
]


def _mixed_line(r: random.Random) -> str:
    job = json.dumps(r.choice(CLEAN))
    k = r.random()
    if k < 0.35:
        return job
    if k < 0.8:
        return f'{{"meta": {r.choice(METAS)}, "data": {job}, "links": {{"self": "/x"}}}}'
    if k < 0.9:
        return r.choice(ODD_LINES)
    if k < 0.95:
        return job + " " + job  # two objects on one line
    return f'{{"meta": {{}}, "data": {job}, "links": {{}}, "more": [1, {{"k": 2}}]}}'


@pytest.mark.parametrize("seed", range(4))
def test_blocks_mixing_jobs_envelopes_and_odd_lines_equal_the_careful_path(seed: int) -> None:
    """Blocks mixing job lines, envelopes (meta with huge integers, NaN, deep nesting,
    trailing commas...) and invalid lines, in tiny blocks and several readers: rows,
    ``extra`` and problems are the careful path's (held)."""
    r = random.Random(seed)
    data = ("\n".join(_mixed_line(r) for _ in range(30)) + "\n").encode()
    careful = _careful(data)
    assert_same(through_sql(data, block_bytes=r.choice([1, 900, 4000])), careful)
    assert_same(itf.to_frames(data, workers=4, _reader=NdjsonReader(min_lines=0)), careful)


def test_a_block_of_envelopes_only_and_of_jobs_only_equal_the_careful_path() -> None:
    """Blocks of envelope lines alone, then job lines alone, in one input (held)."""
    envelopes = [
        f'{{"meta": {m}, "data": {json.dumps(j)}}}' for m, j in zip(METAS, CLEAN, strict=False)
    ]
    lines = envelopes + [json.dumps(j) for j in CLEAN]
    data = ("\n".join(lines) + "\n").encode()
    assert_same(through_sql(data, block_bytes=len(data) // 3), _careful(data))


# --------------------------------------------------------------------------------------
# f9401b0: the dicts route checks each record of a batch whose marshal may show a NaN
# --------------------------------------------------------------------------------------
class _Int(enum.IntEnum):
    A = 3


class _Str(enum.StrEnum):
    S = "video"


class _Dict(dict):  # type: ignore[type-arg]
    pass


ODD_VALUES: list[Any] = [
    *(math.nan, -math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324),
    *(2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1),
    *(np.float64("nan"), np.float64(1.5), np.int64(7), np.float32(0.5), np.uint64(2**64 - 1)),
    *(_Int.A, _Str.S, uuid.UUID(int=5), orjson.Fragment(b'{"a":1}'), (1, 2.5)),
    *(_Dict(a=1), collections.OrderedDict(a=math.nan), "\x7f\xff", True, None),
]


def _odd_record(r: random.Random, shared: dict[str, Any]) -> Any:
    job = copy.deepcopy(r.choice(CLEAN))
    if r.random() < 0.4:
        return job
    value = r.choice(ODD_VALUES)
    where = r.choice(["metadata", "progress", "width", "options", "status", "shared"])
    task = job["tasks"][0] if job["tasks"] else job
    if where == "metadata":
        job["metadata"] = {"v": value}
    elif where == "progress":
        task["progress"] = value
    elif where == "width" and isinstance(task.get("output"), dict):
        task["output"]["width"] = value
    elif where == "options":
        task["options"] = {"v": [value]}
    elif where == "status":
        job["status"] = value
    else:
        job["metadata"] = shared  # one sub-dict aliased across records
    if r.random() < 0.15:
        return {"meta": {"m": value}, "data": job, "links": {}}
    return job


@pytest.mark.parametrize("size", [1, 127, 128, 129, 257])
def test_records_with_odd_values_in_batches_equal_the_careful_path(size: int) -> None:
    """Batches of 1/127/128/129/257 records holding NaN, infinities, -0.0, integers
    near 2**63 and 2**64, numpy scalars, enums, UUIDs, orjson fragments, dict
    subclasses, tuples, aliased sub-dicts, the same record twice and envelopes, with a
    NaN in the very last record: the frames are the careful path's (held)."""
    r = random.Random(size)
    shared = {"s": 1.5, "n": [math.nan] if size % 2 else [2.0]}
    records = [_odd_record(r, shared) for _ in range(size)]
    if size > 2:
        records[size // 2] = records[0]  # the same object twice in a batch
    last = copy.deepcopy(CLEAN[size % len(CLEAN)])
    last["metadata"] = {"nan": math.nan}
    records[-1] = last
    assert_same(through_sql(records, must_read=False), _careful(records))


# --------------------------------------------------------------------------------------
# c31ba62, d49e65d: category words another writer stored, and the filters
# --------------------------------------------------------------------------------------
def _assert_filters_find_what_shows(
    lake: Path | str, columns: tuple[str, ...] = ("kind", "status", "kind_raw")
) -> itf.JobFrames:
    """Whatever read_parquet() shows in kind/status (and kind_raw), a filter on that
    word returns exactly those jobs and their tasks."""
    frames = itf.read_parquet(lake)
    for column in columns:
        for word in sorted(set(frames.jobs[column].dropna().astype(str))):
            got = itf.read_parquet(lake, **{column: word})
            want = set(frames.jobs.loc[frames.jobs[column] == word, "job_id"])
            assert set(got.jobs["job_id"]) == want, (column, word)
            assert len(got.tasks) == int(frames.tasks["job_id"].isin(want).sum()), (column, word)
    return frames


def test_a_dotted_capital_i_word_is_found_under_the_category_it_shows(tmp_path: Path) -> None:
    """A job stored as kind 'VİDEO' and another as status 'FAİLED' (U+0130; Python's
    lower() makes it 'i' + a combining dot, so canonical_kind reads 'other')."""
    lake = _lake(tmp_path)
    ids = sorted(itf.read_parquet(lake).jobs["job_id"])
    _rename(lake, ids[0], "kind", "VİDEO")
    _rename(lake, ids[1], "status", "FAİLED")
    frames = _assert_filters_find_what_shows(lake)
    jobs = frames.jobs.set_index("job_id")
    assert (jobs.loc[ids[0], "kind"], jobs.loc[ids[1], "status"]) == ("other", "other")


def test_kind_raw_filter_finds_the_word_read_from_kind(tmp_path: Path) -> None:
    """A job stored as kind 'teleport', kind_raw null (another writer's file): read
    shows kind_raw 'teleport'; read_parquet(kind_raw='teleport') must return it."""
    lake = _lake(tmp_path)
    job_id = sorted(itf.read_parquet(lake).jobs["job_id"])[0]
    _rename(lake, job_id, "kind", "teleport")
    frames = itf.read_parquet(lake)
    assert frames.jobs.set_index("job_id").loc[job_id, "kind_raw"] == "teleport"
    got = itf.read_parquet(lake, kind_raw="teleport")
    assert list(got.jobs["job_id"]) == [job_id]
    assert len(got.tasks) == int((frames.tasks["job_id"] == job_id).sum()) > 0


def test_a_null_word_is_found_under_the_category_it_shows(tmp_path: Path) -> None:
    """A job stored with a null kind and another with a null status (another writer's
    file): each shows as 'other' and must be found by kind='other' / status='other'."""
    lake = _lake(tmp_path)
    ids = sorted(itf.read_parquet(lake).jobs["job_id"])
    _rename(lake, ids[0], "kind", None)
    _rename(lake, ids[1], "status", None)
    frames = _assert_filters_find_what_shows(lake)
    jobs = frames.jobs.set_index("job_id")
    assert (jobs.loc[ids[0], "kind"], jobs.loc[ids[1], "status"]) == ("other", "other")


ODD_WORDS = ["\tIngest\u00a0", "", "ß", "OTHER", "Video\u2003", "\u200bvideo", "READY\n"]


def test_odd_words_in_v1_and_dictionary_files_filter_as_they_read(tmp_path: Path) -> None:
    """Tabs, NBSP, em space, zero-width space, empty and non-ASCII words, in a v1 file
    with a dictionary holding unused entries and in plain files: each filter (alone and
    with since) finds the jobs that show its word (held)."""
    lake = _lake(tmp_path)
    ids = sorted(itf.read_parquet(lake).jobs["job_id"])
    for i, word in enumerate(ODD_WORDS):
        _rename(lake, ids[i], "kind" if i % 2 else "status", word)
    file = _files(lake, "jobs")[0]
    table = pq.read_table(file)
    encoded = table["kind"].combine_chunks().cast(pa.string()).dictionary_encode()
    spare = pa.array([*encoded.dictionary.to_pylist(), "unused", "teleport", "other"])
    kind = pa.DictionaryArray.from_arrays(encoded.indices, spare)
    table = table.set_column(table.column_names.index("kind"), "kind", kind)
    pq.write_table(as_v1(table), file)
    frames = _assert_filters_find_what_shows(lake)
    since = frames.jobs["created_at"].median()
    for word in ("import", "succeeded", "other", "video"):
        column = "status" if word == "succeeded" else "kind"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", itf.EmptyWindowWarning)
            got = itf.read_parquet(lake, since=since, **{column: word})
        late = frames.jobs[(frames.jobs[column] == word) & (frames.jobs["created_at"] >= since)]
        assert set(got.jobs["job_id"]) == set(late["job_id"]), word


def test_odd_words_in_an_object_store_filter_as_they_read(tmp_path: Path, s3_lake: str) -> None:
    """The same (unknown, older, dotted-I, null) words in an object-store lake: each
    filter finds the jobs that show its word, and check_lake calls the lake healthy."""
    from ittybit_frames.lake._store import ObjectStore

    lake = _lake(tmp_path)
    ids = sorted(itf.read_parquet(lake).jobs["job_id"])
    for i, word in enumerate(["teleport", " READY", "VİDEO", None, "Ingest"]):
        _rename(lake, ids[i], "status" if i % 2 else "kind", word)
    itf.write_parquet(itf.read_parquet(tmp_path / "lake"), s3_lake)
    store = ObjectStore.open(s3_lake)
    for file in sorted((lake / "jobs").rglob("*.parquet")) + sorted(
        lake.rglob("tasks/**/*.parquet")
    ):
        store.put(file.relative_to(lake).as_posix(), file.read_bytes())
    remote = itf.read_parquet(s3_lake)
    for column, word in (("kind", "other"), ("kind", "import"), ("status", "other")):
        got = itf.read_parquet(s3_lake, **{column: word})
        want = set(remote.jobs.loc[remote.jobs[column] == word, "job_id"])
        assert set(got.jobs["job_id"]) == want, (column, word)
    assert ids[0] in set(itf.read_parquet(s3_lake, kind_raw="teleport").jobs["job_id"])
    local = itf.read_parquet(lake)
    assert sorted(remote.jobs["job_id"]) == sorted(local.jobs["job_id"])
    assert itf.check_lake(s3_lake).healthy


# --------------------------------------------------------------------------------------
# 24adda9: LoopThread.run's hand-over
# --------------------------------------------------------------------------------------
def test_many_callers_while_another_stops_neither_hang_nor_leak() -> None:
    """Eight threads calling run() while the main thread calls stop(): every caller
    returns (its result, CancelledError or 'loop has stopped'), the loop thread ends
    (held)."""
    for _ in range(10):
        runner = LoopThread()
        outcomes: list[Any] = []

        def call(i: int, runner: LoopThread = runner, outcomes: list[Any] = outcomes) -> None:
            for _ in range(10):
                try:
                    outcomes.append(runner.run(asyncio.sleep(0, result=i)))
                except (cf.CancelledError, RuntimeError) as exc:
                    outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        runner.stop()
        for t in threads:
            t.join(20)
            assert not t.is_alive()
        assert not runner.thread.is_alive() and len(outcomes) == 80


class _TrapCondition(threading.Condition):
    """A future's condition whose first ``with`` on the main thread (in ``result()``)
    gets a KeyboardInterrupt just after its lock is taken: where CPython 3.11 runs a
    pending signal handler (after the C ``__enter__`` call inside
    ``Condition.__enter__``), so the ``with`` never owns the lock to release it."""

    trapped: ClassVar[list[threading.Condition]] = []

    def __enter__(self) -> bool:
        taken: bool = super().__enter__()
        if not self.trapped and threading.current_thread() is threading.main_thread():
            self.trapped.append(self)
            raise KeyboardInterrupt
        return taken


class _TrapFuture(cf.Future):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__()
        self._condition = _TrapCondition()


def test_ctrl_c_inside_the_futures_lock_does_not_wedge_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found with setitimer KeyboardInterrupts in a loop of run() (a hang within some
    thousand runs); here the interrupt lands at that instant, before the loop takes
    the work (the loop is kept busy until then). It wedged the loop when the caller
    waited in ``future.result()``; it now waits on a lock of its own, and takes the
    future's lock only where the loop does not yet know the future."""
    runner = LoopThread()
    busy, inside = threading.Event(), threading.Event()
    runner._loop.call_soon_threadsafe(lambda: (inside.set(), busy.wait(20)))
    assert inside.wait(20)
    monkeypatch.setattr(cf, "Future", _TrapFuture)
    _TrapCondition.trapped.clear()
    with pytest.raises(KeyboardInterrupt):
        runner.run(asyncio.sleep(0))
    monkeypatch.undo()
    busy.set()
    answer: list[int] = []
    helper = threading.Thread(target=lambda: answer.append(runner.run(asyncio.sleep(0, 5))))
    helper.start()
    helper.join(5)
    wedged = helper.is_alive()
    if wedged:  # let the loop go: release the lock the interrupted ``with`` kept
        _TrapCondition.trapped[0].release()
        helper.join(20)
    runner.stop()
    assert not wedged and answer == [5]
