"""Arrow's memory pool while ``to_frames`` reads its input and ``read_parquet`` runs.

pyarrow's wheels allocate from mimalloc by default. On Linux with transparent huge pages,
the conversion's pattern (many buffers of a block made, used and dropped, block after
block) had the kernel zero fresh huge pages for a sixth of the process's CPU time
(``perf``: ``clear_page_erms`` under ``mi_page_free_list_extend``); the system allocator
halves that kernel time (BENCHMARKS.md, session 9). A library must not change
its caller's process for good, so the pool is switched only while conversions run and put
back when the last one ends.

Left alone: a pool the caller set other than mimalloc (``pa.set_memory_pool``), and any
pool named by the ``ARROW_DEFAULT_MEMORY_POOL`` variable, mimalloc too (the way to keep
mimalloc: pyarrow's default cannot be told from a choice of it). A buffer remembers the
pool it came from and goes back to it, so another thread of the caller allocating
meanwhile is served by the system allocator with no other difference. A system pool the
caller sets while a conversion runs stays too: ours is the system allocator behind a
proxy, which can be told from it (``_ours_is_default``). The switch is
pyarrow's Python-level default: Arrow's C++ internals keep their own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator

import pyarrow as pa

_SWAPPED_FROM = "mimalloc"  # pyarrow's default backend where it is built in


class _Switch:
    """The process's one switch: holds the conversions running in every thread; the
    first swaps the pool in, the last puts the caller's back.

    Each conversion is a token, added to and discarded from a set: one C call each, so
    a Ctrl-C (raised between bytecodes) finds a token either counted or not, never half,
    and ``leave`` uncounts only a token ``enter`` counted. ``enter`` runs inside the
    caller's ``try``: an interrupt right after it returns is still undone by ``leave``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[object] = set()
        self._saved: pa.MemoryPool | None = None  # the caller's pool, while ours is in

    def enter(self, token: object) -> None:
        with self._lock:
            self._running.add(token)
            if len(self._running) > 1:
                return
            current = pa.default_memory_pool()
            chosen = "ARROW_DEFAULT_MEMORY_POOL" in os.environ
            if current.backend_name == _SWAPPED_FROM and not chosen:
                self._saved = current
                pa.set_memory_pool(_OURS)

    def leave(self, token: object) -> None:
        with self._lock:
            if token not in self._running:
                return  # interrupted before enter counted it
            self._running.discard(token)
            if self._running or self._saved is None:
                return
            # Put back only our own switch: a pool the caller set meanwhile stays theirs.
            if _ours_is_default():
                pa.set_memory_pool(self._saved)
            self._saved = None


def _ours_is_default() -> bool:
    """Whether the default pool is still ``_OURS``. pyarrow hands out a new wrapper per
    call and no address, and the caller's ``pa.system_memory_pool()`` is the very pool
    ``_OURS`` forwards to, so neither identity nor backend name tells them apart; an
    allocation does: only ``_OURS`` counts the ones made through it. (Another thread
    growing a buffer ``_OURS`` made, at this very moment, could count too: the caller's
    system pool would then be replaced by its earlier one, as before this check.)"""
    if pa.default_memory_pool().backend_name != "system":
        return False
    before = _OURS.num_allocations()
    pa.allocate_buffer(1)  # from the default pool, freed at once
    return bool(_OURS.num_allocations() != before)


#: The pool switched in: the system allocator behind a proxy of our own, so that it can
#: be told from the system pool a caller sets (``_ours_is_default``). Never freed: the
#: buffers made through it go back to it whenever they are dropped.
_OURS = pa.proxy_memory_pool(pa.system_memory_pool())
# Never freed, even at exit: the interpreter clears module globals while it shuts down,
# and frames kept in another module (a cache) may still hold buffers made through this
# pool, freed later. With the pool's C++ object gone first, that free crashed the
# process at exit (SIGSEGV, exit code 139, after the caller's work had succeeded).
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_OURS))
_SWITCH = _Switch()


@contextlib.contextmanager
def conversion_pool() -> Iterator[None]:
    """Run the body with Arrow's default pool as the system allocator (see the module
    docstring); nested and concurrent uses share one switch."""
    token = object()
    try:
        _SWITCH.enter(token)
        yield
    finally:
        _SWITCH.leave(token)
