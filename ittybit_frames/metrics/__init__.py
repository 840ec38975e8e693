"""The standard questions about a job history, one function each.

Pure pandas/numpy over the frames of :func:`ittybit_frames.to_frames` (or
:func:`ittybit_frames.read_parquet`): no I/O, no plotting. Every function returns a tidy
DataFrame and never changes its input.
"""

from __future__ import annotations

from ittybit_frames.metrics._common import ENCODE_KINDS
from ittybit_frames.metrics._durations import (
    duration_summary,
    latency_over_time,
    realtime_factor,
    sla,
    stage_breakdown,
    stuck,
)
from ittybit_frames.metrics._incidents import INCIDENT_COLUMNS, incidents
from ittybit_frames.metrics._outcomes import by_customer, failure_causes, failure_rate, top_errors
from ittybit_frames.metrics._outcomes import normalise_error as normalise_error
from ittybit_frames.metrics._time import Grain, grain
from ittybit_frames.metrics._volume import backlog, in_flight, throughput

__all__ = [
    "ENCODE_KINDS",
    "INCIDENT_COLUMNS",
    "Grain",
    "backlog",
    "by_customer",
    "duration_summary",
    "failure_causes",
    "failure_rate",
    "grain",
    "in_flight",
    "incidents",
    "latency_over_time",
    "realtime_factor",
    "sla",
    "stage_breakdown",
    "stuck",
    "throughput",
    "top_errors",
]
