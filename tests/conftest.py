"""Shared fixtures: a small simulated history and a simulator on a loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ittybit_frames import Client
from ittybit_frames.simulator import SimulatorAPI, generate_history, serve

SECRET = "ittybit_live_TOPSECRET_0123456789"


@pytest.fixture(scope="session")
def history() -> list[dict[str, Any]]:
    return generate_history(400, seed=7)


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
