"""Adversarial pass, session 10: ``read_jobs`` from a notebook, as a new user calls it."""

from __future__ import annotations

from typing import Any

import pytest

import ittybit_frames as itf
from ittybit_frames.simulator import SimulatorAPI


def test_read_jobs_takes_the_filter_words_subset_and_the_cli_take(
    api: SimulatorAPI, history: list[dict[str, Any]]
) -> None:
    """``read_jobs(kind="VIDEO")`` or ``status="ready"`` (words ``subset`` and the
    CLI's ``--kind``/``--status`` take) went to the API as typed: an HTTP 400
    ``APIError`` with the request's URL; a typo (``"vidoe"``) too, and with IDs it was
    found only after every job had been fetched. The words are now checked and made
    canonical first: a typo is one ``ValueError`` line listing the words, before any
    request."""
    options: dict[str, Any] = {"api_key": api.api_key, "base_url": api.url, "progress": False}
    video = {j["id"] for j in history if j["kind"] == "video"}
    succeeded = {j["id"] for j in history if j["status"] == "succeeded"}
    assert set(itf.read_jobs(kind="VIDEO", **options).jobs["job_id"]) == video
    assert set(itf.read_jobs(status="ready", **options).jobs["job_id"]) == succeeded
    requests = len(api.requests)
    for words in ({"kind": "vidoe"}, {"status": "done"}):
        for ids in (None, [j["id"] for j in history[:50]]):
            with pytest.raises(ValueError, match="unknown") as caught:
                itf.read_jobs(ids, **words, **options)
            assert "\n" not in str(caught.value)
    assert len(api.requests) == requests  # nothing asked of the API
