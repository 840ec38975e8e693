"""Adversarial pass over session 10's filter words: ``read_jobs`` and ``export`` with a
word the package takes that the API's listing filter does not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.simulator import serve


def _odd_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history and three jobs whose kind or status is a word no version uses (the
    ``other`` category), one of each, one of both."""
    odd = []
    for i, (kind, status) in enumerate((("movie", None), (None, "paused"), ("movie", "paused"))):
        job = copy.deepcopy(history[i])
        job["id"] = f"job_odd{i}"
        job["kind"] = kind or job["kind"]
        job["status"] = status or job["status"]
        odd.append(job)
    return [*odd, *history]


# Words read_jobs and --kind/--status take (``category``) that the listing's filter does
# not (API reference 2.4: kind video...adaptive_video, status queued...cancelled).
WORDS = [{"kind": "other"}, {"status": "other"}, {"kind": "probe"}, {"kind": "speech"}]


@pytest.mark.parametrize("words", WORDS, ids=lambda w: "-".join(map(str, w.items())))
def test_read_jobs_with_a_category_the_listing_has_no_filter_for(
    history: list[dict[str, Any]], words: dict[str, str]
) -> None:
    """Why: ``read_jobs(kind="other")`` (or ``status="other"``, or a task kind such as
    ``probe``) is taken by the word check since this session, then sent to the API's
    listing as typed: an HTTP 400 ``APIError`` with the request's URL, while with
    ``ids=`` the same words select the rows ``JobFrames.subset`` selects. The listing
    is now walked without that filter and the frames subset by it."""
    jobs = _odd_history(history)
    with serve(jobs) as api:
        options: dict[str, Any] = {"api_key": api.api_key, "base_url": api.url}
        got = itf.read_jobs(progress=False, **words, **options)
        everything = itf.read_jobs(progress=False, **options)
    want = everything.subset(**words)
    assert sorted(got.jobs["job_id"]) == sorted(want.jobs["job_id"])
    assert sorted(got.tasks["task_id"]) == sorted(want.tasks["task_id"])
    if "other" in words.values():
        assert len(got.jobs) == 2  # the odd jobs of that field


def test_export_with_a_category_the_listing_has_no_filter_for(
    history: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Why: ``export --all --kind other`` passed the argument check (``other`` is a
    category) and the walk sent it to the API: HTTP 400, exit 1, nothing exported. It
    now exports the jobs of that category, as ``export --ids ... --kind other`` does."""
    jobs = _odd_history(history)
    with serve(jobs) as api:
        monkeypatch.setenv("ITTYBIT_API_KEY", api.api_key)
        monkeypatch.setenv("ITTYBIT_BASE_URL", api.url)
        for option, word, want in (
            ("--kind", "other", {"job_odd0", "job_odd2"}),
            ("--status", "other", {"job_odd1", "job_odd2"}),
        ):
            out = tmp_path / f"{option[2:]}.ndjson"
            argv = ["export", "--all", option, word, "--format", "ndjson", "--out", str(out)]
            assert main([*argv, "-q"]) == 0, capsys.readouterr().err
            got = {json.loads(line)["id"] for line in out.read_text().splitlines()}
            assert got == want
