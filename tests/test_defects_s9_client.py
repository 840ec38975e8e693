"""Session 9's client defects: a very short API key blotted every letter like it out of
error text (5); closing a client from another thread gave its reader a bare
CancelledError (6)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest

import ittybit_frames as itf
from tests.conftest import SECRET
from tests.test_client_hostile import Hostile


def standing_alone(key: str) -> re.Pattern[str]:
    """``key`` as a token of its own (not inside a longer run of key characters)."""
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(key)}(?![A-Za-z0-9_-])")


def echo_key(shape: str) -> Any:
    """A server that answers 401 with the key it was sent in its message, as ``shape``."""

    def route(path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        key = headers["authorization"].removeprefix("Bearer ")
        message = shape.format(key=key) + " Ask the kind keeper of keys."
        return 401, {}, orjson.dumps({"kind": "token_invalid", "message": message})

    return route


def refused(key: str, route: Any) -> itf.AuthenticationError:
    with (
        Hostile(route) as server,
        itf.Client(key, base_url=server.url, progress=False, max_attempts=1) as client,
        pytest.raises(itf.AuthenticationError) as exc,
    ):
        client.get_job("job_1")
    return exc.value


@pytest.mark.parametrize("key", ["k", "e", "ke", "tok"])
def test_a_short_key_is_blotted_where_it_stands_alone_not_inside_words(key: str) -> None:
    """Why: key ``k`` gave 'ittybit refused the API ***ey ... (to***en_invalid)'."""
    error = refused(key, echo_key("The key {key} (Bearer {key}) is not valid."))
    for text in (str(error), repr(error), *(str(v) for v in vars(error).values())):
        assert standing_alone(key).search(text) is None, text
    text = str(error)
    assert "The key *** (Bearer ***) is not valid. Ask the kind keeper of keys." in text, text
    assert "token_invalid" in text and "refused the API key" in text, text


def test_the_simulators_answer_to_a_one_letter_key_reads_as_written(api: Any) -> None:
    with (
        itf.Client("k", base_url=api.url, progress=False) as client,
        pytest.raises(itf.AuthenticationError) as exc,
    ):
        client.get_job(api.jobs[0]["id"])
    text = str(exc.value)
    assert "***" not in text and "The API key is not valid" in text and "api_key=" in text


@pytest.mark.parametrize("shape", ["token{key}s", "Bearer{key}", "{key}{key}"])
def test_a_long_key_is_blotted_wherever_it_appears(shape: str) -> None:
    """A real key (long, per the API's ``ittybit_live_...``) is blotted inside a longer
    token too: there it is still the key."""
    error = refused(SECRET, echo_key(shape))
    assert SECRET not in f"{error}{error!r}{vars(error)}"
    assert "***" in str(error)


# --------------------------------------------------------------------------------------
# 6. A client closed from another thread: its reader gets a clear error
# --------------------------------------------------------------------------------------
class Held:
    """A route that answers the first listing page at once and holds every later request
    (a job by ID, the next page) until released, saying when one has arrived."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
        if path == "/jobs" and "after" not in query:
            return 200, {"Has-More": "true"}, orjson.dumps(JOBS)
        self.arrived.set()
        self.release.wait(60)
        return 503, {}, b'{"kind":"unavailable","message":"released"}'


JOBS = [
    {"id": f"job_c{i}", "object": "job", "kind": "video", "status": "succeeded"} for i in range(3)
]


def closed_under(read: Callable[[itf.Client], Any]) -> BaseException | None:
    """What ``read(client)``, run in a thread, raised when the client was closed from this
    thread while its request was held by the server."""
    held = Held()
    caught: list[BaseException] = []

    def reader(client: itf.Client) -> None:
        try:
            read(client)
        except BaseException as exc:  # the test looks at what it was
            caught.append(exc)

    with Hostile(held.route) as server:
        client = itf.Client(SECRET, base_url=server.url, progress=False, max_attempts=1)
        thread = threading.Thread(target=reader, args=(client,), daemon=True)
        try:
            thread.start()
            assert held.arrived.wait(60), "the reader's request never reached the server"
            client.close()
            thread.join(60)
            assert not thread.is_alive(), "the reader still waits on a closed client"
        finally:
            held.release.set()
    return caught[0] if caught else None


@pytest.mark.parametrize(
    "read",
    [
        lambda client: client.get_job("job_c9"),
        lambda client: list(client.iter_jobs()),
        lambda client: client.fetch_jobs(["job_c7", "job_c8"], errors="raise"),
    ],
    ids=["get_job", "iter_jobs", "fetch_jobs"],
)
def test_a_reader_of_a_client_closed_from_another_thread_gets_client_closed(
    read: Callable[[itf.Client], Any],
) -> None:
    """Why: the reader got a bare CancelledError (concurrent.futures'), no message."""
    error = closed_under(read)
    assert isinstance(error, itf.ClientClosedError), repr(error)
    assert isinstance(error, itf.IttybitError)
    text = str(error)
    assert "\n" not in text and "closed" in text and "new Client" in text, text
    assert error.__cause__ is None and error.__suppress_context__
