"""A synthetic ittybit: realistic job history and a local HTTP server that serves it.

Tests, the demo, notebooks and benchmarks all talk to this simulator over a real
loopback socket, so nothing needs an API key or the internet.

Examples
--------
>>> from ittybit_frames import Client
>>> from ittybit_frames.simulator import generate_history, serve
>>> with serve(generate_history(50)) as api:
...     with Client(api.api_key, base_url=api.url, progress=False) as client:
...         len(list(client.iter_jobs()))
50
"""

from ittybit_frames.simulator._faults import Faults
from ittybit_frames.simulator._history import DEFAULT_START, generate_history, scheduled_incidents
from ittybit_frames.simulator._queue import Incident
from ittybit_frames.simulator._server import DEFAULT_API_KEY, RequestRecord, SimulatorAPI, serve

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_START",
    "Faults",
    "Incident",
    "RequestRecord",
    "SimulatorAPI",
    "generate_history",
    "scheduled_incidents",
    "serve",
]
