"""An S3 lake follows the environment it is used in: a changed ``AWS_ENDPOINT_URL`` (or
any other ``AWS_`` variable) later in the same process reaches the new store, never the
old one; and the file systems the lake keeps name no secret (in a log or a repr)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

import ittybit_frames as itf
from ittybit_frames.lake._store import ObjectStore
from tests import test_lake_remote
from tests.test_lake_remote import NEW, OLD, S3_SECRET
from tests.test_lake_remote_errors import _Refusing
from tests.test_lake_safety import frames_of, ids_of

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake


@pytest.fixture
def refusing() -> Iterator[str]:
    """An S3 of the test's own on 127.0.0.1 that knows no key (403 to every request)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
def test_a_changed_endpoint_is_where_the_next_write_goes(
    s3_lake: str,
    s3_endpoint: str,
    refusing: str,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ittybit_frames")
    itf.write_parquet(frames_of(OLD), s3_lake)  # the lake's file system is made here
    monkeypatch.setenv(variable, refusing)
    if variable == "AWS_ENDPOINT_URL":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET + "-rotated")
    # It went to moto, the endpoint the process first saw, and succeeded there.
    with pytest.raises(itf.ConfigurationError, match="InvalidAccessKeyId"):
        itf.write_parquet(frames_of(NEW), s3_lake, mode="overwrite")
    with pytest.raises(itf.ConfigurationError, match="InvalidAccessKeyId"):
        itf.read_parquet(s3_lake)
    monkeypatch.setenv(variable, s3_endpoint)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    back = itf.read_parquet(s3_lake)  # the old store again: the lake as it was
    assert set(back.jobs["job_id"]) == ids_of(OLD)
    assert itf.check_lake(s3_lake).healthy
    store = ObjectStore.open(s3_lake)
    shown = caplog.text + repr(store) + str(store) + repr(vars(store))
    assert S3_SECRET not in shown
    assert f"({variable}" in caplog.text  # the log names what changed, never its value


def test_the_same_environment_keeps_its_file_system(s3_lake: str) -> None:
    first = ObjectStore.open(s3_lake)
    assert ObjectStore.open(s3_lake).fs is first.fs  # one client (its connections) reused
