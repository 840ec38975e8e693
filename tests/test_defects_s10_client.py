"""Session 10's client defects: a Ctrl-C (KeyboardInterrupt) that lands while the client
closes its connections left the ones after it open, to the garbage collector
(ResourceWarning, file descriptors held). Every connection is closed all the same, then
the interrupt reaches the caller."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ittybit_frames import AsyncClient, Client
from ittybit_frames.client import _wire
from ittybit_frames.simulator import SimulatorAPI, generate_history

HISTORY = generate_history(40, seed=7)
IDS = [j["id"] for j in HISTORY[:16]]


@pytest.fixture
def api() -> Iterator[SimulatorAPI]:
    server = SimulatorAPI(HISTORY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def interrupt_first_close(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first connection closed raises KeyboardInterrupt, as a Ctrl-C landing in its
    close would: ``when="after"`` once it has closed, ``"before"`` before it has."""
    calls: list[int] = []
    real = _wire._Answer.close

    def close(self: _wire._Answer) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(_wire._Answer, "close", close)
    return calls


def _sockets(transport: Any) -> list[socket.socket]:
    """The sockets of the pool's open connections (asyncio's wrappers of them)."""
    found = [c.transport.get_extra_info("socket") for c in transport._open]
    assert len(found) >= 2  # several connections: one interrupted, the others after it
    return found


def _all_closed(socks: list[Any]) -> bool:
    return all(s.fileno() == -1 for s in socks)


def test_async_aclose_interrupted_closes_every_connection(
    api: SimulatorAPI, interrupt_first_close: list[int]
) -> None:
    async def main() -> tuple[list[Any], bool]:
        client = AsyncClient(api_key=api.api_key, base_url=api.url, concurrency=4)
        await client.fetch_jobs(IDS)
        socks = _sockets(client._http._transport)
        with pytest.raises(KeyboardInterrupt):
            await client.aclose()
        await asyncio.sleep(0)  # the loop's turn in which closed sockets are released
        return socks, not client._http._transport or not client._http._transport._open

    socks, emptied = asyncio.run(main())
    assert interrupt_first_close  # the interrupt did land
    assert _all_closed(socks)
    assert emptied


def test_sync_close_interrupted_closes_every_connection_and_ends_the_thread(
    api: SimulatorAPI, interrupt_first_close: list[int]
) -> None:
    client = Client(api_key=api.api_key, base_url=api.url, concurrency=4)
    client.fetch_jobs(IDS)
    socks = _sockets(client._async._http._transport)
    runner = client._runner
    assert runner is not None
    with pytest.raises(KeyboardInterrupt):
        client.close()
    assert _all_closed(socks)
    assert not runner.thread.is_alive()


def test_a_with_block_whose_close_is_interrupted_closes_every_connection(
    api: SimulatorAPI, interrupt_first_close: list[int]
) -> None:
    socks: list[Any] = []

    def use() -> None:
        with Client(api_key=api.api_key, base_url=api.url, concurrency=4) as client:
            client.fetch_jobs(IDS)
            socks.extend(_sockets(client._async._http._transport))

    with pytest.raises(KeyboardInterrupt):
        use()
    assert socks and _all_closed(socks)


def test_a_ctrl_c_before_the_loop_ran_the_close_still_closes_every_connection(
    api: SimulatorAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Ctrl-C lands in the caller's thread while it waits for the loop to close the
    connections, before the loop got to it: ``run`` cancels the close, which never runs
    (modelled here: the close's coroutine is dropped unrun and KeyboardInterrupt raised).
    The loop thread ends, and the connections are closed from the caller's thread."""
    from ittybit_frames.client._runtime import LoopThread

    real = LoopThread.run
    dropped: list[str] = []

    def run(self: LoopThread, coro: Any) -> Any:
        if getattr(coro, "__qualname__", "") == "AsyncClient.aclose":
            coro.close()
            dropped.append(coro.__qualname__)
            raise KeyboardInterrupt
        return real(self, coro)

    client = Client(api_key=api.api_key, base_url=api.url, concurrency=4)
    client.fetch_jobs(IDS)
    socks = _sockets(client._async._http._transport)
    runner = client._runner
    assert runner is not None
    monkeypatch.setattr(LoopThread, "run", run)
    with pytest.raises(KeyboardInterrupt):
        client.close()
    assert dropped == ["AsyncClient.aclose"]
    assert not runner.thread.is_alive()
    assert _all_closed(socks)
