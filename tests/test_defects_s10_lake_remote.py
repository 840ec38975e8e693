"""Session 10's remote lake defect 5: a lake's lock held across a change of the
environment that configures its store (``AWS_ENDPOINT_URL`` changed while held).

The decision: the lock pins the store it was taken on (endpoint and credentials) for
that lake until it is released, for every use of the lake in the process (the writes
under it, the manifest, the lease's renewals); the changed environment applies from the
release on. Before, the lease was renewed on the old endpoint while a write under the
lock went to the new one, where no lease protected it.
"""

from __future__ import annotations

import pytest

import ittybit_frames as itf
from ittybit_frames.lake import lock_lake
from ittybit_frames.lake._lease import LEASE
from ittybit_frames.lake._store import ObjectStore
from tests import test_lake_remote, test_lake_remote_config
from tests.test_lake_remote import NEW, OLD
from tests.test_lake_safety import frames_of, ids_of

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake
refusing = test_lake_remote_config.refusing  # an S3 on 127.0.0.1 that answers 403


def test_a_lock_pins_the_store_it_was_taken_on_until_released(
    s3_lake: str, s3_endpoint: str, refusing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    with lock_lake(s3_lake) as held:
        assert held.lease is not None
        taken = ObjectStore.open(s3_lake).get_tagged(LEASE)
        monkeypatch.setenv("AWS_ENDPOINT_URL", refusing)
        report = itf.write_parquet(frames_of(NEW), s3_lake, lock=held)
        assert report.inserted == len(ids_of(NEW))
        held.lease.confirm()  # renewed where it was taken
        renewed = ObjectStore.open(s3_lake).get_tagged(LEASE)
        assert taken is not None and renewed is not None and renewed[1] != taken[1]
        assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD) | ids_of(NEW)
    # Released: the environment as it is now applies again.
    with pytest.raises(itf.ConfigurationError, match="InvalidAccessKeyId"):
        itf.read_parquet(s3_lake)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD) | ids_of(NEW)
    assert ObjectStore.open(s3_lake).get(LEASE) is None  # released where it was taken
    assert itf.check_lake(s3_lake).healthy
