"""Adversarial pass over this session's client and frames-input changes: a Ctrl-C that
lands while a client closes, gzip inside gzip, two threads starting one client."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import signal
import threading
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.client import AsyncClient
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client
from tests.frames_equal import assert_frame_equal

JOIN = 20  # seconds: a bound that fails the test when something hangs
HISTORY = generate_history(8, seed=13)
NDJSON = "".join(json.dumps(job) + "\n" for job in HISTORY).encode()


def _client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ittybit-client" and t.is_alive()]


def _assert_ended(before: set[threading.Thread]) -> None:
    """The client loop threads started since ``before`` end (within JOIN seconds)."""
    left = [t for t in _client_threads() if t not in before]
    for thread in left:
        thread.join(JOIN)
    assert [t for t in left if t.is_alive()] == []


def test_ctrl_c_while_a_client_closes_still_ends_its_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C (SIGINT to the main thread) while close() waits for the connections to
    # close: the KeyboardInterrupt reaches the caller, and the loop thread still ends
    # (it was left running for good: a second close() did nothing).
    closing = AsyncClient.aclose
    released = asyncio.Event()

    async def interrupted_aclose(self: AsyncClient) -> None:
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        try:
            await released.wait()  # held until cancelled: the caller is interrupted meanwhile
        finally:
            await closing(self)  # the connections closed all the same (no stray warnings)

    assert threading.current_thread() is threading.main_thread()
    with serve(HISTORY, api_key=SECRET) as api:
        before = set(_client_threads())
        client = fast_client(api)
        assert len(client.fetch_jobs([HISTORY[0]["id"]]).jobs) == 1
        monkeypatch.setattr(AsyncClient, "aclose", interrupted_aclose)
        with pytest.raises(KeyboardInterrupt):
            client.close()
        client.close()
        _assert_ended(before)


def test_gzip_inside_gzip_is_read() -> None:
    # A .gz file downloaded with Content-Encoding: gzip kept: gzip of gzip. It gave 0 jobs
    # and one 'not valid JSON' problem per line of compressed bytes.
    frames = itf.to_frames(gzip.compress(gzip.compress(NDJSON)))
    reference = itf.to_frames(HISTORY)
    assert len(frames.jobs) == len(reference.jobs) == len(HISTORY)
    assert frames.problems.empty


def test_two_threads_starting_one_client_share_one_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two threads make a fresh Client's first calls at once: each started a loop thread of
    # its own, and the call on the loop it lost raised RuntimeError ('attached to a
    # different loop') or hung; the lost loop thread outlived close().
    import ittybit_frames.client._sync as sync_module

    made: list[str] = []
    a_starting, b_looked = threading.Event(), threading.Event()
    original = sync_module.LoopThread

    class FirstWaits(original):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            made.append(threading.current_thread().name)
            if len(made) == 1:  # A: let B look for the runner while A is making it
                a_starting.set()
                assert b_looked.wait(JOIN)
            super().__init__()

    class Watched(itf.Client):
        @property  # type: ignore[override]
        def _runner(self) -> Any:
            if threading.current_thread().name == "B":
                b_looked.set()
            return self.__dict__.get("_watched_runner")

        @_runner.setter
        def _runner(self, value: Any) -> None:
            self.__dict__["_watched_runner"] = value

    monkeypatch.setattr(sync_module, "LoopThread", FirstWaits)
    with serve(HISTORY, api_key=SECRET) as api:
        before = set(_client_threads())
        client = Watched(api.api_key, base_url=api.url, progress=False)
        got: dict[str, Any] = {}

        def fetch(name: str, job: dict[str, Any]) -> None:
            try:
                got[name] = client.fetch_jobs([job["id"]]).jobs
            except BaseException as exc:  # what the test reports
                got[name] = exc

        a = threading.Thread(target=fetch, args=("A", HISTORY[0]), name="A", daemon=True)
        b = threading.Thread(target=fetch, args=("B", HISTORY[1]), name="B", daemon=True)
        a.start()
        assert a_starting.wait(JOIN)
        b.start()
        a.join(JOIN)
        b.join(JOIN)
        assert not a.is_alive() and not b.is_alive(), f"a call hangs: {got}"
        assert made == ["A"]
        assert [j["id"] for j in got["A"]] == [HISTORY[0]["id"]]
        assert [j["id"] for j in got["B"]] == [HISTORY[1]["id"]]
        client.close()
        _assert_ended(before)


def _recycled_task_dicts() -> Any:
    """Fresh job dicts and task lists, but task dicts refilled from a pool."""
    pool: list[dict[str, Any]] = [{} for _ in range(8)]
    for job in HISTORY:
        tasks = []
        for task, slot in zip(job["tasks"], pool, strict=False):
            slot.clear()
            slot.update(copy.deepcopy(task))
            tasks.append(slot)
        yield {**{k: v for k, v in job.items() if k != "tasks"}, "tasks": tasks}


def _recycled_page_data() -> Any:
    """Fresh envelopes (list pages), their ``data`` list refilled."""
    data: list[dict[str, Any]] = []
    for start in range(0, len(HISTORY), 3):
        data.clear()
        data.extend(copy.deepcopy(HISTORY[start : start + 3]))
        yield {"meta": {"start": start}, "data": data}


def _fresh_pages() -> list[dict[str, Any]]:
    return [
        {"meta": {"start": start}, "data": copy.deepcopy(HISTORY[start : start + 3])}
        for start in range(0, len(HISTORY), 3)
    ]


@pytest.mark.parametrize(
    ("recycling", "fresh"),
    [
        (_recycled_task_dicts, lambda: copy.deepcopy(HISTORY)),
        (_recycled_page_data, _fresh_pages),
    ],
    ids=["task dicts from a pool", "a page's data list refilled"],
)
def test_a_generator_recycling_what_its_records_hold_gives_them_as_they_were(
    recycling: Any, fresh: Any
) -> None:
    # Task dicts refilled under fresh job dicts: every job got the last job's tasks; a
    # page's data refilled under fresh envelopes: the last page's jobs twice, one page lost.
    frames = itf.to_frames(recycling())
    reference = itf.to_frames(fresh())
    assert_frame_equal(frames.jobs, reference.jobs)
    assert_frame_equal(frames.tasks, reference.tasks)
    assert_frame_equal(frames.problems, reference.problems)


@pytest.mark.parametrize("message", ["The API key is not valid.", "Bad key!", "no key", ""])
def test_a_refused_key_reads_as_one_sentence_per_stop(message: str) -> None:
    # The server's own full stop, then ours: "The API key is not valid.. Set ...".
    from ittybit_frames.client._decode import error_from_response

    body = json.dumps({"kind": "token_invalid", "message": message}).encode()
    text = str(error_from_response(401, {}, body, "GET", "http://127.0.0.1/jobs"))
    assert ".." not in text and "!." not in text
    assert "Set ITTYBIT_API_KEY" in text
