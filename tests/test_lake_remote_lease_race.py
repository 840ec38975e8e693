"""The lease on S3 when its holder lets go at the worst instant: between a waiting
writer's read of the lease and its conditional replace (CI saw the second of two live
writers crash with ``FileNotFoundError: The specified key does not exist``)."""

from __future__ import annotations

import time
from typing import Any

import orjson

import ittybit_frames as itf
from ittybit_frames.lake._lease import LEASE, Lease
from ittybit_frames.lake._store import ObjectStore
from tests import test_lake_remote
from tests.test_lake_remote import OLD
from tests.test_lake_safety import frames_of, ids_of

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake


def test_a_conditional_replace_of_an_object_gone_meanwhile_is_a_lost_race(s3_lake: str) -> None:
    store = ObjectStore.open(s3_lake)
    tag = store.create(LEASE, b"{}")
    assert tag is not None
    store.delete([LEASE])  # its holder released it
    assert store.replace(LEASE, b"{}", tag) is None  # not the version read: changed
    assert store.get_tagged(LEASE) is None  # and nothing was written


class _ReleasedAfterRead:
    """A store whose lease's holder lets go right after a waiting writer read it."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get_tagged(self, rel: str) -> Any:
        found = self._store.get_tagged(rel)
        if rel == LEASE and found is not None:
            self._store.delete([LEASE])
        return found


def test_a_lease_released_between_read_and_takeover_is_taken_cleanly(s3_lake: str) -> None:
    store = ObjectStore.open(s3_lake)
    live = {"holder": "x", "host": "busy-host", "pid": 1, "since": "now", "seconds": 60.0}
    live["expires"] = time.time() + 60
    store.put(LEASE, orjson.dumps(live))
    lease = Lease(_ReleasedAfterRead(store), 60.0)  # type: ignore[arg-type]
    lease.acquire(timeout=30)  # the next try creates it
    try:
        assert orjson.loads(store.get_tagged(LEASE)[0])["holder"] == lease.holder  # type: ignore[index]
    finally:
        lease.release()
    itf.write_parquet(frames_of(OLD), s3_lake, lock_timeout=0)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD)
