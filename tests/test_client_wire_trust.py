"""Defects of the client's own HTTP/1.1 found after the speed work: a TLS connection left
on a closed loop, gzip of several members, encodings it cannot or need not decode, and
header names followed by whitespace. Servers are the tests' own, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import gc
import gzip
import ipaddress
import socket
import ssl
import threading
import zlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ittybit_frames as itf
from ittybit_frames.client._framing import Broken
from ittybit_frames.client._transport import BodyTooLarge, UnknownEncoding
from ittybit_frames.client._wire import WireTransport
from tests.test_client_adversarial import Raw, answer
from tests.test_client_wire import _read
from tests.test_client_wire_adversarial import _sends, _sockets_to

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _TlsServer:
    """A loopback HTTPS server answering every request ``{}``, keeping connections."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)  # a bound for a broken client, not a timing
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                while not self.stop.is_set():
                    got = b""
                    while b"\r\n\r\n" not in got:
                        piece = conn.recv(65536)
                        if not piece:
                            return
                        got += piece
                    conn.sendall(OK)
        except OSError:
            return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_an_https_connection_left_on_a_closed_loop_is_closed(tmp_path: Path) -> None:
    # The plain connection's socket is closed by hand when its loop is gone; a TLS
    # transport has no socket of its own (the one below it has), so it stayed open.
    cert, key = _certificate(tmp_path)
    server = _TlsServer(cert, key)
    try:
        transport = WireTransport(timeout=10)
        transport._tls = ssl.create_default_context(cafile=str(cert))
        url = f"https://127.0.0.1:{server.port}/jobs/a"

        async def one() -> int:
            status, _, body = await transport.exchange("GET", url, {})
            assert body == b"{}"
            return status

        assert asyncio.run(one()) == 200  # its loop closes with the connection kept
        assert _sockets_to(server.port) == 1
        asyncio.run(transport.aclose())  # from a loop of its own
        assert _sockets_to(server.port) == 0
        gc.collect()
    finally:
        server.close()


# -- content codings -----------------------------------------------------------------------
PAYLOAD = b'{"id":"job_a","tasks":[' + b'{"kind":"ingest"},' * 50 + b'{"kind":"video"}]}'


def _encoded(coding: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        coding,
        len(body),
        body,
    )


@pytest.mark.parametrize("split", [1, 5, 0])
def test_a_gzip_body_of_several_members_is_decoded_whole(split: int) -> None:
    # RFC 1952 2.2: a gzip file is a series of members; a server that gzips each piece
    # it writes sends one member a piece. Only the first was decoded.
    members = b"".join(gzip.compress(PAYLOAD[i : i + 100]) for i in range(0, len(PAYLOAD), 100))
    _, _, body = _read(_encoded(b"gzip", members), split=split)
    assert body.complete and body.whole() == PAYLOAD


def test_bytes_after_a_gzip_member_that_are_no_member_are_broken() -> None:
    with pytest.raises(Broken):
        _read(_encoded(b"gzip", gzip.compress(PAYLOAD) + b"not gzip"))


def test_a_bomb_in_the_second_member_is_refused_by_the_cap() -> None:
    bomb = gzip.compress(b"[" * (8 << 20))
    with pytest.raises(BodyTooLarge):
        _read(_encoded(b"gzip", gzip.compress(PAYLOAD) + bomb), cap=1 << 20)


def test_many_small_members_past_the_cap_are_refused() -> None:
    member = gzip.compress(b"[" * 1000)
    with pytest.raises(BodyTooLarge):
        _read(_encoded(b"gzip", member * 20), cap=4000)


@pytest.mark.parametrize(
    ("coding", "packed"),
    [
        (b"gzip, gzip", gzip.compress(gzip.compress(PAYLOAD))),  # applied in this order
        (b"deflate, gzip", gzip.compress(zlib.compress(PAYLOAD))),
        (b"identity", PAYLOAD),
        (b"Identity, GZIP", gzip.compress(PAYLOAD)),
        (b"gzip,identity", gzip.compress(PAYLOAD)),
    ],
    ids=["gzip-gzip", "deflate-gzip", "identity", "identity-gzip", "gzip-identity"],
)
def test_stacked_and_identity_codings_are_decoded(coding: bytes, packed: bytes) -> None:
    _, _, body = _read(_encoded(coding, packed), split=3)
    assert body.complete and body.whole() == PAYLOAD


@pytest.mark.parametrize("coding", [b"br", b"zstd", b"gzip, br", b"compress"])
def test_a_coding_the_client_cannot_decode_is_named(coding: bytes) -> None:
    with pytest.raises(UnknownEncoding, match=repr(coding.decode().split(", ")[-1])):
        _read(_encoded(coding, gzip.compress(PAYLOAD)))


def test_an_empty_body_in_an_unknown_coding_is_no_error() -> None:
    _, _, body = _read(_encoded(b"br", b""))
    assert body.complete and body.whole() == b""


def test_a_job_in_brotli_is_one_error_naming_it_never_retried() -> None:
    # It ended as "invalid JSON (cut short?)", a network error retried until the attempts
    # ran out, though no retry can change the coding a server chose.
    packed = b"\x1b\x01\x00\x00{}"  # any bytes (text here, not JSON): never decoded
    sends = answer(200, packed, "Content-Encoding: br")
    with Raw(_sends(sends)) as server:
        client = server.client(max_attempts=3)
        with client, pytest.raises(itf.APIError) as caught:
            client.get_job("job_a")
    message = str(caught.value)
    assert "'br'" in message and "\n" not in message
    assert not isinstance(caught.value, itf.NetworkError)
    assert len(server.paths("/jobs/job_a")) == 1


# -- header names --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line",
    [b"Content-Length : 2", b"Content-Length\t: 2", b"X-Note  : 1", b": no name"],
    ids=["space", "tab", "spaces", "empty"],
)
def test_a_header_name_with_whitespace_or_no_token_is_broken(line: bytes) -> None:
    # RFC 9112 5.1: no whitespace between a field name and its colon; a server must
    # reject such a message, and a proxy strip it: read as "Content-Length", it framed
    # the body as the server never meant to (a smuggling vector).
    with pytest.raises(Broken):
        _read(b"HTTP/1.1 200 OK\r\n%s\r\nContent-Length: 2\r\n\r\n{}" % line)


def test_header_values_keep_their_spaces_trimmed_and_names_any_token() -> None:
    _, headers, body = _read(
        b"HTTP/1.1 200 OK\r\nX-Odd_Name.1~!: \t v a l \t\r\nContent-Length:2\r\n\r\n{}"
    )
    assert headers["x-odd_name.1~!"] == "v a l" and body.whole() == b"{}"
