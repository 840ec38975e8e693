"""An S3 lake whose store cannot be used: nothing listening at the endpoint, a missing
bucket, credentials the store refuses. Each is one line naming the lake (and the
endpoint where that is the trouble) and what to check, never a secret. Stores are
moto's server or small servers of the tests' own, on 127.0.0.1; a store at another
endpoint than moto's is used from a process of its own (the CLI's exit codes and
stderr are part of what is tested)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import ittybit_frames as itf
from tests import test_lake_remote
from tests.test_lake_remote import OLD, S3_SECRET, refusing_port, s3_environment
from tests.test_lake_safety import frames_of

s3_endpoint = test_lake_remote.s3_endpoint  # the fixtures: moto's server, a bucket per test
s3_lake = test_lake_remote.s3_lake

SRC = str(Path(__file__).resolve().parents[1])


def _cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a process of its own, with the store at ``endpoint``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3_environment(endpoint), AWS_CONFIG_FILE=os.devnull, PYTHONPATH=SRC)
    env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a bound for a hung process, not a timing
        check=False,
        cwd=SRC,
    )


def test_an_endpoint_where_nothing_listens_is_one_line_naming_it() -> None:
    # The SDK tried again and again (~7-12 s) before its own error; a connection refused
    # is known at once: one line, naming the endpoint and what to check.
    with refusing_port() as port:
        endpoint = f"http://127.0.0.1:{port}"
        for args in (["check", "s3://bucket/lake"], ["info", "s3://bucket/lake"]):
            done = _cli(endpoint, "-m", "ittybit_frames.cli", *args)
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


_REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>'
    b"<Message>The AWS Access Key Id you provided does not exist in our records.</Message>"
    b"<AWSAccessKeyId>ittybit-test-key-id</AWSAccessKeyId><RequestId>r1</RequestId></Error>"
)


class _Refusing(BaseHTTPRequestHandler):
    """An S3 that knows no key: 403 InvalidAccessKeyId to every request (a HEAD's answer
    has no body, as S3's has not), without reading a body it was not sent yet."""

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length and self.headers.get("Expect", "").lower() != "100-continue":
            self.rfile.read(length)
        body = b"" if self.command == "HEAD" else _REFUSAL
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _refuse

    def log_message(self, *args: object) -> None:
        pass


_CALLS = """
import ittybit_frames as itf
from tests.test_lake_remote import OLD
from tests.test_lake_safety import frames_of
url = "s3://bucket/lake"
for call in (
    lambda: itf.read_parquet(url),
    lambda: itf.write_parquet(frames_of(OLD), url),
    lambda: itf.check_lake(url),
):
    try:
        call()
    except Exception as exc:
        print(type(exc).__name__, "|", exc)
"""


def test_credentials_the_store_refuses_are_one_line_naming_the_lake() -> None:
    # They passed as the SDK's PermissionError ("The AWS Access Key Id you provided does
    # not exist in our records.", or "Forbidden"), naming neither the lake nor a fix.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        done = _cli(endpoint, "-c", _CALLS)
        lines = done.stdout.splitlines()
        cli = _cli(endpoint, "-m", "ittybit_frames.cli", "info", "s3://bucket/lake")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0 and len(lines) == 3, done.stdout + done.stderr
    read, write, check = lines
    for line in (read, write):
        assert line.startswith("ConfigurationError | s3://bucket/lake: "), line
        assert "InvalidAccessKeyId" in line and "AWS_SECRET_ACCESS_KEY" in line, line
    assert check.startswith("PermissionError | s3://bucket/lake: "), check
    assert "403" in check and "AWS_ACCESS_KEY_ID" in check, check
    assert cli.returncode == 2 and cli.stderr.count("\n") == 1, cli.stderr
    assert "s3://bucket/lake" in cli.stderr and "InvalidAccessKeyId" in cli.stderr
    assert S3_SECRET not in done.stdout + done.stderr + cli.stderr
