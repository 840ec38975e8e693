"""ittybit-frames: ittybit media-processing jobs as typed pandas DataFrames and Parquet.

Examples
--------
>>> import ittybit_frames as itf
>>> sorted(itf.__all__)[:3]
['APIError', 'AsyncClient', 'AuthenticationError']
"""

import logging

from ittybit_frames import metrics
from ittybit_frames.client import AsyncClient, Client, ClientStats, FetchResult
from ittybit_frames.errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    EmptyWindowWarning,
    InvalidJobIdError,
    IttybitError,
    LakeCorruptError,
    LakeError,
    LakeLockedError,
    NetworkError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    SchemaError,
    ServerError,
)
from ittybit_frames.frames import JobFrames, to_frames
from ittybit_frames.lake import WriteReport, check_lake, read_parquet, write_parquet
from ittybit_frames.loaders import read_jobs
from ittybit_frames.report import report
from ittybit_frames.schema import data_dictionary
from ittybit_frames.sync import SyncReport, sync
from ittybit_frames.version import __version__

__all__ = [
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ClientClosedError",
    "ClientStats",
    "ConfigurationError",
    "EmptyWindowWarning",
    "FetchResult",
    "InvalidJobIdError",
    "IttybitError",
    "JobFrames",
    "LakeCorruptError",
    "LakeError",
    "LakeLockedError",
    "NetworkError",
    "NotFoundError",
    "PaginationError",
    "RateLimitError",
    "SchemaError",
    "ServerError",
    "SyncReport",
    "WriteReport",
    "__version__",
    "check_lake",
    "data_dictionary",
    "metrics",
    "read_jobs",
    "read_parquet",
    "report",
    "sync",
    "to_frames",
    "write_parquet",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
