"""The lake on S3: the same writes and reads as on local disk, against moto's S3 server
started on 127.0.0.1 (a bucket per test), with the same results."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ittybit_frames as itf
from tests.frames_equal import assert_frame_equal
from tests.test_lake_safety import frames_of, ids_of, spec

#: The secret key every remote test runs with: asserted to appear nowhere.
S3_SECRET = "ittybit-test-S3-SECRET-4d1f0a77"
_BUCKETS = itertools.count()
# Small lakes (each partition is a few requests to the server): 40 jobs on 4 days; then
# 20 of them updated, most moving to another day (days=3), and 10 new: 50 jobs.
OLD = spec({"prefix": "o", "n": 40, "days": 4})
MOVE = spec(
    {"prefix": "o", "n": 20, "days": 3, "version": 1},
    {"prefix": "m", "n": 10, "days": 2, "shift": 5},
)
NEW = spec({"prefix": "n", "n": 30, "days": 3, "shift": 2})


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port where nothing listens, held for the block: bound, never listening,
    so a connection is refused, and no other process can take the port meanwhile (a port
    found free and let go could be taken by the next server started on the machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    # Port 0: the server binds a free port itself (a port found free first, then bound,
    # could be taken meanwhile by another suite's server on the same machine).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_environment(endpoint: str) -> dict[str, str]:
    """The standard AWS variables pointing at the local server (nothing of ours)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "ittybit-test-key-id",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture
def s3_lake(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://BUCKET/lake`` in a new bucket of the local server."""
    import boto3

    for name, value in s3_environment(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"lake-{os.getpid()}-{next(_BUCKETS)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/lake"


def objects(url: str) -> list[str]:
    """Every object under a lake URL, relative to it."""
    import s3fs

    base = url.removeprefix("s3://")
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    return sorted(k[len(base) + 1 :] for k in fs.find(base))


def same_as_on_disk(url: str, folder: Path, *writes: tuple[dict[str, Any], str]) -> itf.JobFrames:
    """Run ``writes`` (spec, mode) on the bucket and in ``folder``: the same frames."""
    for what, mode in writes:
        remote = itf.write_parquet(frames_of(what), url, mode=mode)  # type: ignore[arg-type]
        local = itf.write_parquet(frames_of(what), folder, mode=mode)  # type: ignore[arg-type]
        for name in ("inserted", "updated", "unchanged", "jobs_written", "partitions"):
            assert getattr(remote, name) == getattr(local, name), name
    on_disk = itf.read_parquet(folder)
    back = itf.read_parquet(url)
    assert_frame_equal(back.jobs, on_disk.jobs)
    assert_frame_equal(back.tasks, on_disk.tasks)
    return back


def test_merge_moves_jobs_across_partitions_as_on_disk(s3_lake: str, tmp_path: Path) -> None:
    back = same_as_on_disk(s3_lake, tmp_path, (OLD, "merge"), (MOVE, "merge"), (MOVE, "merge"))
    assert len(back.jobs) == 50 and back.jobs["job_id"].is_unique
    assert set(back.tasks["job_id"]) == set(back.jobs["job_id"])
    left = objects(s3_lake)
    assert not [k for k in left if "staging" in k or "journal" in k or "lease" in k], left
    assert "jobs/.ittybit_frames.table" in left and "_ittybit_frames.index.parquet" in left
    assert itf.check_lake(s3_lake).healthy


def test_overwrite_and_append_as_on_disk(s3_lake: str, tmp_path: Path) -> None:
    back = same_as_on_disk(s3_lake, tmp_path, (OLD, "merge"), (NEW, "overwrite"))
    assert set(back.jobs["job_id"]) == ids_of(NEW)
    days = {k.split("/")[1] for k in objects(s3_lake) if k.startswith("jobs/created")}
    assert days == {f"created_date={d:%Y-%m-%d}" for d in back.jobs["created_at"]}
    more = spec({"prefix": "p", "n": 5, "days": 2})
    back = same_as_on_disk(s3_lake, tmp_path, (more, "append"))
    assert len(back.jobs) == 35


def test_read_filters_and_file_urls(s3_lake: str, tmp_path: Path) -> None:
    itf.write_parquet(frames_of(OLD), s3_lake)
    window = itf.read_parquet(s3_lake, since="2026-09-22", until="2026-09-24")
    assert len(window.jobs) == 20 and set(window.tasks["job_id"]) == set(window.jobs["job_id"])
    files = itf.lake.data_files(s3_lake, "jobs", since_ms=None)
    assert len(files) == 4 and all(f.startswith(s3_lake + "/jobs/created_date=") for f in files)
    itf.write_parquet(frames_of(OLD), (tmp_path / "x").as_uri())  # file:// is a folder
    assert len(itf.read_parquet(tmp_path / "x").jobs) == 40


def test_pyarrow_and_polars_read_the_bucket_in_place(s3_lake: str, s3_endpoint: str) -> None:
    import polars as pl
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    itf.write_parquet(frames_of(OLD), s3_lake)
    itf.write_parquet(frames_of(MOVE), s3_lake)
    bucket_prefix = s3_lake.removeprefix("s3://")
    s3 = pafs.S3FileSystem(
        access_key="ittybit-test-key-id",
        secret_key=S3_SECRET,
        endpoint_override=s3_endpoint,
        region="us-east-1",
        allow_bucket_creation=False,
    )
    jobs = ds.dataset(
        f"{bucket_prefix}/jobs", filesystem=s3, format="parquet", partitioning="hive"
    ).to_table()
    assert jobs.num_rows == 50 and len(set(jobs["job_id"].to_pylist())) == 50
    options = {
        "aws_endpoint_url": s3_endpoint,
        "aws_access_key_id": "ittybit-test-key-id",
        "aws_secret_access_key": S3_SECRET,
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    tasks = pl.scan_parquet(
        f"{s3_lake}/tasks/created_date=*/part-0.parquet", storage_options=options
    ).collect()
    assert tasks.height == 50 and tasks["job_id"].n_unique() == 50


def test_urls_refuse_credentials_and_unknown_schemes(s3_lake: str) -> None:
    bucket = s3_lake.removeprefix("s3://").split("/")[0]
    with pytest.raises(itf.ConfigurationError, match="carries no credentials") as info:
        itf.read_parquet(f"s3://AKIA:{S3_SECRET}@{bucket}/lake")
    assert S3_SECRET not in str(info.value)
    with pytest.raises(itf.ConfigurationError, match="unknown lake URL scheme"):
        itf.read_parquet("ftp://host/lake")
    with pytest.raises(FileNotFoundError, match="no lake at s3://"):
        itf.read_parquet(f"s3://{bucket}/nothing-here")
