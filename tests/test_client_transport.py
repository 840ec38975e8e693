"""AiohttpTransport, the optional pool: answers read as the client's own transport reads
them. Servers are the tests' own, on 127.0.0.1."""

from __future__ import annotations

from ittybit_frames.client import AiohttpTransport
from tests.test_client_adversarial import Raw
from tests.test_client_wire_adversarial import _two_link_lines


def test_a_next_link_in_a_second_link_line_is_followed_through_aiohttp() -> None:
    # RFC 9110 5.3: field lines of one name are one list. aiohttp's headers give the
    # first line alone to get(): the listing ended after page one, jobs silently missing.
    transport = AiohttpTransport(timeout=30)
    with Raw(_two_link_lines) as server, server.client(transport=transport) as client:
        try:
            got = [j["id"] for j in client.iter_jobs(page_size=2)]
        finally:
            client._run(transport.aclose)
    assert got == ["job_a", "job_b", "job_c"]


def test_aiohttp_headers_keep_other_repeated_fields_as_they_came() -> None:
    transport = AiohttpTransport(timeout=30)
    with Raw(_two_link_lines) as server, server.client(transport=transport) as client:
        try:
            status, headers, _ = client._run(
                lambda: transport.exchange("GET", f"{server.url}/jobs?n=0", {})
            )
        finally:
            client._run(transport.aclose)
    assert status == 200
    assert headers["LINK"] == '</jobs?n=0>; rel="first", </jobs?n=1>; rel="next"'
    assert headers.get("content-type") == "application/json"
