"""ittybit-frames: ittybit media-processing jobs as typed pandas DataFrames and Parquet.

Examples
--------
>>> import ittybit_frames as itf
>>> sorted(itf.__all__)[:3]
['APIError', 'AsyncClient', 'AuthenticationError']
"""

import logging

from ittybit_frames.client import AsyncClient, Client, ClientStats, FetchResult
from ittybit_frames.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InvalidJobIdError,
    IttybitError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    SchemaError,
    ServerError,
)

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ClientStats",
    "ConfigurationError",
    "FetchResult",
    "InvalidJobIdError",
    "IttybitError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "SchemaError",
    "ServerError",
    "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
