"""Adversarial pass over session 10's pin of a locked remote lake's store.

A second lock_lake on a lake this process holds (another thread, or a writer that
tries with lock_timeout=0) took the same pinned store, pinned it again, and on giving
up unpinned it: the first lock, still held, lost its pin, so a change of
AWS_ENDPOINT_URL sent its writes to another store again (the defect the pin fixed).
"""

from __future__ import annotations

import pytest

import ittybit_frames as itf
from ittybit_frames.errors import LakeLockedError
from ittybit_frames.lake import lock_lake
from ittybit_frames.lake._store import ObjectStore
from tests import test_lake_remote, test_lake_remote_config
from tests.test_lake_remote import NEW, OLD
from tests.test_lake_safety import frames_of, ids_of

# The fixtures: moto's server, a bucket per test, an S3 on 127.0.0.1 that answers 403.
s3_endpoint, s3_lake = test_lake_remote.s3_endpoint, test_lake_remote.s3_lake
refusing = test_lake_remote_config.refusing


def test_a_second_lock_that_fails_leaves_the_held_lock_pinned(
    monkeypatch: pytest.MonkeyPatch, s3_lake: str, s3_endpoint: str, refusing: str
) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)  # a second writer tries while it is held:
    with lock_lake(s3_lake) as held:
        pinned_store = ObjectStore.open(s3_lake)
        with pytest.raises(LakeLockedError), lock_lake(s3_lake, timeout=0):
            pass
        assert ObjectStore.open(s3_lake) is pinned_store
        monkeypatch.setenv("AWS_ENDPOINT_URL", refusing)
        report = itf.write_parquet(frames_of(NEW), s3_lake, lock=held)
        assert report.inserted == len(ids_of(NEW))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD) | ids_of(NEW)
    assert itf.check_lake(s3_lake).healthy
