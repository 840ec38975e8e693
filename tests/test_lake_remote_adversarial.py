"""Attacks on the lake in an object store (moto's S3 server on 127.0.0.1): foreign
objects shaped like the lake's, a lease object that is not one of ours, URL typos, and
a writer that lost its lease while paused (simulated at the instant it would be paused,
so each test is deterministic)."""

from __future__ import annotations

import threading
import time
import types
from pathlib import Path

import orjson
import pytest

import ittybit_frames as itf
from ittybit_frames.cli import main
from ittybit_frames.lake import lock_lake
from ittybit_frames.lake._format import JOURNAL
from ittybit_frames.lake._lease import LEASE, Lease
from ittybit_frames.lake._remote_commit import STAGING, recover
from ittybit_frames.lake._store import ObjectStore
from tests import test_lake_remote
from tests.test_lake_remote import MOVE, NEW, OLD, objects
from tests.test_lake_safety import frames_of, ids_of, spec

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake


def _lapse_lease(store: ObjectStore) -> None:
    """As if this writer's lease lapsed (its holder paused) and another took it over."""
    other = {"holder": "other", "host": "h", "pid": 2, "since": "now", "expires": 0}
    store.put(LEASE, orjson.dumps(other))


def test_overwrite_never_deletes_foreign_objects_shaped_like_partitions(s3_lake: str) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    store = ObjectStore.open(s3_lake)
    mine = ["jobs/backup/part-0.parquet", "tasks/created_date=2026-09-21/old/part-0.parquet"]
    for key in mine:
        store.put(key, b"the user's")
    itf.write_parquet(frames_of(NEW), s3_lake, mode="overwrite")
    assert [store.get(k) for k in mine] == [b"the user's"] * 2
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(NEW)
    assert JOURNAL not in store.top()


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"expires": "soon"}', b'{"expires": null}', b"[1, 2]"]
)
def test_a_lease_object_not_of_ours_is_taken_over_not_a_traceback(
    s3_lake: str, body: bytes
) -> None:
    store = ObjectStore.open(s3_lake)
    store.put(LEASE, body)
    report = itf.write_parquet(frames_of(OLD), s3_lake, lock_timeout=0)
    assert report.inserted == len(ids_of(OLD))
    assert LEASE not in store.top()


@pytest.mark.parametrize("typo", ["s3:/bucket/lake", "s3:bucket/lake", "gs:/bucket", "S3:/b/l"])
def test_a_mistyped_lake_url_is_one_line_exit_2_and_makes_no_folder(
    typo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ITTYBIT_API_KEY", "k")
    monkeypatch.setenv("ITTYBIT_BASE_URL", "http://127.0.0.1:9")
    assert main(["sync", typo]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "://" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(itf.ConfigurationError, match="mistyped"):
        itf.write_parquet(frames_of(OLD), typo)
    assert list(tmp_path.iterdir()) == []


def test_a_url_without_a_bucket_says_so(s3_lake: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "s3:///lake"]) == 2
    assert "names a bucket" in capsys.readouterr().err


def test_a_writer_paused_past_its_lease_before_the_commit_point_commits_nothing(
    s3_lake: str,
) -> None:
    """Renewed just before the commit point, then paused: meanwhile its lease lapsed, and
    the next writer took it over and removed its staging. On waking it must not commit
    (a journal without its staged objects would only delete partitions)."""
    itf.write_parquet(frames_of(OLD), s3_lake)
    store = ObjectStore.open(s3_lake)
    with lock_lake(s3_lake) as held:
        assert held.lease is not None
        confirm = held.lease.confirm

        def renewed_then_paused() -> None:
            confirm()
            _lapse_lease(store)  # ... the pause: another writer takes over and recovers
            recover(store)

        held.lease.confirm = renewed_then_paused  # type: ignore[method-assign]
        with pytest.raises(itf.LakeLockedError, match="lost the lease"):
            itf.write_parquet(frames_of(MOVE), s3_lake, lock=held)
    store.delete([LEASE])
    assert JOURNAL not in store.top()
    jobs = itf.read_parquet(s3_lake).jobs
    assert set(jobs["job_id"]) == ids_of(OLD)
    assert itf.check_lake(s3_lake).healthy


def test_a_writer_paused_before_forgetting_its_journal_leaves_the_next_ones_alone(
    s3_lake: str,
) -> None:
    """Paused after applying, before deleting its journal: the next writer took over,
    rolled it forward, and committed a journal of its own (then died). The first one,
    waking, must not delete that journal: the next one's write would be lost."""
    itf.write_parquet(frames_of(OLD), s3_lake)
    store = ObjectStore.open(s3_lake)
    later = spec({"prefix": "l", "n": 5, "days": 2})

    def killed(step: str) -> None:
        if step == "committed":
            raise KeyboardInterrupt  # as if killed just after its commit point

    def paused(step: str) -> None:
        if step == "applied":
            _lapse_lease(store)
            with pytest.raises(KeyboardInterrupt):
                itf.write_parquet(frames_of(later), s3_lake, lock_timeout=0, on_step=killed)

    itf.write_parquet(frames_of(MOVE), s3_lake, on_step=paused)
    assert JOURNAL in store.top()  # the later write's, still there to roll forward
    expected = ids_of(OLD) | ids_of(MOVE) | ids_of(later)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == expected
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), s3_lake, lock_timeout=0)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == expected | {"job_z00000"}
    assert not [k for k in objects(s3_lake) if k.startswith(STAGING)]
    assert itf.check_lake(s3_lake).healthy


def test_a_writer_whose_clock_runs_ahead_does_not_take_a_live_lease(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lock_lake(s3_lake, lease_seconds=30):  # a live writer, renewing its lease
        clock = types.SimpleNamespace(
            time=lambda: time.time() + 120,  # this writer's clock: two minutes fast
            monotonic=time.monotonic,
            sleep=time.sleep,
        )
        monkeypatch.setattr("ittybit_frames.lake._lease.time", clock)
        with pytest.raises(itf.LakeLockedError):
            itf.write_parquet(frames_of(OLD), s3_lake, lock_timeout=0.5)


def test_a_journal_put_whose_answer_was_lost_is_still_this_writes_commit(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server stored the journal but its answer was lost (a 500, a reset): the SDK's
    retry of the ``If-None-Match`` PUT then fails, as if another writer's journal were
    there. It is this write's own: the write goes on, and says it committed."""
    itf.write_parquet(frames_of(OLD), s3_lake)
    real = ObjectStore.create

    def answer_lost(self: ObjectStore, rel: str, data: bytes) -> str | None:
        first = real(self, rel, data)
        return real(self, rel, data) if rel == JOURNAL else first  # (the retry)

    monkeypatch.setattr(ObjectStore, "create", answer_lost)
    itf.write_parquet(frames_of(MOVE), s3_lake)
    monkeypatch.setattr(ObjectStore, "create", real)  # (undo() would drop the AWS_ variables)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == ids_of(OLD) | ids_of(MOVE)
    assert JOURNAL not in ObjectStore.open(s3_lake).top()
    assert itf.check_lake(s3_lake).healthy


def test_a_store_failing_after_the_commit_point_says_the_write_will_be_finished(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies failing after the journal exists (a 503 that outlasts the SDK's retries):
    the error says the write is committed and how it gets finished; readers already see
    it, and the next writer finishes it."""
    itf.write_parquet(frames_of(OLD), s3_lake)
    real = ObjectStore.copy

    def unavailable(self: ObjectStore, pairs: list[tuple[str, str]]) -> None:
        raise OSError("503 Slow Down")

    monkeypatch.setattr(ObjectStore, "copy", unavailable)
    with pytest.raises(itf.LakeError, match=r"committed.*503 Slow Down.*next write") as info:
        itf.write_parquet(frames_of(MOVE), s3_lake)
    assert "\n" not in str(info.value)
    monkeypatch.setattr(ObjectStore, "copy", real)  # (undo() would drop the AWS_ variables)
    expected = ids_of(OLD) | ids_of(MOVE)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == expected
    itf.write_parquet(frames_of(spec({"prefix": "z", "n": 1})), s3_lake, lock_timeout=0)
    assert set(itf.read_parquet(s3_lake).jobs["job_id"]) == expected | {"job_z00000"}
    assert itf.check_lake(s3_lake).healthy


def test_a_renewal_that_fails_once_is_tried_again(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal failing for a moment (a 503 past the SDK's retries, a reset) must not
    stop the renewals: the lease would lapse under a long write, which would then fail."""
    store = ObjectStore.open(s3_lake)
    lease = Lease(store, 0.3)
    lease.acquire(0)
    real = ObjectStore.replace
    calls: list[str] = []
    again = threading.Event()

    def flaky(self: ObjectStore, rel: str, data: bytes, tag: str) -> str | None:
        calls.append(rel)
        if len(calls) == 1:
            raise OSError("503 Slow Down")
        again.set()
        return real(self, rel, data, tag)

    monkeypatch.setattr(ObjectStore, "replace", flaky)
    try:
        assert again.wait(30), "no renewal after the failed one"
        lease.confirm()  # still held
    finally:
        lease.release()
    assert LEASE not in store.top()
