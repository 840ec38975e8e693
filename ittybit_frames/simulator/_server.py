"""A local stand-in for the ittybit jobs API, served over real HTTP/1.1 on loopback.

Written directly on :mod:`asyncio` protocols (no framework) so that one thread answers
several thousand requests per second, with keep-alive, and so that faults can be
injected at the byte level: a dropped connection, a body cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import orjson

__all__ = ["DEFAULT_API_KEY", "Faults", "RequestRecord", "SimulatorAPI", "serve"]

logger = logging.getLogger(__name__)

#: The key the simulator accepts unless told otherwise. Not a secret.
DEFAULT_API_KEY = "ittybit_sim_key"

_JOB_KINDS = frozenset({"video", "audio", "image", "animation", "adaptive_video"})
_JOB_STATUSES = frozenset({"queued", "processing", "succeeded", "failed", "cancelled"})
_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
_FAULT_KINDS = ("429", "500", "502", "503", "drop", "truncate")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often.

    Parameters
    ----------
    rate : float
        Share of requests (0-1) answered with a fault instead of the real answer.
    kinds : tuple of str
        Faults to draw from, evenly: ``"429"``, ``"500"``, ``"502"``, ``"503"``,
        ``"drop"`` (connection closed without an answer), ``"truncate"`` (body cut short).
    retry_after : {"seconds", "date", "mixed"}
        Form of the ``Retry-After`` header on injected 429s.
    retry_after_seconds : int
        Wait asked for by injected 429s.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = _FAULT_KINDS
    retry_after: str = "seconds"
    retry_after_seconds: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("Faults.rate must be between 0 and 1")
        unknown = set(self.kinds) - set(_FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {list(_FAULT_KINDS)}")
        if self.retry_after not in ("seconds", "date", "mixed"):
            raise ValueError("Faults.retry_after must be 'seconds', 'date' or 'mixed'")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it."""

    method: str
    path: str
    query: str
    status: int  # 0 when the connection was dropped
    time: float  # time.monotonic() when the request arrived


@dataclass
class _State:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # ascending (created_at, id)
    pos: dict[str, int] = field(default_factory=dict)
    full: dict[str, bytes] = field(default_factory=dict)  # job JSON with tasks
    bare: dict[str, bytes] = field(default_factory=dict)  # job JSON without tasks

    def load(self, jobs: Iterable[dict[str, Any]]) -> None:
        for job in jobs:
            self.jobs[str(job["id"])] = job
            self.full.pop(str(job["id"]), None)
            self.bare.pop(str(job["id"]), None)
        self.order = sorted(self.jobs, key=lambda j: (_created_ms(self.jobs[j]), j))
        self.pos = {jid: i for i, jid in enumerate(self.order)}

    def body(self, jid: str, *, tasks: bool) -> bytes:
        cache = self.full if tasks else self.bare
        data = cache.get(jid)
        if data is None:
            job = self.jobs[jid]
            if not tasks:
                job = {k: v for k, v in job.items() if k != "tasks"}
            data = cache[jid] = _dumps(job)
        return data

    def touch(self, jid: str) -> None:
        self.full.pop(jid, None)
        self.bare.pop(jid, None)


def _dumps(value: Any) -> bytes:
    """JSON bytes; integers beyond 64 bits (valid JSON, refused by orjson) via the stdlib."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def _created_ms(job: dict[str, Any]) -> int:
    """Integer creation time for ordering; anything else (the API may send junk) is 0."""
    value = job.get("created_at", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator binds to loopback only (127.0.0.1, localhost, ::1)")
        self.api_key = api_key
        self.envelope = envelope
        self.list_tasks = list_tasks
        self.latency = latency
        self.jitter = jitter
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.advance_every = advance_every
        self.fail_share = fail_share
        self.record = record
        self.requests: list[RequestRecord] = []
        self._state = _State()
        self._state.load(jobs)
        # The clock for advancing jobs starts past the newest (integer) update served.
        stamps = [
            _created_ms({"created_at": j.get("updated_at")}) for j in self._state.jobs.values()
        ]
        self._clock = max([s for s in stamps if s] or [int(time.time() * 1000)]) + 1000
        self._rng = random.Random(seed)
        self._scripted: list[str] = []
        self._host, self._port = host, port
        self._tokens = float(rate_limit or 0.0)
        self._token_t = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._conns: set[asyncio.Transport] = set()
        self._startup_error: BaseException | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> SimulatorAPI:
        """Start serving in a background thread; returns self once it accepts connections."""
        self._thread = threading.Thread(target=self._run, name="ittybit-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _Conn(self), self._host, self._port)
            )
        except OSError as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        sock = self._server.sockets[0].getsockname()
        host = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
        self.url = f"http://{host}:{sock[1]}"
        if self.advance_every:
            loop.call_later(self.advance_every, self._auto_advance)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for conn in list(self._conns):
                conn.abort()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> SimulatorAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatorAPI(url={self.url!r}, jobs={len(self._state.jobs)})"

    # -- control from the test/user thread ---------------------------------------------
    def _call(self, fn: Any, *args: Any) -> Any:
        if self._loop is None or not self._loop.is_running():
            return fn(*args)

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

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
        unknown = set(faults) - {*_FAULT_KINDS, "401"}
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        self._call(self._scripted.extend, list(faults))

    def stop_advancing(self) -> None:
        """Stop the automatic advance; once this returns, no job moves on its own."""
        # Runs on the server's loop, so it cannot interleave with an advance under way.
        self._call(setattr, self, "advance_every", None)

    def _auto_advance(self) -> None:
        if not self.advance_every:
            return
        self._advance_once()
        if self._loop is not None:
            self._loop.call_later(self.advance_every, self._auto_advance)

    def _advance_once(self) -> set[str]:
        self._clock += 60_000
        now = self._clock
        changed = set()
        for jid, job in self._state.jobs.items():
            status = job.get("status")
            if status in _TERMINAL:
                continue
            raw_tasks = job.get("tasks")
            tasks = (
                [t for t in raw_tasks if isinstance(t, dict)] if isinstance(raw_tasks, list) else []
            )
            if status == "queued":
                job.update(status="processing", started_at=now, updated_at=now)
                if tasks:
                    tasks[0].update(
                        status="processing", started_at=now, updated_at=now, progress=10
                    )
            else:
                failed = self._rng.random() < self.fail_share
                _finish_tasks(tasks, now, failed)
                job.update(
                    status="failed" if failed else "succeeded", finished_at=now, updated_at=now
                )
                if failed:
                    job["error"] = {
                        "kind": "encode_failed",
                        "message": f"Encoder exited with code 1 on {jid}",
                    }
                elif tasks:
                    out = tasks[-2].get("output") if len(tasks) > 1 else None
                    job["output"] = out.get("url") if isinstance(out, dict) else None
            self._state.touch(jid)
            changed.add(jid)
        return changed

    # -- request handling (loop thread) -----------------------------------------------
    def _take_token(self) -> bool:
        if not self.rate_limit:
            return True
        now = time.monotonic()
        self._tokens = min(self.rate_limit, self._tokens + (now - self._token_t) * self.rate_limit)
        self._token_t = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _retry_after(self) -> str:
        seconds = self.faults.retry_after_seconds
        form = self.faults.retry_after
        if form == "mixed":
            form = self._rng.choice(("seconds", "date"))
        if form == "date":
            return email.utils.formatdate(time.time() + seconds, usegmt=True)
        return str(seconds)

    def handle(self, method: str, target: str, headers: dict[str, str]) -> tuple[Any, ...]:
        """Answer one request: ``("ok", status, headers, body)``, ``("drop",)``, or
        ``("truncate", status, headers, body)``."""
        split = urlsplit(target)
        path, query = split.path, split.query
        result = self._answer(method, path, query, headers)
        if self.record:
            status = result[1] if result[0] != "drop" else 0
            self.requests.append(RequestRecord(method, path, query, status, time.monotonic()))
        return result

    def _answer(
        self, method: str, path: str, query: str, headers: dict[str, str]
    ) -> tuple[Any, ...]:
        auth = headers.get("authorization", "")
        if not auth:
            return _error(401, "token_missing", "Send Authorization: Bearer <API key>.")
        if auth != f"Bearer {self.api_key}":
            return _error(401, "token_invalid", "The API key is not valid.")
        if self._scripted:
            return self._fault(self._scripted.pop(0), method, path, query)
        if not self._take_token():
            return _error(429, "rate_limited", "Too many requests.", {"Retry-After": "1"})
        if self.faults.rate and self._rng.random() < self.faults.rate:
            return self._fault(self._rng.choice(self.faults.kinds), method, path, query)
        return self._route(method, path, query)

    def _fault(self, fault: str, method: str, path: str, query: str) -> tuple[Any, ...]:
        if fault == "drop":
            return ("drop",)
        if fault == "429":
            return _error(
                429, "rate_limited", "Too many requests.", {"Retry-After": self._retry_after()}
            )
        if fault == "401":
            return _error(401, "token_invalid", "The API key is not valid.")
        if fault != "truncate":
            return _error(int(fault), "internal_error", "Injected server fault.")
        answer = self._route(method, path, query)
        return ("truncate", *answer[1:])

    def _route(self, method: str, path: str, query: str) -> tuple[Any, ...]:
        if method != "GET":
            return _error(405, "method_not_allowed", f"{method} is not supported here.")
        if path in ("/jobs", "/jobs/"):
            return self._list(query)
        if path.startswith("/jobs/") and path.count("/") == 2:
            jid = unquote(path[6:])
            if jid not in self._state.jobs:
                return _error(404, "job_not_found", f"No job with id {jid!r}.")
            return ("ok", 200, {}, self._state.body(jid, tasks=True))
        return _error(404, "not_found", f"No route for {path}.")

    def _list(self, query: str) -> tuple[Any, ...]:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            limit = int(params.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _error(400, "request_invalid", "limit must be an integer from 1 to 100.")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            return _error(400, "request_invalid", "order must be 'asc' or 'desc'.")
        kind, status = params.get("kind"), params.get("status")
        if kind is not None and kind not in _JOB_KINDS:
            return _error(400, "request_invalid", f"kind must be one of {sorted(_JOB_KINDS)}.")
        if status is not None and status not in _JOB_STATUSES:
            return _error(400, "request_invalid", f"status must be one of {sorted(_JOB_STATUSES)}.")
        after, before = params.get("after"), params.get("before")
        if after and before:
            return _error(400, "request_invalid", "Use either after or before, not both.")
        cursor = after or before
        state = self._state
        if cursor and cursor not in state.pos:
            return _error(400, "request_invalid", f"Unknown cursor {cursor!r}.")
        n = len(state.order)
        step = 1 if order == "asc" else -1
        # Walk the list in the requested order (or against it, for `before`).
        if cursor:
            i = state.pos[cursor]
            direction = step if after else -step
            i += direction
        else:
            direction = step
            i = 0 if step == 1 else n - 1
        picked: list[str] = []
        while 0 <= i < n and len(picked) <= limit:
            jid = state.order[i]
            job = state.jobs[jid]
            if (kind is None or job.get("kind") == kind) and (
                status is None or job.get("status") == status
            ):
                picked.append(jid)
            i += direction
        has_more = len(picked) > limit
        picked = picked[:limit]
        if before:
            picked.reverse()
        body = b",".join(state.body(j, tasks=self.list_tasks) for j in picked)
        headers = {"Has-More": "true" if has_more else "false", "Limit": str(limit)}
        if has_more and picked and not before:
            extra = "".join(
                f"&{k}={quote(v)}" for k, v in (("kind", kind), ("status", status)) if v
            )
            headers["Link"] = (
                f"<{self.url}/jobs?after={quote(picked[-1])}&limit={limit}&order={order}{extra}>;"
                ' rel="next"'
            )
        if self.envelope:
            payload = b'{"data":[' + body + b'],"has_more":' + (b"true" if has_more else b"false")
            return ("ok", 200, headers, payload + b"}")
        return ("ok", 200, headers, b"[" + body + b"]")


def _finish_tasks(tasks: list[dict[str, Any]], now: int, failed: bool) -> None:
    fail_at = len(tasks) - 2 if failed and len(tasks) >= 2 else -1
    for k, task in enumerate(tasks):
        if task.get("status") in _TERMINAL:
            continue
        if fail_at != -1 and k > fail_at:
            task.update(status="cancelled", finished_at=now, updated_at=now)
        elif k == fail_at:
            task.update(
                status="failed",
                started_at=task.get("started_at") or now,
                finished_at=now,
                updated_at=now,
                progress=None,
                error={"kind": "encode_failed", "message": "Encoder exited with code 1"},
            )
        else:
            task.update(
                status="succeeded",
                started_at=task.get("started_at") or now,
                finished_at=now,
                updated_at=now,
                progress=100,
            )


def _error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> tuple[Any, ...]:
    return ("ok", status, headers or {}, orjson.dumps({"kind": kind, "message": message}))


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; answers requests one at a time, in order."""

    def __init__(self, api: SimulatorAPI) -> None:
        self.api = api
        self.buf = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.api._conns.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.api._conns.discard(self.transport)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > 65536 and b"\r\n\r\n" not in self.buf:
            self._close()
            return
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        lines = head.split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self._close()
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        self.buf = self.buf[length:]  # bodies are not used by any GET route
        keep_alive = headers.get("connection", "").lower() != "close"
        try:
            result = self.api.handle(method, target, headers)
        except Exception:  # a bug here must look like a server error, not a hang
            logger.exception("simulator failed to answer %s %s", method, target)
            result = _error(500, "internal_error", "The simulator failed to answer.")
        self.busy = True
        delay = self.api.latency + (
            self.api.jitter * self.api._rng.random() if self.api.jitter else 0
        )
        if delay > 0 and self.api._loop is not None:
            self.api._loop.call_later(delay, self._respond, result, keep_alive)
        else:
            self._respond(result, keep_alive)

    def _respond(self, result: tuple[Any, ...], keep_alive: bool) -> None:
        self.busy = False
        transport = self.transport
        if transport is None:
            return
        if result[0] == "drop":
            self._close()
            return
        _, status, headers, body = result
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if not keep_alive:
            lines.append("Connection: close")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if result[0] == "truncate":
            transport.write(body[: len(body) // 2])
            self._close()
            return
        transport.write(body)
        if not keep_alive:
            self._close()
            return
        if self.buf:
            self._next()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


@contextlib.contextmanager
def serve(jobs: Iterable[dict[str, Any]], **options: Any) -> Iterator[SimulatorAPI]:
    """Serve ``jobs`` over HTTP on 127.0.0.1 for the duration of a ``with`` block.

    Parameters
    ----------
    jobs : iterable of dict
        Jobs to serve, e.g. from :func:`generate_history`.
    **options
        See :class:`SimulatorAPI`: ``api_key``, ``envelope``, ``list_tasks``, ``latency``,
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
