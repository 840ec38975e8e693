"""Clients for the ittybit jobs API: the only package that talks to the network.

:class:`AsyncClient` does the work on :mod:`asyncio`; :class:`Client` runs an
``AsyncClient`` on a private event-loop thread, so it works the same in a script and
inside Jupyter's running loop.

One job per module, in the manner of httpx (the transport kept apart from the client)
and dlt (one small class per pagination style):

==============  =============================================================
``_config``     the options (one typed signature for both clients), the API key,
                base URL, API version and job IDs, checked once
``_results``    :class:`FetchResult` and the :class:`ClientStats` counters
``_transport``  the transport interface, and :class:`AiohttpTransport` (the only
                aiohttp user), for whoever wants aiohttp's pool
``_framing``    HTTP/1.1 answers parsed as they arrive: head, framing, decoding, cap
``_wire``       :class:`WireTransport`, the default network: keep-alive HTTP/1.1
                connections on asyncio protocols
``_retry``      the retry policy on stamina, ``Retry-After``, the rate limiter
``_decode``     JSON bodies decoded, error answers mapped to the error tree, the
                checked jobs handed on as NDJSON (``records_of``, for ``to_frames``;
                ``ndjson_parts``, page by page as they come)
``_request``    one GET: pacing, redirects, errors, JSON, under the policy
``_paging``     one paginator per listing style, loop detection, the time window
``_walk``       the walk of the listing, the next page requested ahead
``_runtime``    the loop thread, worker pools and progress bars
``_async``      :class:`AsyncClient`, composing the above
``_sync``       :class:`Client`, the same calls from synchronous code
==============  =============================================================

Inside ``ittybit_frames`` these modules import only ``errors``, ``schema`` and
``vocabulary``.
"""

from ittybit_frames.client._async import AsyncClient
from ittybit_frames.client._config import DEFAULT_BASE_URL, check_job_id
from ittybit_frames.client._decode import ndjson_parts, records_of, to_ndjson
from ittybit_frames.client._results import ClientStats, FetchResult
from ittybit_frames.client._sync import Client
from ittybit_frames.client._transport import AiohttpTransport
from ittybit_frames.client._wire import WireTransport

__all__ = [
    "DEFAULT_BASE_URL",
    "AiohttpTransport",
    "AsyncClient",
    "Client",
    "ClientStats",
    "FetchResult",
    "WireTransport",
    "check_job_id",
    "ndjson_parts",
    "records_of",
    "to_ndjson",
]
