"""A listing page holding things that are not jobs: nothing is skipped without a word."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.client import AiohttpTransport
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client


class Spoiling(httpx.AsyncBaseTransport):
    """The default transport over the real socket; the ``page``-th listing answer gets
    its list of jobs (the array, or an envelope's ``data``) changed by ``spoil``."""

    def __init__(self, page: int, spoil: Any) -> None:
        self.inner = AiohttpTransport()
        self.page = page
        self.spoil = spoil
        self.listed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/jobs":
            return response
        self.listed += 1
        body = await response.aread()
        if self.listed != self.page:
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        payload = orjson.loads(body)
        if isinstance(payload, list):
            payload = self.spoil(payload)
        else:
            payload["data"] = self.spoil(payload["data"])
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, content=orjson.dumps(payload))

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_non_objects_in_a_listing_page_are_failure_rows_and_the_walk_goes_on() -> None:
    jobs = generate_history(300, seed=3)
    spoiling = Spoiling(2, lambda data: [*data[:10], 7, "job_x", None, *data[10:]])
    with serve(jobs, api_key=SECRET) as api, fast_client(api, transport=spoiling) as client:
        frames = itf.read_jobs(client=client)
        client._run(spoiling.aclose)  # a transport handed in is the caller's to close
    assert len(frames.jobs) == 300  # every job, the walk went on
    strays = frames.failures[frames.failures["kind"] == "not_a_job"]
    assert len(strays) == 3
    assert strays["message"].str.contains("not a JSON object").all()
    assert not frames.failures["job_id"].isna().any()


def test_a_listing_page_of_nothing_but_non_objects_stops_the_walk_in_one_line() -> None:
    """Before, such a page ended the walk as if the listing were over: the jobs after
    it were lost without a word."""
    jobs = generate_history(300, seed=3)
    spoiling = Spoiling(2, lambda data: list(range(len(data))))
    with serve(jobs, api_key=SECRET) as api, fast_client(api, transport=spoiling) as client:
        try:
            with pytest.raises(itf.APIError) as info:
                itf.read_jobs(client=client)
        finally:
            client._run(spoiling.aclose)
    message = str(info.value)
    assert "\n" not in message and "JSON object" in message and SECRET not in message
