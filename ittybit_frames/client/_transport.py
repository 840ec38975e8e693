"""The network: httpx's transport interface over aiohttp's connection pool.

Requests are built as :class:`httpx.Request` objects and handed to an
:class:`httpx.AsyncBaseTransport`, so tests and users can swap the socket
(``transport=httpx.MockTransport(...)``). The default transport runs on aiohttp's
connection pool: measured here at 20 ms latency, httpx's own pool topped out at
200-400 requests/s, CPU-bound in its pool bookkeeping, while aiohttp keeps up with
well over 1,000 (see BENCHMARKS.md). This is the only module that imports aiohttp.
"""

from __future__ import annotations

import weakref
from typing import Any

import httpx

__all__ = ["AiohttpTransport"]


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncBaseTransport` backed by an :class:`aiohttp.ClientSession`.

    Redirects are never followed here (the client decides), bodies are read whole, and
    aiohttp's errors are translated into httpx's so callers see one exception family.
    """

    def __init__(self, *, limit: int = 100, timeout: float = 30.0) -> None:
        self._limit = limit
        self._timeout = timeout
        self._session: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp  # noqa: PLC0415

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )
            # A client never closed (common in notebooks) is still tidied up: when this
            # transport is collected, its connections are closed, so aiohttp has no
            # "Unclosed client session" to warn about. The finalizer holds the connector,
            # never self, so self can be collected.
            weakref.finalize(self, _release, connector)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            if k.lower() not in (b"host", b"content-length")
        ]
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as resp:
                body = await resp.read()
                status = resp.status
                out_headers = [
                    (k, v)
                    for k, v in resp.headers.items()
                    if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
                ]
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._timeout} s", request=request) from exc
        except aiohttp.ClientPayloadError as exc:
            raise httpx.RemoteProtocolError(f"body cut short: {exc}", request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(
                "server closed the connection", request=request
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(
                f"cannot connect: {exc.strerror or exc}", request=request
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.NetworkError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return httpx.Response(status, headers=out_headers, content=body, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _release(connector: Any) -> None:
    """Close an unclosed pool's connections at once, without waiting for the loop.

    aiohttp's ``close()`` is a coroutine, which a finalizer cannot await; its first,
    synchronous half (``_close``) closes every connection and marks the pool closed.
    """
    if not connector.closed:
        connector._close()
