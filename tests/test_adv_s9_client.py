"""Session 9's adversarial pass over ``ClientClosedError``: a walk whose client is closed
in the caller's own thread (between two pages), then read on, and the client used again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history, serve
from tests.conftest import SECRET, fast_client


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    with serve(generate_history(450, seed=3), api_key=SECRET) as sim:
        yield sim


def jobs_of(client: itf.Client) -> Iterator[Any]:
    return client.iter_jobs()


def pages_of(client: itf.Client) -> Iterator[Any]:
    return client.iter_pages()


def pages_ahead_of(client: itf.Client) -> Iterator[Any]:
    return client._pages_ahead()


def fetched_of(client: itf.Client, ids: list[str]) -> Iterator[Any]:
    return client._fetch_in_order(ids, [])


@pytest.mark.parametrize("walk", [jobs_of, pages_of, pages_ahead_of])
def test_a_walk_read_on_after_its_client_was_closed_says_so_and_the_client_goes_on(
    api: Any, walk: Callable[[itf.Client], Iterator[Any]]
) -> None:
    """Why: the walk's next page was read on a new loop thread (the client starts one for
    its next call), over the closed loop's listing: a bare 'RuntimeError: Event loop is
    closed'. Closing the client stops its walks; the client itself may be used again."""
    client = fast_client(api)
    walking = walk(client)
    next(walking)
    client.close()
    with pytest.raises(itf.ClientClosedError, match="make a new Client"):
        for _ in walking:
            pass
    walking.close()  # nothing left to tidy on a loop that is gone: no error
    with client:
        assert len(list(client.iter_jobs())) == len(api.jobs)


def test_an_old_walk_let_go_after_the_client_went_on_leaves_the_new_loop_alone(
    api: Any,
) -> None:
    client = fast_client(api)
    old = client.iter_jobs()
    next(old)
    client.close()
    with client:
        new = client.iter_jobs()
        first = next(new)
        old.close()  # its clean-up is not run on the new loop (its listing is not there)
        assert [first, *new] == list(client.iter_jobs())
