"""Progress bars: a total and ETA where the total is known, the span reached on listings,
retries and waits on the bar as they happen."""

from __future__ import annotations

import re

import pytest

from ittybit_frames.simulator import SimulatorAPI
from tests.conftest import fast_client


def test_fetch_by_ids_shows_total_and_retries(
    api: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [job["id"] for job in api.jobs[:40]]
    api.inject("503", "503")
    # The client's own rate limit makes it wait (the injected 503s ask for no wait).
    with fast_client(api, progress=True, concurrency=4, rate_limit=200) as client:
        result = client.fetch_jobs(ids)
    assert len(result.jobs) == 40
    err = capsys.readouterr().err
    assert re.search(r"fetching jobs: 100%.*40/40", err)  # a total, so tqdm shows an ETA
    assert "2 retries" in err and "waited" in err


def test_listing_shows_how_far_it_has_reached(
    api: SimulatorAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    with fast_client(api, progress=True) as client:
        jobs = list(client.iter_jobs(page_size=50))
    assert len(jobs) == len(api.jobs)
    err = capsys.readouterr().err
    reached = re.findall(r"reached (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC", err)
    assert reached  # the span covered so far, where no total is known
    oldest = min(j["created_at"] for j in api.jobs)
    import datetime as dt

    assert reached[-1] == f"{dt.datetime.fromtimestamp(oldest / 1000, dt.UTC):%Y-%m-%d %H:%M}"


def test_no_bar_when_progress_is_off(api: SimulatorAPI, capsys: pytest.CaptureFixture[str]) -> None:
    with fast_client(api, progress=False) as client:
        client.fetch_jobs([job["id"] for job in api.jobs[:5]])
    assert capsys.readouterr().err == ""


def test_the_note_is_rebuilt_only_when_it_changes() -> None:
    """The bar is updated once per job: its note (retries, waits) is set again only when
    what it says has changed, not thousands of times with the same text."""
    from ittybit_frames.client._results import ClientStats
    from ittybit_frames.client._runtime import Progress

    notes: list[str] = []

    class Bar:
        def set_postfix_str(self, text: str, refresh: bool = True) -> None:
            notes.append(text)

        def update(self, n: int = 1) -> None:
            pass

    stats = ClientStats()
    bar = Progress(Bar(), stats)
    for _ in range(50):
        bar.update(1)
    stats.retries = 1
    for _ in range(50):
        bar.update(1)
    stats.retries, stats.waited_seconds = 2, 1.23
    for _ in range(50):
        bar.update(1)
    assert notes == ["1 retry", "2 retries, waited 1.2 s"]
