"""Where the client's work runs: a private event-loop thread, worker pools, progress bars."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar, cast

__all__ = ["LoopThread", "for_each", "gather_or_cancel", "progress_bar"]

_T = TypeVar("_T")
_NONE = object()


class LoopThread:
    """An event loop in a daemon thread; runs coroutines from any thread, Jupyter's too."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._stopping = False
        #: Set when the owner starts to shut the loop down: a call failing from then on
        #: failed because of it.
        self.closing = False
        self._ended = False  # the loop has stopped for good: nothing more is run
        self._waiting: set[cf.Future[Any]] = set()  # what callers of run() wait for
        self._handing = threading.Lock()
        #: The tasks running callers' work, by their futures (used on the loop thread only).
        self._tasks: dict[cf.Future[Any], asyncio.Task[Any]] = {}
        self.thread = threading.Thread(target=self._serve, name="ittybit-client", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        """Run the loop until :meth:`stop`.

        A KeyboardInterrupt or SystemExit raised in a task (a user's transport, on this
        thread) is recorded in that task, then stops ``run_forever``: the loop goes on, so
        that it reaches what awaits the task and, through :meth:`run`, the caller, who
        would otherwise wait forever for a loop that is gone.
        """
        while True:
            try:
                self._loop.run_forever()
            except (KeyboardInterrupt, SystemExit):
                if not self._stopping:
                    continue
            return

    def run(self, coro: Awaitable[_T]) -> _T:
        """Run ``coro`` on the loop thread and wait for its result here.

        A hand-over of our own, not ``asyncio.run_coroutine_threadsafe``: a Ctrl-C
        (KeyboardInterrupt in this thread) may land at any instant here, and ``coro``
        must then neither be left un-awaited ("coroutine ... was never awaited") nor run
        for a caller who has gone. Who owns ``coro`` is decided once, on ``future``:
        the loop takes it by ``set_running_or_notify_cancel`` (:meth:`_take`), the
        caller gives it up by ``cancel`` (:meth:`_give_up`); whoever loses never runs it.
        """
        future: cf.Future[tuple[bool, Any]] | None = None
        try:
            future = cf.Future()
            # Waited for on a lock of its own, not in ``future.result()``: a Ctrl-C that
            # lands just after ``result()`` takes the future's lock (CPython may run the
            # signal handler there) leaves that lock held by this thread, and the loop,
            # which takes it to start or end the work, would wait for it forever.
            ended = _Outcome(future)
            with self._handing:
                if self._ended:
                    raise RuntimeError("the client's event loop has stopped")
                self._waiting.add(future)
                self._loop.call_soon_threadsafe(self._take, coro, future)
            ok, value = ended.wait()
        except BaseException:
            self._give_up(coro, future)
            raise
        finally:
            if future is not None:
                with self._handing:
                    self._waiting.discard(future)
        if not ok:
            raise value
        result: _T = value
        return result

    def _give_up(self, coro: Awaitable[Any], future: cf.Future[Any] | None) -> None:
        """The caller of :meth:`run` leaves before its result (Ctrl-C, :meth:`stop`)."""
        if future is None or future.cancel():  # the loop has not taken coro, and never will
            _close(coro)  # (it may never have been handed over: nobody else would)
        elif not future.done():  # taken: cancel its task, on the loop
            with contextlib.suppress(RuntimeError):  # the loop is closed: it runs no more
                self._loop.call_soon_threadsafe(self._cancel, future)

    def _take(self, coro: Awaitable[Any], future: cf.Future[tuple[bool, Any]]) -> None:
        """On the loop thread: start ``coro`` unless its caller has given it up."""
        if self._stopping:  # stop() has queued the loop's stop: a task made now would
            future.cancel()  # never take a step. Refused, as if the loop had stopped
        if not future.set_running_or_notify_cancel():
            _close(coro)
            return
        task = self._loop.create_task(_carried(coro))
        self._tasks[future] = task
        task.add_done_callback(lambda done: self._hand_back(coro, future, done))

    def _hand_back(
        self, coro: Awaitable[Any], future: cf.Future[tuple[bool, Any]], task: asyncio.Task[Any]
    ) -> None:
        """On the loop thread: carry the ended ``task``'s outcome to its caller."""
        del self._tasks[future]
        _close(coro)  # unstarted if the task was cancelled before its first step
        try:
            if task.cancelled():
                future.set_exception(cf.CancelledError())
            elif (exc := task.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(task.result())
        except cf.InvalidStateError:  # stop() has let the caller go already
            pass

    def _cancel(self, future: cf.Future[Any]) -> None:
        """On the loop thread: cancel the task whose caller has gone."""
        task = self._tasks.get(future)
        if task is not None:
            task.cancel()

    def call_soon(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Start ``make()`` on the loop without waiting for it (from any thread)."""
        self._loop.call_soon_threadsafe(lambda: self._loop.create_task(make()))

    def stop(self) -> None:
        """Stop the loop and its thread."""
        if self.thread.is_alive():  # the loop may be between two runs (see _serve)
            # Work a Ctrl-C cancelled may still be unwinding: let it end first, or the
            # loop stops under it ("Task was destroyed but it is pending!").
            try:
                self.run(_settle())
            finally:  # a Ctrl-C while the work settles still ends the thread
                self._stopping = True
                self._loop.call_soon_threadsafe(self._loop.stop)
            self.thread.join(10)
        with self._handing:  # a caller whose work the stopped loop never ran: let it go
            self._ended = True
            for future in self._waiting:
                if not future.cancel():  # taken by the loop, which will not end it now
                    with contextlib.suppress(cf.InvalidStateError):  # unless it just did
                        future.set_exception(cf.CancelledError())
        if not self.thread.is_alive():
            self._loop.close()


class _Outcome:
    """A future's outcome, kept by its done callback (on whichever thread ends it) and
    waited for on a plain lock: the waiter never holds the future's own lock."""

    def __init__(self, future: cf.Future[tuple[bool, Any]]) -> None:
        self._ended = threading.Lock()
        self._ended.acquire()
        self._kept: list[tuple[tuple[bool, Any] | None, BaseException | None]] = []
        future.add_done_callback(self._keep)

    def _keep(self, future: cf.Future[tuple[bool, Any]]) -> None:
        try:  # done: no wait, and the waiter holds no lock of the future's
            self._kept.append((future.result(), None))
        except BaseException as exc:  # carried to the waiter (CancelledError...)
            self._kept.append((None, exc))
        self._ended.release()

    def wait(self) -> tuple[bool, Any]:
        """The outcome, or the future's exception raised (CancelledError...)."""
        self._ended.acquire()
        outcome, exc = self._kept[0]
        if exc is not None:
            raise exc
        assert outcome is not None
        return outcome


async def _carried(coro: Awaitable[_T]) -> tuple[bool, Any]:
    """Await ``coro``; KeyboardInterrupt or SystemExit raised inside it is returned: in a
    task it would stop the loop itself and leave the caller waiting forever."""
    try:
        return True, await coro
    except (KeyboardInterrupt, SystemExit) as exc:
        return False, exc


def _close(coro: Awaitable[Any]) -> None:
    """Close ``coro`` if it is a coroutine that will not run: no "never awaited" of it."""
    if asyncio.iscoroutine(coro):
        coro.close()


async def _settle() -> None:
    """Cancel the loop's other tasks and wait until they have ended."""
    rest = asyncio.all_tasks() - {asyncio.current_task()}
    for task in rest:
        task.cancel()
    if rest:
        await asyncio.wait(rest, timeout=10)  # a bound for a task deaf to cancellation


async def gather_or_cancel(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` together; when one raises, cancel the others and re-raise."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def for_each(
    items: Sequence[_T],
    work: Callable[[_T], Awaitable[None]],
    concurrency: int,
    gate: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Await ``work(item)`` for every item, ``concurrency`` at a time, in order of start.

    With a ``gate``, each item is started only once ``gate()`` (awaited before the item
    is taken) has returned: a semaphore's ``acquire`` bounds how far the work runs ahead
    of whoever releases it, and the items started are always the first ones.
    The first exception cancels the work under way and is re-raised.
    """
    pending = iter(items)

    async def worker() -> None:
        if gate is None:
            for item in pending:
                await work(item)
            return
        while True:
            await gate()
            taken: object = next(pending, _NONE)
            if taken is _NONE:
                return
            await work(cast(_T, taken))

    await gather_or_cancel([worker() for _ in range(min(concurrency, len(items)))])


class _NullBar:
    def update(self, n: int = 1, *, reached: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def _in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (not merely a process that imported
    ``ipykernel``: nbclient and PySpark's error helpers import it in plain scripts)."""
    ipython = sys.modules.get("IPython")
    if "ipykernel" not in sys.modules or ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython we cannot ask: no kernel of ours to draw in
        return False
    return getattr(shell, "kernel", None) is not None


def _interactive() -> bool:
    if _in_kernel():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(
    enabled: bool | None, total: int | None, desc: str, stats: Any = None
) -> Progress | _NullBar:
    """A tqdm bar on stderr (a widget in Jupyter), or one that does nothing.

    ``enabled=None`` shows it only in a terminal or a notebook. With a total, tqdm
    shows the ETA; ``stats`` (the client's counters) puts retries and the time spent
    waiting (backoff, ``Retry-After``, rate limit) on the bar as they happen.
    """
    if enabled is None:
        enabled = _interactive()
    if not enabled:
        return _NullBar()
    if _in_kernel():
        try:
            import ipywidgets  # noqa: F401, PLC0415
        except ImportError:  # tqdm.auto would warn and fall back; go to the text bar directly
            from tqdm.std import tqdm  # noqa: PLC0415
        else:
            from tqdm.auto import tqdm  # noqa: PLC0415
    else:
        from tqdm.std import tqdm  # noqa: PLC0415
    bar = tqdm(total=total, desc=desc, unit="job", file=sys.stderr, dynamic_ncols=True)
    return Progress(bar, stats)


class Progress:
    """A tqdm bar that also shows what the walk has reached and the client's retries."""

    def __init__(self, bar: Any, stats: Any) -> None:
        self.bar = bar
        self.stats = stats
        self._shown: tuple[Any, ...] = (None, 0, 0.0)

    def update(self, n: int = 1, *, reached: str | None = None) -> None:
        # Called once per job: the note is rebuilt only when what it says has changed.
        retries = self.stats.retries if self.stats is not None else 0
        waited = self.stats.waited_seconds if self.stats is not None else 0.0
        if (reached, retries, round(waited, 1)) != self._shown:
            self._shown = (reached, retries, round(waited, 1))
            notes = [reached] if reached else []
            if retries:
                notes.append(f"{retries} retr{'y' if retries == 1 else 'ies'}")
            if waited >= 0.05:
                notes.append(f"waited {waited:.1f} s")
            if notes:
                self.bar.set_postfix_str(", ".join(notes), refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()
