"""Shared fixtures: a small simulated history and a simulator on a loopback socket."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from ittybit_frames import Client
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve

SECRET = "ittybit_live_TOPSECRET_0123456789"

# Property tests draw the same examples on every run (derived from each test), so a green
# suite stays green and CI never fails on a draw of luck. To search further, as before a
# release or after touching the conversion: ITTYBIT_HYPOTHESIS=explore draws new examples
# each run (CONTRIBUTING.md).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("ITTYBIT_HYPOTHESIS", "ci"))


@pytest.fixture(scope="session")
def history() -> list[dict[str, Any]]:
    # A fixed end: a history that ends "now" would differ from one test run to the next.
    return generate_history(400, seed=7, end=dt.datetime(2026, 11, 30, 15, 37, tzinfo=dt.UTC))


@pytest.fixture
def api(history: list[dict[str, Any]]) -> Iterator[SimulatorAPI]:
    with serve(history, api_key=SECRET) as sim:
        yield sim


def fast_client(api: SimulatorAPI, **options: Any) -> Client:
    """A client for the simulator with short backoffs (tests never wait for luck)."""
    options.setdefault("progress", False)
    options.setdefault("backoff_initial", 0.001)
    options.setdefault("backoff_max", 0.01)
    return Client(api.api_key, base_url=api.url, **options)


def interrupted_first_sync(
    lake: Path, api: SimulatorAPI, monkeypatch: pytest.MonkeyPatch, since: str
) -> None:
    """``sync(since=since)`` stopped by Ctrl-C after two pages (a checkpoint is saved)."""
    import ittybit_frames as itf
    from ittybit_frames.lake import read_manifest

    real_pages = Client._pages_ahead

    def ctrl_c_after_two_pages(self: Client, **options: Any) -> Iterator[Any]:
        for n, page in enumerate(real_pages(self, **options)):
            if n == 2:
                raise KeyboardInterrupt
            yield page

    with monkeypatch.context() as patch:
        patch.setattr(Client, "_pages_ahead", ctrl_c_after_two_pages)
        with fast_client(api) as client, pytest.raises(KeyboardInterrupt):
            itf.sync(lake, client=client, since=since, batch_jobs=50)
    assert "*" in read_manifest(lake)["sync"]["walks"]  # interrupted after a checkpoint


class StillClock:
    """A monotonic clock that stands still for its first ``readings`` readings, then runs
    on from there as the real one. As the simulator's rate-limit clock (see
    :func:`still_rate_limit_clock`) it makes a burst over the limit certain, however
    slowly a loaded machine sends the requests."""

    def __init__(self, readings: int) -> None:
        self.readings = readings
        self.start = time.monotonic()
        self._resumed: float | None = None

    def monotonic(self) -> float:
        if self.readings > 0:
            self.readings -= 1
            return self.start
        if self._resumed is None:
            self._resumed = time.monotonic()
        return self.start + time.monotonic() - self._resumed


def still_rate_limit_clock(monkeypatch: pytest.MonkeyPatch, readings: int) -> StillClock:
    """The simulator's server-side rate limit (its token bucket) reads ``StillClock(readings)``
    instead of the real clock: one reading when a server is made, then one per request.
    Call before ``serve``."""
    clock = StillClock(readings)
    fake = types.SimpleNamespace(monotonic=clock.monotonic, time=time.time)
    monkeypatch.setattr("ittybit_frames.simulator._faults.time", fake)
    return clock


def cli_sync(lake: Path, api: SimulatorAPI, *extra: str) -> subprocess.Popen[bytes]:
    """``ittybit-frames sync LAKE`` in its own process, pointed at the simulator."""
    env = {**os.environ, "ITTYBIT_API_KEY": api.api_key, "ITTYBIT_BASE_URL": api.url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ittybit_frames.cli",
            "sync",
            str(lake),
            "--batch-jobs",
            "100",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(autouse=True)
def _ctrl_c_as_at_a_prompt() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in every test, as at an interactive prompt. A
    suite started in the background by a shell without job control (``cmd &``) inherits
    SIGINT ignored, and PySpark's context leaves a handler of its own behind: the tests
    that press Ctrl-C (SIGINT to the main thread) then waited for a KeyboardInterrupt
    that never came. Put back as it was after the test."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """In-process CLI runs configure logging (as the CLI must); put it back after each
    test so that a later test's caplog sees what the library logs."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    # Libraries that configure logging (logging.config with disable_existing_loggers)
    # may silence ours; the CLI sets our levels. Neither may leak into the next test.
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(("ittybit_frames", "stamina")):
            logger.setLevel(logging.NOTSET)
            logger.disabled = False
            logger.propagate = True


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark per test process: a JVM start costs 10-20 s, so the Spark tests
    of every module share it."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    # Loopback only: without this Spark picks the machine's first non-loopback address.
    previous = os.environ.get("SPARK_LOCAL_IP")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"

    session = (
        SparkSession.builder.master("local[1]")
        .appName("ittybit-frames-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if previous is None:
        os.environ.pop("SPARK_LOCAL_IP", None)
    else:
        os.environ["SPARK_LOCAL_IP"] = previous
