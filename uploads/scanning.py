"""
Virus scanning of uploaded files: clamd when `CLAMAV_URL` is set, a built-in EICAR check otherwise (a
stand-in for development and tests, not an antivirus). What a caller must tell apart: docs/uploads.md,
"Scanning outcomes".
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Bytes read from the file (and sent to clamd) at a time.
CHUNK_SIZE = 64 * 1024
# clamd answers in a line; anything longer than this is not an answer.
MAX_REPLY_BYTES = 4096

ENGINE_CLAMD = "clamd"
ENGINE_BUILTIN = "builtin"
EICAR_SIGNATURE = "Eicar-Test-Signature"

# The standard 68-byte EICAR test string, joined at run time so that no source or compiled file holds it
# whole (antivirus on developers' machines would flag this module otherwise; a `+` of two literals is
# folded into one constant by the compiler, a join is not).
EICAR = b"".join((b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$", b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"))


@dataclass(frozen=True)
class ScanResult:
    infected: bool
    signature: str | None  # e.g. "Eicar-Test-Signature", or the name clamd reported
    engine: str  # "clamd" or "builtin"


class ScanError(Exception):
    """The file could not be scanned: it is neither clean nor infected."""


class ScannerUnavailable(ScanError):
    """clamd is configured but cannot be reached or answered garbage: transient, the task retries."""


class ScanRefused(ScanError):
    """clamd refused to scan this file (it exceeds clamd's StreamMaxLength): not transient, do not retry."""


def scan_file(path: str | os.PathLike) -> ScanResult:
    """Scan the file at `path` with clamd when `CLAMAV_URL` is set, else with the built-in check."""
    with open(path, "rb") as handle:
        return scan_stream(handle)


def scan_stream(stream: BinaryIO) -> ScanResult:
    """Scan a binary file object from its current position to its end (for storages without paths)."""
    if settings.CLAMAV_URL:
        return _clamd_scan(settings.CLAMAV_URL, stream, timeout=settings.CLAMAV_TIMEOUT)
    return _builtin_scan(stream)


def clamd_ping(url: str | None = None, *, timeout: float | None = None) -> bool:
    """True when clamd at `url` (default `CLAMAV_URL`) answers PING with PONG; False otherwise.

    False too when no clamd is configured: a readiness check asks this only when `CLAMAV_URL` is set.
    """
    url = settings.CLAMAV_URL if url is None else url
    if not url:
        return False
    try:
        with closing(_connect(url, settings.CLAMAV_TIMEOUT if timeout is None else timeout)) as sock:
            sock.sendall(b"zPING\0")
            return _read_reply(sock) == "PONG"
    except (OSError, ScannerUnavailable):
        return False


# --- clamd ---------------------------------------------------------------------------------------------


def _connect(url: str, timeout: float) -> socket.socket:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    try:
        if parts.scheme == "tcp" and parts.hostname and port:
            return socket.create_connection((parts.hostname, port), timeout=timeout)
        if parts.scheme == "unix" and parts.path and not parts.netloc:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(parts.path)
            except OSError:
                sock.close()
                raise
            return sock
    except OSError as exc:
        raise ScannerUnavailable(f"cannot connect to clamd at {url}: {exc}") from exc
    raise ImproperlyConfigured(
        f"CLAMAV_URL must be tcp://host:port or unix:///path/to/clamd.ctl, not {url!r}"
    )


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


def _clamd_scan(url: str, stream: BinaryIO, *, timeout: float) -> ScanResult:
    with closing(_connect(url, timeout)) as sock:
        try:
            sock.sendall(b"zINSTREAM\0")
            for chunk in _chunks(stream):
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
        except TimeoutError as exc:
            raise ScannerUnavailable(f"clamd at {url} timed out while receiving the file") from exc
        except OSError as exc:
            # clamd closes the connection once the stream passes its StreamMaxLength, after writing
            # why: read that answer rather than report a bare broken pipe.
            reply = _read_leftover_reply(sock)
            if reply:
                _parse_scan_reply(reply, url)  # raises for the refusal or an error it explains
            # Any verdict now would be about part of the file: not one to act on.
            raise ScannerUnavailable(f"clamd at {url} dropped the connection mid-stream: {exc}") from exc
        return _parse_scan_reply(_read_reply(sock, url), url)


def _read_reply(sock: socket.socket, url: str = "clamd") -> str:
    """clamd's answer to a z-command: bytes up to the NUL terminator (or the end of the connection)."""
    data = bytearray()
    try:
        while b"\0" not in data and len(data) <= MAX_REPLY_BYTES:
            piece = sock.recv(MAX_REPLY_BYTES)
            if not piece:
                break
            data += piece
    except TimeoutError as exc:
        raise ScannerUnavailable(f"clamd at {url} did not answer within {sock.gettimeout()}s") from exc
    except OSError as exc:
        raise ScannerUnavailable(f"reading clamd's answer from {url} failed: {exc}") from exc
    reply = data.partition(b"\0")[0]
    if len(reply) > MAX_REPLY_BYTES:
        raise ScannerUnavailable(f"clamd at {url} answered more than {MAX_REPLY_BYTES} bytes")
    return reply.decode("utf-8", "replace").strip()


def _read_leftover_reply(sock: socket.socket) -> str:
    try:
        return _read_reply(sock)
    except ScannerUnavailable:
        return ""


def _parse_scan_reply(reply: str, url: str) -> ScanResult:
    if "size limit exceeded" in reply:
        raise ScanRefused(
            f"clamd at {url} refused the file: {reply!r} (raise StreamMaxLength above UPLOAD_MAX_BYTES)"
        )
    # "stream: OK", "stream: <signature> FOUND", "stream: <reason> ERROR".
    if reply.startswith("stream: "):
        verdict = reply.removeprefix("stream: ")
        if verdict == "OK":
            return ScanResult(infected=False, signature=None, engine=ENGINE_CLAMD)
        if verdict.endswith(" FOUND") and verdict.removesuffix(" FOUND").strip():
            return ScanResult(
                infected=True, signature=verdict.removesuffix(" FOUND").strip(), engine=ENGINE_CLAMD
            )
    if not reply:
        raise ScannerUnavailable(f"clamd at {url} closed the connection without an answer")
    raise ScannerUnavailable(f"clamd at {url} answered {reply[:200]!r}")


# --- built-in ------------------------------------------------------------------------------------------


def _builtin_scan(stream: BinaryIO) -> ScanResult:
    """The development stand-in for clamd. It is NOT an antivirus.

    It knows one signature: the EICAR test string, found anywhere in the file (also across chunk
    boundaries), so that quarantine can be exercised without a clamd. Every other file is reported clean.
    Deployments that accept files from outside set `CLAMAV_URL`.
    """
    overlap = len(EICAR) - 1
    tail = b""
    for chunk in _chunks(stream):
        window = tail + chunk
        if EICAR in window:
            return ScanResult(infected=True, signature=EICAR_SIGNATURE, engine=ENGINE_BUILTIN)
        # Keep enough of the end to catch the string when it straddles this read and the next.
        tail = window[-overlap:]
    return ScanResult(infected=False, signature=None, engine=ENGINE_BUILTIN)
