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
    with fast_client(api, progress=True, concurrency=4) as client:
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
