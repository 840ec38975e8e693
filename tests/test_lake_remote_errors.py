"""An S3 lake whose store cannot be used: nothing listening at the endpoint, a missing
bucket, credentials the store refuses. Each is one line naming the lake (and the
endpoint where that is the trouble) and what to check, never a secret. Stores are
moto's server or small servers of the tests' own, on 127.0.0.1; a store at another
endpoint than moto's is used from a process of its own (a process keeps one S3 file
system, made from the environment it first saw)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import ittybit_frames as itf
from tests import test_lake_remote
from tests.test_lake_remote import OLD, S3_SECRET, s3_environment
from tests.test_lake_safety import frames_of

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake

SRC = str(Path(__file__).resolve().parents[1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ittybit-frames ARGS`` in a process of its own, with the store at ``endpoint``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3_environment(endpoint), AWS_CONFIG_FILE=os.devnull, PYTHONPATH=SRC)
    env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    return subprocess.run(
        [sys.executable, "-m", "ittybit_frames.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a bound for a hung process, not a timing
        check=False,
    )


def test_an_endpoint_where_nothing_listens_is_one_line_naming_it() -> None:
    # The SDK tried again and again (~7-12 s) before its own error; a connection refused
    # is known at once: one line, naming the endpoint and what to check.
    endpoint = f"http://127.0.0.1:{_free_port()}"
    for args in (["check", "s3://bucket/lake"], ["info", "s3://bucket/lake"]):
        done = _cli(endpoint, *args)
        err = done.stderr
        assert done.returncode == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "s3://bucket/lake" in err and f"{endpoint} refused the connection" in err
        assert "AWS_ENDPOINT_URL" in err and S3_SECRET not in err


def test_a_missing_bucket_names_the_lake_and_the_bucket(s3_lake: str) -> None:
    # A write said "The specified bucket does not exist", naming neither.
    missing = s3_lake.replace("s3://", "s3://no-such-")
    with pytest.raises(FileNotFoundError) as caught:
        itf.write_parquet(frames_of(OLD), missing)
    bucket = missing.split("/")[2]
    message = str(caught.value)
    assert missing in message and f"bucket {bucket!r} does not exist" in message
    assert "\n" not in message
