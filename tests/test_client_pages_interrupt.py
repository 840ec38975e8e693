"""Ctrl-C while the synchronous client waits for a page of the listing reaches the caller
as KeyboardInterrupt. The listing's generator was closed while its page was still being
cancelled on the client's loop: 'RuntimeError: aclose(): asynchronous generator is
already running' replaced the KeyboardInterrupt, about one time in two (found through
`ittybit-frames export --all`, which then ended in a traceback, exit 1)."""

from __future__ import annotations

import signal
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest

from ittybit_frames import Client
from ittybit_frames.simulator import SimulatorAPI, generate_history

HISTORY = generate_history(120, seed=5)


class _CtrlCOnPageTwo(SimulatorAPI):
    """Asked for a second page of the listing, it presses Ctrl-C in the test (SIGINT to
    the main thread) and holds the answer back until released, then drops it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listings = 0
        self.release = threading.Event()

    def handle(self, method: str, target: str, headers: dict[str, str]) -> Any:
        if urlsplit(target).path == "/jobs":
            self.listings += 1
            if self.listings >= 2:
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                self.release.wait(20)  # the client hangs up first, or the test ends
                return ("drop",)
        return super().handle(method, target, headers)


def _walk(client: Client) -> None:
    for _ in client.iter_jobs(page_size=50):
        pass


@pytest.mark.parametrize("attempt", range(6))
def test_ctrl_c_while_a_page_is_awaited_is_a_keyboard_interrupt(attempt: int) -> None:
    api = _CtrlCOnPageTwo(HISTORY).start()
    try:
        client = Client(api_key=api.api_key, base_url=api.url, timeout=30, max_attempts=3)
        with pytest.raises(KeyboardInterrupt):
            _walk(client)
        assert api.listings >= 2
        client.close()
    finally:
        api.release.set()
        api.stop()
