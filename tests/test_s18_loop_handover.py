"""A Ctrl-C at each instant of ``LoopThread.run`` handing a coroutine to the loop thread.

Why: the CLI's ``test_ctrl_c_mid_export_writes_nothing`` failed now and then with
"RuntimeWarning: coroutine 'LoopThread.run.<locals>.wrap' was never awaited" on stderr:
the KeyboardInterrupt (SIGINT in the main thread) landed inside
``asyncio.run_coroutine_threadsafe``, after the coroutine wrapping the caller's work was
made and before the loop had it. Each test here makes the KeyboardInterrupt land at one
instant (by patching what ``run`` calls, or from the loop thread by signal) and checks:
no coroutine is left un-awaited, the caller gets the KeyboardInterrupt, work the caller
gave up on before the loop took it never starts, and the loop thread still serves the
next call and still stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import gc
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ittybit_frames.client import _runtime
from ittybit_frames.client._runtime import LoopThread

JOIN = 20  # seconds: a bound that fails the test when something hangs


@contextlib.contextmanager
def _no_stray_coroutines(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail if a coroutine is garbage-collected un-awaited (or a task pending) meanwhile.

    The warnings come from finalizers, on whichever thread drops the last reference:
    recorded here (process-wide) rather than turned into errors, and collected at the end.
    """
    unraisable: list[str] = []
    hook = sys.unraisablehook
    caplog.set_level(logging.ERROR, logger="asyncio")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}")
        try:
            yield
            gc.collect()
        finally:
            sys.unraisablehook = hook
    said = [str(w.message) for w in caught] + unraisable + [r.getMessage() for r in caplog.records]
    assert [s for s in said if "never awaited" in s or "pending" in s or "GeneratorExit" in s] == []


@contextlib.contextmanager
def _busy(runner: LoopThread) -> Iterator[None]:
    """Keep the loop thread inside a callback until the block ends: what is handed to it
    meanwhile waits in its queue."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        release.wait(JOIN)

    runner._loop.call_soon_threadsafe(hold)
    assert inside.wait(JOIN)
    try:
        yield
    finally:
        release.set()


def _once_in_main(real: Callable[..., Any], *, before: bool) -> Callable[..., Any]:
    """``real``, except that its first call from the main thread raises KeyboardInterrupt
    (a Ctrl-C landing there), before calling ``real`` or just after it returned."""
    pressed: list[bool] = []

    def pressing(*args: Any, **kwargs: Any) -> Any:
        if pressed or threading.current_thread() is not threading.main_thread():
            return real(*args, **kwargs)
        pressed.append(True)
        if before:
            raise KeyboardInterrupt
        real(*args, **kwargs)
        raise KeyboardInterrupt

    return pressing


async def _work(ran: list[str]) -> int:
    ran.append("started")
    await asyncio.sleep(0)
    return 7


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


def _still_serves_and_stops(runner: LoopThread) -> None:
    assert runner.run(_answer()) == 42
    runner.stop()
    assert not runner.thread.is_alive()


@pytest.fixture
def runner() -> Iterator[LoopThread]:
    made = LoopThread()
    try:
        yield made
    finally:
        made.stop()


def test_ctrl_c_before_the_future_exists(
    runner: LoopThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    with _no_stray_coroutines(caplog):
        monkeypatch.setattr(cf.Future, "__init__", _once_in_main(cf.Future.__init__, before=True))
        with pytest.raises(KeyboardInterrupt):
            runner.run(_work(ran))
        monkeypatch.undo()
        _still_serves_and_stops(runner)
    assert ran == []


@pytest.mark.parametrize("where", ["before the hand-over", "after it", "waiting for the loop"])
def test_ctrl_c_before_the_loop_takes_the_work(
    where: str,
    runner: LoopThread,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before the hand-over: the loop never heard of the work. After it: it is in the
    # loop's queue, but the caller was interrupted before it could wait for it. Waiting:
    # the caller waits for the result and the loop has not taken the work yet. The loop
    # is busy each time, so it cannot have started the work: it must not start once the
    # caller has gone.
    ran: list[str] = []
    with _no_stray_coroutines(caplog):
        with _busy(runner):
            if where == "waiting for the loop":
                target, name = _runtime._Outcome, "wait"
            else:
                target, name = runner._loop, "call_soon_threadsafe"
            interrupt = _once_in_main(getattr(target, name), before=where != "after it")
            monkeypatch.setattr(target, name, interrupt)
            with pytest.raises(KeyboardInterrupt):
                runner.run(_work(ran))
            monkeypatch.undo()
        _still_serves_and_stops(runner)
    assert ran == []


def test_ctrl_c_while_the_work_runs_cancels_it(
    runner: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    assert threading.current_thread() is threading.main_thread()
    ended = threading.Event()
    seen: list[str] = []

    async def interrupted() -> None:
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            ended.set()

    with _no_stray_coroutines(caplog):
        with pytest.raises(KeyboardInterrupt):
            runner.run(interrupted())
        assert ended.wait(JOIN)
        _still_serves_and_stops(runner)
    assert seen == ["cancelled"]


def test_what_the_work_raises_or_returns_reaches_the_caller(
    runner: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    async def raising(exc: BaseException) -> None:
        await asyncio.sleep(0)
        raise exc

    async def cancelled() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    with _no_stray_coroutines(caplog):
        for exc in (ValueError("no"), KeyboardInterrupt(), SystemExit(3)):
            with pytest.raises(type(exc)):
                runner.run(raising(exc))
        with pytest.raises(cf.CancelledError):
            runner.run(cancelled())
        assert runner.run(_work([])) == 7
        _still_serves_and_stops(runner)


def _other_caller(runner: LoopThread, ran: list[str]) -> tuple[threading.Thread, list[Any]]:
    """A thread calling ``runner.run``; its outcome lands in the list returned."""
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append(runner.run(_work(ran)))
        except BaseException as exc:
            outcome.append(exc)

    return threading.Thread(target=call, name="other caller"), outcome


def _queued_then(runner: LoopThread, ran: list[str], then: Callable[[], None]) -> Any:
    """Let another thread's work wait in the busy loop's queue, call ``then()`` (on the
    loop thread, still busy), and return what that other caller got."""
    queued = threading.Event()
    real = runner._loop.call_soon_threadsafe

    def scheduling(*args: Any, **kwargs: Any) -> Any:
        handle = real(*args, **kwargs)
        if threading.current_thread().name == "other caller":
            queued.set()
        return handle

    caller, outcome = _other_caller(runner, ran)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        release.wait(JOIN)
        then()

    real(hold)
    assert inside.wait(JOIN)
    runner._loop.call_soon_threadsafe = scheduling  # type: ignore[method-assign]
    try:
        caller.start()
        assert queued.wait(JOIN)
    finally:
        del runner._loop.call_soon_threadsafe
        release.set()
    return caller, outcome


def _caller_let_go(runner: LoopThread, ran: list[str], stop: Any) -> None:
    """Another thread's work queued, then ``stop`` ends the loop: once stop() has run,
    that caller is let go with CancelledError (not left waiting)."""
    caller, outcome = _queued_then(runner, ran, stop)
    runner.thread.join(JOIN)
    assert not runner.thread.is_alive()
    runner.stop()
    caller.join(JOIN)
    assert not caller.is_alive()
    assert [type(x) for x in outcome] == [cf.CancelledError]
    outcome.clear()


def test_a_caller_whose_work_the_stopped_loop_never_took_is_let_go(
    runner: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    # The loop stops for good (as stop() makes it) while another thread's work waits in
    # its queue: stop() lets that caller go, and its coroutine is not left un-awaited.
    ran: list[str] = []

    def stop_here() -> None:
        runner._stopping = True
        runner._loop.stop()

    with _no_stray_coroutines(caplog):
        _caller_let_go(runner, ran, stop_here)
        with pytest.raises(RuntimeError, match="stopped"):
            runner.run(_work(ran))
    assert ran == []


def test_work_handed_over_as_stop_stops_the_loop_is_refused(
    runner: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    # stop() has settled the loop's work and queued the loop's stop; another thread's
    # work reaches the loop just before that stop: a task made for it then would never
    # take a step (the loop stops first). The caller is let go; nothing is left pending.
    ran: list[str] = []

    def stop_next() -> None:  # what stop() does once the loop's work has settled
        runner._stopping = True
        runner._loop.call_soon(runner._loop.stop)

    with _no_stray_coroutines(caplog):
        _caller_let_go(runner, ran, stop_next)
    assert ran == []
