"""A local stand-in for the ittybit jobs API, served over real HTTP/1.1 on loopback.

The rooms: :mod:`._http` frames HTTP on asyncio protocols, :mod:`._store` holds the jobs
and answers listings, :mod:`._faults` decides what goes wrong; this module runs the
server thread and routes each request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ittybit_frames.simulator._faults import FAULT_KINDS, Faults, TokenBucket
from ittybit_frames.simulator._http import Answer, ServerThread, error_answer
from ittybit_frames.simulator._store import JobStore, ListingStyle, advance, created_ms, list_page

__all__ = ["DEFAULT_API_KEY", "RequestRecord", "SimulatorAPI", "serve"]

logger = logging.getLogger(__name__)

#: The key the simulator accepts unless told otherwise. Not a secret.
DEFAULT_API_KEY = "ittybit_sim_key"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it."""

    method: str
    path: str
    query: str
    status: int  # 0 when the connection was dropped
    time: float  # time.monotonic() when the request arrived


class SimulatorAPI:
    """A running simulator. Made by :func:`serve`; stop it with :meth:`stop`.

    Attributes
    ----------
    url : str
        Base URL, ``http://127.0.0.1:<port>``.
    api_key : str
        The key it accepts.
    requests : list of RequestRecord
        Every request answered so far (when ``record=True``).
    """

    def __init__(
        self,
        jobs: Iterable[dict[str, Any]],
        *,
        api_key: str = DEFAULT_API_KEY,
        envelope: bool = False,
        list_tasks: bool = True,
        paging: str = "cursor",
        latency: float = 0.0,
        jitter: float = 0.0,
        faults: Faults | None = None,
        rate_limit: float | None = None,
        advance_every: float | None = None,
        fail_share: float = 0.06,
        seed: int = 0,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if paging not in ("cursor", "pages"):
            raise ValueError("paging must be 'cursor' or 'pages'")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator binds to loopback only (127.0.0.1, localhost, ::1)")
        self.api_key = api_key
        self.envelope = envelope
        self.list_tasks = list_tasks
        self.paging = paging
        self.latency = latency
        self.jitter = jitter
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.advance_every = advance_every
        self.fail_share = fail_share
        self.record = record
        self.requests: list[RequestRecord] = []
        self._state = JobStore()
        self._state.load(jobs)
        # The clock for advancing jobs starts past the newest (integer) update served.
        stamps = [
            created_ms({"created_at": j.get("updated_at")}) for j in self._state.jobs.values()
        ]
        self._clock = max([s for s in stamps if s] or [int(time.time() * 1000)]) + 1000
        self._rng = random.Random(seed)
        self._scripted: list[str] = []
        self._server = ServerThread(self.handle, self._delay, host, port, self._on_start)
        self._bucket = TokenBucket(rate_limit)
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> SimulatorAPI:
        """Start serving in a background thread; returns self once it accepts connections."""
        self.url = self._server.start()
        return self

    def _on_start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.advance_every:
            loop.call_later(self.advance_every, self._auto_advance)

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self._server.stop()

    def __enter__(self) -> SimulatorAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatorAPI(url={self.url!r}, jobs={len(self._state.jobs)})"

    # -- control from the test/user thread ---------------------------------------------
    def _call(self, fn: Any, *args: Any) -> Any:
        return self._server.call(fn, *args)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """The jobs as the simulator would serve them now (oldest first)."""
        return self._call(lambda: [self._state.jobs[j] for j in self._state.order])  # type: ignore[no-any-return]

    def add_jobs(self, jobs: Iterable[dict[str, Any]]) -> None:
        """Add (or replace) jobs while serving."""
        items = list(jobs)
        self._call(self._state.load, items)

    def advance(self, steps: int = 1) -> int:
        """Move every unfinished job forward ``steps`` times; returns how many changed.

        queued -> processing -> succeeded (or failed, for a seeded share). Each step moves
        the simulator's clock one minute past the newest timestamp it holds.
        """
        changed: set[str] = set()
        for _ in range(steps):
            changed |= self._call(self._advance_once)
        return len(changed)

    def inject(self, *faults: str) -> None:
        """Answer the next requests with these faults, in order (then behave normally).

        Each is one of the :class:`Faults` kinds (``"429"``, ``"500"``, ``"502"``,
        ``"503"``, ``"drop"``, ``"truncate"``) or ``"401"``.
        """
        unknown = set(faults) - {*FAULT_KINDS, "401"}
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        self._call(self._scripted.extend, list(faults))

    def stop_advancing(self) -> None:
        """Stop the automatic advance; once this returns, no job moves on its own."""
        # Runs on the server's loop, so it cannot interleave with an advance under way.
        self._call(setattr, self, "advance_every", None)

    def _advance_once(self) -> set[str]:
        self._clock += 60_000
        return advance(self._state, self._clock, self._rng, self.fail_share)

    def _delay(self) -> float:
        return self.latency + (self.jitter * self._rng.random() if self.jitter else 0)

    def _auto_advance(self) -> None:
        if not self.advance_every:
            return
        self._advance_once()
        if self._server.loop is not None:
            self._server.loop.call_later(self.advance_every, self._auto_advance)

    # -- request handling (loop thread) -----------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str]) -> Answer:
        """Answer one request: ``("ok", status, headers, body)``, ``("drop",)``, or
        ``("truncate", status, headers, body)``."""
        split = urlsplit(target)
        path, query = split.path, split.query
        result = self._answer(method, path, query, headers)
        if self.record:
            status = result[1] if result[0] != "drop" else 0
            self.requests.append(RequestRecord(method, path, query, status, time.monotonic()))
        return result

    def _answer(self, method: str, path: str, query: str, headers: dict[str, str]) -> Answer:
        auth = headers.get("authorization", "")
        if not auth:
            return error_answer(401, "token_missing", "Send Authorization: Bearer <API key>.")
        if auth != f"Bearer {self.api_key}":
            return error_answer(401, "token_invalid", "The API key is not valid.")
        if self._scripted:
            return self._fault(self._scripted.pop(0), method, path, query)
        if not self._bucket.take():
            return error_answer(429, "rate_limited", "Too many requests.", {"Retry-After": "1"})
        if self.faults.rate and self._rng.random() < self.faults.rate:
            return self._fault(self._rng.choice(self.faults.kinds), method, path, query)
        return self._route(method, path, query)

    def _fault(self, fault: str, method: str, path: str, query: str) -> Answer:
        if fault == "drop":
            return ("drop",)
        if fault == "429":
            return error_answer(
                429,
                "rate_limited",
                "Too many requests.",
                {"Retry-After": self.faults.retry_after_header(self._rng)},
            )
        if fault == "401":
            return error_answer(401, "token_invalid", "The API key is not valid.")
        if fault != "truncate":
            return error_answer(int(fault), "internal_error", "Injected server fault.")
        answer = self._route(method, path, query)
        return ("truncate", *answer[1:])

    def _route(self, method: str, path: str, query: str) -> Answer:
        if method != "GET":
            return error_answer(405, "method_not_allowed", f"{method} is not supported here.")
        if path in ("/jobs", "/jobs/"):
            style = ListingStyle(self.url, self.envelope, self.list_tasks, self.paging)
            return list_page(self._state, query, style)
        if path.startswith("/jobs/") and path.count("/") == 2:
            jid = unquote(path[6:])
            if jid not in self._state.jobs:
                return error_answer(404, "job_not_found", f"No job with id {jid!r}.")
            return ("ok", 200, {}, self._state.body(jid, tasks=True))
        return error_answer(404, "not_found", f"No route for {path}.")


@contextlib.contextmanager
def serve(jobs: Iterable[dict[str, Any]], **options: Any) -> Iterator[SimulatorAPI]:
    """Serve ``jobs`` over HTTP on 127.0.0.1 for the duration of a ``with`` block.

    Parameters
    ----------
    jobs : iterable of dict
        Jobs to serve, e.g. from :func:`generate_history`.
    **options
        See :class:`SimulatorAPI`: ``api_key``, ``envelope``, ``list_tasks``, ``paging``
        (``"cursor"`` or ``"pages"``, page-numbered as the 2024-25 API versions), ``latency``,
        ``jitter``, ``faults``, ``rate_limit``, ``advance_every``, ``seed``, ``record``,
        ``port``.

    Yields
    ------
    SimulatorAPI
        With ``.url`` and ``.api_key`` to point a client at.

    Examples
    --------
    >>> from ittybit_frames.simulator import generate_history, serve
    >>> with serve(generate_history(10)) as api:
    ...     api.url.startswith("http://127.0.0.1:")
    True
    """
    api = SimulatorAPI(jobs, **options).start()
    try:
        yield api
    finally:
        api.stop()
