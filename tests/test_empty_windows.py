"""A time window that finds nothing says so, naming the span the data covers."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import generate_history

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def october() -> list[dict[str, Any]]:
    return generate_history(200, seed=3, start=START, days=30)


def test_subset_warns_with_the_span(october: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(october)
    with pytest.warns(itf.EmptyWindowWarning) as caught:
        out = frames.subset(since="2026-11-24")
    assert len(out.jobs) == 0
    message = str(caught[0].message)
    assert message.startswith(
        "no jobs created since 2026-11-24 00:00 UTC; the frames cover 2026-10-"
    )
    assert "\n" not in message
    with pytest.warns(itf.EmptyWindowWarning, match="between 2025-01-01 00:00 UTC and"):
        frames.subset(since="2025-01-01", until="2025-02-01")


def test_a_window_with_jobs_or_no_window_is_silent(october: list[dict[str, Any]]) -> None:
    frames = itf.to_frames(october)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(frames.subset(since="2026-10-10").jobs) > 0
        assert len(frames.subset(kind="audio").jobs) > 0
        empty = itf.to_frames([])
        assert len(empty.subset(since="2026-11-24").jobs) == 0  # no data at all: nothing to say


def test_relative_windows_find_jobs_in_the_default_history() -> None:
    """The default history ends now, so the README's since="7d" finds jobs."""
    frames = itf.to_frames(generate_history(500, seed=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(frames.subset(since="7d").jobs) > 0


def test_read_parquet_warns_with_the_lakes_days(
    october: list[dict[str, Any]], tmp_path: Any
) -> None:
    itf.to_frames(october).to_parquet(tmp_path / "lake")
    with pytest.warns(itf.EmptyWindowWarning) as caught:
        frames = itf.read_parquet(tmp_path / "lake", since="2026-11-24")
    assert len(frames.jobs) == 0
    assert str(caught[0].message).startswith(
        "no jobs created since 2026-11-24 00:00 UTC; the lake covers 2026-10-01 to 2026-10-3"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(itf.read_parquet(tmp_path / "lake", since="2026-10-20").jobs) > 0


def test_read_jobs_warns_with_the_newest_job_and_7d_finds_jobs(
    october: list[dict[str, Any]],
) -> None:
    from ittybit_frames.simulator import serve

    with serve(october) as api, pytest.warns(itf.EmptyWindowWarning) as caught:
        frames = itf.read_jobs(since="7d", api_key=api.api_key, base_url=api.url, progress=False)
    assert len(frames.jobs) == 0
    assert "no jobs created since" in str(caught[0].message)
    assert "the newest job the API lists was created 2026-10-3" in str(caught[0].message)
    with serve(generate_history(300, seed=2)) as api, warnings.catch_warnings():
        warnings.simplefilter("error")  # the default history ends now: the README's first snippet
        frames = itf.read_jobs(since="7d", api_key=api.api_key, base_url=api.url, progress=False)
    assert len(frames.jobs) > 0


def test_cli_export_and_sync_say_why_a_window_is_empty(
    october: list[dict[str, Any]],
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ittybit_frames.cli import main
    from ittybit_frames.simulator import serve

    with serve(october) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        assert main(["export", "--all", "--since", "7d", "--out", str(tmp_path / "x")]) == 0
        err = capsys.readouterr().err
        assert "no jobs created since" in err and "the newest job the API lists was created" in err
        assert main(["sync", str(tmp_path / "lake"), "--since", "7d"]) == 0
        err = capsys.readouterr().err
        assert "no jobs created since" in err and "2026-10-3" in err
