"""HTTP/1.1 answers as bytes arrive: the head parsed, the body framed, decoded and capped.

Pure parsing for :mod:`~ittybit_frames.client._wire`, which owns the sockets: an answer's
body is framed by ``Content-Length``, by chunks or by the connection's end, perhaps gzip-
or deflate-encoded, and refused (:class:`BodyTooLarge`) as soon as it passes the cap.
"""

from __future__ import annotations

import zlib
from typing import Any

from ittybit_frames.client._transport import BodyTooLarge, UnknownEncoding

__all__ = ["AnswerHeaders", "Body", "Broken", "read_head"]

_NO_BODY = frozenset({204, 304})
#: Headers whose repeated lines are joined into one list; any other keeps its first value.
_LISTS = frozenset({"link", "connection", "transfer-encoding"})
_FOLD = (" ", "\t")
_CODINGS = frozenset({"gzip", "x-gzip", "deflate"})


class Broken(Exception):
    """The answer breaks HTTP framing or its encoding (a network error, retried)."""


class AnswerHeaders(dict[str, str]):
    """An answer's headers, names lower-cased; looked up without regard to case. A name
    sent twice keeps its first value, as aiohttp's ``get`` gives, except the lists named
    in ``_LISTS``, joined with ", " as httpx joins them."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)


def read_head(head: bytes, cap: int | None) -> tuple[int, AnswerHeaders, Body]:
    """The status, the headers and a reader for the body of an answer's ``head`` (the
    bytes before its blank line).

    Raises
    ------
    Broken
        Not an HTTP/1.x answer, a malformed header line, an impossible length.
    """
    # As aiohttp reads them: UTF-8, and bytes that are not are kept as surrogates (a
    # redirect to such a Location is then refused as not text, never guessed at).
    text = head.decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if (
        not version.startswith("HTTP/1.")
        or not _digits(code)
        or rest[3:4] not in ("", " ")
        or not 100 <= int(code) <= 599
    ):
        raise Broken(f"not an HTTP answer: {lines[0][:40]!r}")
    # RFC 9112 5.1: no whitespace between a field name and its colon (nor no name); a
    # line is checked only where the head has such a pair at all (values may, rarely).
    fields = _fields(lines[1:], " :" in text or "\t:" in text or "\n:" in text)
    status = int(code)
    keep_alive = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    length: int | None = None
    if "chunked" in fields.get("transfer-encoding", "").lower():
        framing = "chunked"
        # A length too is a sign of smuggling (RFC 9112 6.3): read the chunks, then close.
        keep_alive = keep_alive and "content-length" not in fields
    elif status in _NO_BODY or 100 <= status < 200:
        framing, length = "length", 0
    elif "content-length" in fields:
        if not _digits(fields["content-length"]):  # int() takes "+1", "1_0", "\u0661"
            raise Broken("a Content-Length that is not a number of bytes")
        framing, length = "length", int(fields["content-length"])
    else:
        framing, keep_alive = "close", False
    headers = AnswerHeaders(fields)
    body = Body(framing, length, headers.get("content-encoding", "identity"), cap)
    body.keep_alive = keep_alive
    return status, headers, body


def _fields(lines: list[str], suspect: bool = True) -> dict[str, str]:
    """Header lines by lower-cased name. A name sent twice keeps its first value, but
    the lists of ``_LISTS`` are joined (RFC 9110 5.3: a second Link line may hold
    rel="next") and two different Content-Lengths are broken; a line starting with a
    space or tab continues the one before (RFC 9112 5.2)."""
    fields: dict[str, str] = {}
    last: str | None = None  # the field a folded line continues (None: one not kept)
    for line in lines:
        if line[:1] in _FOLD:
            if not fields:
                raise Broken(f"a malformed header line: {line[:40]!r}")
            if last is not None:
                fields[last] = f"{fields[last]} {line.strip()}".strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or (suspect and (not name or name[-1] in _FOLD)):  # "Name :", ": x"
            raise Broken(f"a malformed header line: {line[:40]!r}")
        name, value = name.lower(), value.strip()
        if name not in fields:
            fields[name], last = value, name
        elif name in _LISTS:
            fields[name], last = f"{fields[name]}, {value}", name
        elif name == "content-length" and fields[name] != value:
            raise Broken("two different Content-Length headers")
        else:
            last = None
    return fields


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


class Body:
    """One answer's body as it arrives: framed, decoded, checked against the cap.

    Parameters
    ----------
    framing : {"length", "chunked", "close"}
        How its end is known.
    length : int or None
        Its ``Content-Length`` (framing ``"length"``).
    encoding : str
        Its ``Content-Encoding``: gzip and deflate are decoded, stacked too ("gzip, gzip"),
        identity is nothing to decode, anything else refused (:class:`UnknownEncoding`)
        as soon as the body has a byte.
    cap : int or None
        Most bytes (decoded) accepted.
    """

    def __init__(self, framing: str, length: int | None, encoding: str, cap: int | None) -> None:
        self.framing, self.announced, self.cap = framing, length, cap
        self.left = length or 0  # bytes of the body (or of the current chunk) to come
        self.chunk_state = "size"
        self.buf = bytearray()
        self.parts: list[bytes] = []
        self.size = 0
        self.complete = framing == "length" and self.left == 0
        self.keep_alive = True
        self.unknown: str | None = None
        self.inflate: list[_Inflater] = []
        if encoding != "identity":  # what an answer without the header says
            # Codings in the order they were applied (RFC 9110 8.4): undone from the last.
            codings = [c.strip().lower() for c in reversed(encoding.split(","))]
            codings = [c for c in codings if c not in ("", "identity")]
            self.unknown = next((c for c in codings if c not in _CODINGS), None)
            self.inflate = [_Inflater(c, cap) for c in codings]

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the connection.

        Raises
        ------
        Broken
            Bad chunk framing, or a body its encoding cannot decode.
        BodyTooLarge
            The body passed the cap.
        """
        if self.complete:
            self.keep_alive = self.keep_alive and not data  # bytes nobody asked for
            return
        if self.framing == "length":
            if len(data) > self.left:
                data, self.keep_alive = data[: self.left], False
            self.left -= len(data)
            self._keep(data)
            if self.left == 0:
                self.end()
        elif self.framing == "chunked":
            self.buf += data
            self._chunks()
        else:
            self._keep(data)

    def end(self) -> None:
        """The body is whole (its length reached, its last chunk, or the connection's end).

        Raises
        ------
        Broken
            A compressed stream that stops before its end.
        """
        for inflater in self.inflate:
            inflater.end()
        self.complete = True

    def whole(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)

    def _chunks(self) -> None:
        buf = self.buf
        while not self.complete:
            if self.chunk_state == "data":
                if not buf:
                    return
                piece = bytes(buf[: self.left])
                del buf[: len(piece)]
                self.left -= len(piece)
                self._keep(piece)
                if self.left == 0:
                    self.chunk_state = "crlf"
                continue
            if self.chunk_state == "crlf":
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    raise Broken("a chunk longer than announced")
                del buf[:2]
                self.chunk_state = "size"
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 4096:
                    raise Broken("a chunk size line over 4 kB")
                return
            line = bytes(buf[:end])
            del buf[: end + 2]
            if self.chunk_state == "trailer":
                if not line:
                    self.end()
                continue
            size = line.split(b";", 1)[0].strip()
            if not size or size.strip(b"0123456789abcdefABCDEF"):
                raise Broken(f"a chunk size that is not hexadecimal: {size[:20]!r}")
            self.left = int(size, 16)
            self.chunk_state = "data" if self.left else "trailer"
        if buf:  # bytes after the last chunk, nobody asked for: the framing is not trusted
            self.keep_alive = False

    def _keep(self, data: bytes) -> None:
        if not data:
            return
        if self.inflate or self.unknown:  # not identity
            data = self._decoded(data)
        self.size += len(data)
        if self.cap is not None and self.size > self.cap:
            raise BodyTooLarge(self.cap)
        self.parts.append(data)

    def _decoded(self, data: bytes) -> bytes:
        if self.unknown is not None:
            raise UnknownEncoding(self.unknown)
        for inflater in self.inflate:
            data = inflater.feed(data)
        return data


class _Inflater:
    """One content coding undone as its bytes arrive: gzip (every member of it: RFC 1952
    2.2 makes a gzip file a series of members), zlib-wrapped or raw deflate."""

    def __init__(self, coding: str, cap: int | None) -> None:
        self.cap, self.size = cap, 0
        self.gzip = coding != "deflate"
        self.raw_deflate = coding == "deflate"
        self.early = b""  # a "deflate" body's first bytes, until it is known which kind
        # wbits 47: a gzip or a zlib header, detected; "deflate" without one is raw.
        self.inflate: Any = zlib.decompressobj(47)

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of the next ``data``.

        Raises
        ------
        Broken
            Bytes the coding cannot decode.
        BodyTooLarge
            More than the cap unpacked.
        """
        out = self._inflated(data)
        while self.gzip and self.inflate.eof and self.inflate.unused_data:
            rest = self.inflate.unused_data  # the next member begins
            self.inflate = zlib.decompressobj(31)
            out += self._inflated(rest)
        return out

    def end(self) -> None:
        """Raise :class:`Broken` if the stream stopped before its end."""
        if not self.inflate.eof:
            raise Broken("a compressed body that ends before its stream does")

    def _inflated(self, data: bytes) -> bytes:
        # Never more than the cap unpacked at once: a few kB of a "gzip bomb" can stand for
        # gigabytes, which are refused here without ever being held.
        room = self.cap - self.size + 1 if self.cap is not None else 0
        try:
            out: bytes = self.inflate.decompress(data, room)
        except zlib.error:
            if not (self.raw_deflate and self.size == 0):
                raise Broken("a body that its Content-Encoding cannot decode") from None
            # "deflate" sent raw, without the zlib header: the same bytes again, as such.
            self.inflate = zlib.decompressobj(-15)
            self.raw_deflate = False
            return self._inflated(self.early + data)
        if self.raw_deflate and self.size == 0 and not out and len(self.early) < 64:
            self.early += data  # the header check may fail only on a later byte
        self.size += len(out)
        if self.inflate.unconsumed_tail or (self.cap is not None and self.size > self.cap):
            raise BodyTooLarge(self.cap or 0)  # more than the cap unpacked, or waiting to be
        return out
