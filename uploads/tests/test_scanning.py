"""
uploads.scanning against a real clamd (marked `clamav`: start one with bin/clamd-test), against a fake
clamd on a real socket for the answers a healthy clamd never gives, and the built-in engine.

The EICAR test string is built at run time from two halves: no file in the repository holds it whole.
"""

import contextlib
import hashlib
import math
import socket
import struct
import tempfile
import threading
import tracemalloc
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from uploads import scanning
from uploads.scanning import (
    CHUNK_SIZE,
    ScanError,
    ScannerUnavailable,
    ScanRefused,
    ScanResult,
    clamd_ping,
    scan_file,
    scan_stream,
)

EICAR = b"".join((b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$", b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"))
CLAMD_TEST_URL = "tcp://127.0.0.1:3310"
# The name clamd gives the shipped signature: ".UNOFFICIAL" marks one from an unsigned database.
CLAMD_EICAR = "IndiVillage.Test.EICAR.UNOFFICIAL"
# bin/clamd-test's StreamMaxLength.
CLAMD_TEST_STREAM_MAX = 64 * 1024 * 1024
SIGNATURES = Path(__file__).parent / "clamav" / "test-signatures.ndb"
ROW = b"42,Asha Rao,asha.rao@example.com,Bengaluru,image-annotation,2024-05-01T10:00:00Z\n"
MB = 1024 * 1024


# --- helpers and fixtures ------------------------------------------------------------------------------


def write_sample(path: Path, size: int, *, eicar_at: int | None = None) -> Path:
    """A CSV-like file of `size` bytes, with the EICAR string at offset `eicar_at` when given."""
    block = ROW * (MB // len(ROW))

    def filler(handle, count):
        while count > 0:
            piece = block[:count]
            handle.write(piece)
            count -= len(piece)

    with open(path, "wb") as handle:
        if eicar_at is None:
            filler(handle, size)
        else:
            filler(handle, eicar_at)
            handle.write(EICAR)
            filler(handle, size - eicar_at - len(EICAR))
    assert path.stat().st_size == size
    return path


@pytest.fixture
def clamd(settings):
    """The test clamd of bin/clamd-test, or a skip saying how to start it (a failure in CI)."""
    if not clamd_ping(CLAMD_TEST_URL, timeout=5):
        pytest.skip("no clamd answers PING on 127.0.0.1:3310: start clamd: bin/clamd-test")
    settings.CLAMAV_URL = CLAMD_TEST_URL
    settings.CLAMAV_TIMEOUT = 30.0
    return CLAMD_TEST_URL


@pytest.fixture
def builtin(settings):
    settings.CLAMAV_URL = ""


EXPECTED_EICAR = {
    "clamd": ScanResult(infected=True, signature=CLAMD_EICAR, engine="clamd"),
    "builtin": ScanResult(infected=True, signature="Eicar-Test-Signature", engine="builtin"),
}


@pytest.fixture(params=[pytest.param("clamd", marks=pytest.mark.clamav), "builtin"])
def engine(request):
    request.getfixturevalue(request.param)
    return request.param


class SpyReader:
    """A file object that records every read it is asked for."""

    def __init__(self, handle, *, max_piece: int | None = None):
        self._handle = handle
        self._max_piece = max_piece
        self.requested: list[int] = []
        self.returned: list[int] = []

    def read(self, size=-1):
        self.requested.append(size)
        if self._max_piece is not None:
            size = self._max_piece
        data = self._handle.read(size)
        self.returned.append(len(data))
        return data


class RecordingSocket:
    """Wraps the scanner's socket; keeps the size and first bytes of each send, never the payload."""

    def __init__(self, sock):
        self._sock = sock
        self.sends: list[tuple[int, bytes]] = []

    def sendall(self, data):
        self.sends.append((len(data), bytes(data[:16])))
        return self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


HANG = object()


class FakeClamd:
    """One connection's worth of clamd on a real socket: reads a z-command and its stream, then answers
    `reply` (bytes), or holds the connection open without a word (HANG)."""

    def __init__(self, server: socket.socket, reply):
        self.reply = reply
        self.command = b""
        self.frames: list[int] = []
        self.payload = bytearray()
        self._server = server
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        # The client may give up at any point (that is what some tests check): a dropped connection
        # ends this side quietly, and the tests assert on what the client saw and on what was recorded.
        with contextlib.suppress(OSError, struct.error):
            conn, _ = self._server.accept()
            with conn:
                conn.settimeout(10)
                stream = conn.makefile("rb")
                while (byte := stream.read(1)) not in (b"\0", b""):
                    self.command += byte
                if self.command == b"zINSTREAM":
                    while True:
                        (length,) = struct.unpack("!L", stream.read(4))
                        self.frames.append(length)
                        if length == 0:
                            break
                        self.payload += stream.read(length)
                if self.reply is HANG:
                    conn.recv(1)  # until the client gives up and closes
                else:
                    conn.sendall(self.reply)

    def stop(self):
        self._server.close()
        self._thread.join(timeout=10)


@pytest.fixture
def fake_clamd():
    """start(reply, unix=False) -> (url, FakeClamd) listening on loopback or on a Unix socket."""
    started = []
    # Unix socket paths are limited to ~108 bytes: pytest's tmp_path can be longer.
    folder = tempfile.TemporaryDirectory(prefix="clamd-")

    def start(reply, *, unix=False):
        if unix:
            path = str(Path(folder.name) / "clamd.ctl")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            url = f"unix://{path}"
        else:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.bind(("127.0.0.1", 0))
            url = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        server.listen(1)
        server.settimeout(10)  # a test that never connects does not leave the thread waiting forever
        fake = FakeClamd(server, reply)
        started.append(fake)
        return url, fake

    yield start
    for fake in started:
        fake.stop()
    folder.cleanup()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the shipped signature -----------------------------------------------------------------------------


def test_shipped_signature_is_exactly_the_eicar_string():
    lines = [line for line in SIGNATURES.read_text().splitlines() if line.strip()]
    assert len(lines) == 1
    name, target, offset, hex_signature = lines[0].split(":")
    assert (name, target, offset) == ("IndiVillage.Test.EICAR", "0", "*")
    assert bytes.fromhex(hex_signature) == EICAR
    # The standard string's well-known MD5: the halves above join into exactly it.
    assert hashlib.md5(EICAR).hexdigest() == "44d88612fea8a8f36de82e1278abb02f"
    assert scanning.EICAR == EICAR


# --- both engines --------------------------------------------------------------------------------------


def test_clean_file_is_ok(engine, tmp_path):
    path = write_sample(tmp_path / "clients.csv", 3 * len(ROW))

    assert scan_file(path) == ScanResult(infected=False, signature=None, engine=engine)


def test_eicar_alone_is_found(engine, tmp_path):
    path = tmp_path / "eicar.com"
    path.write_bytes(EICAR)

    assert scan_file(path) == EXPECTED_EICAR[engine]


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(5 * MB // 2, id="middle"),
        pytest.param(40 * CHUNK_SIZE - 30, id="straddling-a-chunk-boundary"),
        pytest.param(5 * MB - 68, id="at-the-very-end"),
    ],
)
def test_eicar_inside_a_multi_megabyte_file_is_found(engine, tmp_path, offset):
    path = write_sample(tmp_path / "big.csv", 5 * MB, eicar_at=offset)
    # The straddling case really straddles: the string starts in one read and ends in the next.
    if offset == 40 * CHUNK_SIZE - 30:
        assert offset // CHUNK_SIZE != (offset + len(EICAR) - 1) // CHUNK_SIZE

    assert scan_file(path) == EXPECTED_EICAR[engine]


def test_a_file_almost_holding_eicar_is_clean(engine, tmp_path):
    # The first 67 bytes, then a different last byte, in a 1 MB file.
    path = tmp_path / "near-miss.txt"
    write_sample(path, MB, eicar_at=MB // 2)
    with open(path, "r+b") as handle:
        handle.seek(MB // 2 + len(EICAR) - 1)
        handle.write(b"#")

    assert scan_file(path) == ScanResult(infected=False, signature=None, engine=engine)


def test_big_clean_file_is_read_in_bounded_chunks(engine, tmp_path):
    size = 20 * MB + 123
    path = write_sample(tmp_path / "big.csv", size)

    with open(path, "rb") as handle:
        reader = SpyReader(handle)
        result = scan_stream(reader)

    assert result == ScanResult(infected=False, signature=None, engine=engine)
    # Every read asks for one chunk, never "the rest of the file".
    assert set(reader.requested) == {CHUNK_SIZE}
    assert sum(reader.returned) == size
    assert len(reader.requested) == math.ceil(size / CHUNK_SIZE) + 1  # the last read finds the end


def test_scanning_a_big_file_holds_about_two_chunks_in_memory(engine, tmp_path):
    path = write_sample(tmp_path / "big.csv", 20 * MB)

    tracemalloc.start()
    try:
        result = scan_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.infected is False
    assert peak < 8 * CHUNK_SIZE, f"peak {peak} bytes while scanning 20 MB"


# --- clamd ---------------------------------------------------------------------------------------------


@pytest.mark.clamav
def test_clamd_is_sent_the_file_as_length_prefixed_chunks(clamd, tmp_path, monkeypatch):
    size = 20 * MB + 123
    path = write_sample(tmp_path / "big.csv", size)
    sockets = []
    connect = scanning._connect

    def recording_connect(url, timeout):
        sock = RecordingSocket(connect(url, timeout))
        sockets.append(sock)
        return sock

    monkeypatch.setattr(scanning, "_connect", recording_connect)

    assert scan_file(path) == ScanResult(infected=False, signature=None, engine="clamd")

    [sock] = sockets
    command, *frames, terminator = sock.sends
    assert command == (len(b"zINSTREAM\0"), b"zINSTREAM\0")
    assert terminator == (4, b"\0\0\0\0")
    assert len(frames) == math.ceil(size / CHUNK_SIZE)
    for sent, head in frames:
        (length,) = struct.unpack("!L", head[:4])
        assert sent == 4 + length
        assert 0 < length <= CHUNK_SIZE
    assert sum(sent - 4 for sent, _ in frames) == size


@pytest.mark.clamav
def test_clamd_refuses_a_file_past_its_stream_limit(clamd, tmp_path):
    path = tmp_path / "huge.bin"
    with open(path, "wb") as handle:
        handle.truncate(CLAMD_TEST_STREAM_MAX + MB)  # sparse: cheap to make and to read

    with pytest.raises(ScanRefused, match="INSTREAM size limit exceeded") as raised:
        scan_file(path)

    # Not transient: a task retrying on ScannerUnavailable must not retry this.
    assert not isinstance(raised.value, ScannerUnavailable)
    assert isinstance(raised.value, ScanError)


@pytest.mark.clamav
def test_a_50_megabyte_upload_is_scanned_whole(clamd, tmp_path, settings):
    # The largest upload allowed, with the string in its last chunk: clamd's limits let it through.
    size = settings.UPLOAD_MAX_BYTES
    path = write_sample(tmp_path / "max.csv", size, eicar_at=size - 1000)

    assert scan_file(path) == EXPECTED_EICAR["clamd"]


@pytest.mark.clamav
def test_clamd_ping_answers(clamd):
    assert clamd_ping() is True
    assert clamd_ping(CLAMD_TEST_URL) is True


def test_clamd_down_is_scanner_unavailable(settings, tmp_path):
    port = closed_port()
    settings.CLAMAV_URL = f"tcp://127.0.0.1:{port}"
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    with pytest.raises(ScannerUnavailable, match=rf"cannot connect to clamd at tcp://127.0.0.1:{port}"):
        scan_file(path)
    assert clamd_ping() is False


def test_missing_clamd_socket_is_scanner_unavailable(settings, tmp_path):
    settings.CLAMAV_URL = f"unix://{tmp_path}/no-such/clamd.ctl"
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    with pytest.raises(ScannerUnavailable, match="cannot connect to clamd at unix://"):
        scan_file(path)
    assert clamd_ping() is False


def test_clamd_ping_without_clamd_configured_is_false(settings):
    settings.CLAMAV_URL = ""

    assert clamd_ping() is False


@pytest.mark.parametrize("url", ["http://127.0.0.1:3310", "tcp://127.0.0.1", "tcp://:3310", "unix://"])
def test_malformed_clamav_url_is_a_configuration_error(settings, tmp_path, url):
    settings.CLAMAV_URL = url
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    with pytest.raises(ImproperlyConfigured, match="CLAMAV_URL must be"):
        scan_file(path)


def test_unix_socket_url_speaks_instream(settings, tmp_path, fake_clamd):
    url, fake = fake_clamd(b"stream: OK\0", unix=True)
    settings.CLAMAV_URL = url
    content = ROW * 3000  # a little over three chunks
    path = tmp_path / "clients.csv"
    path.write_bytes(content)

    assert scan_file(path) == ScanResult(infected=False, signature=None, engine="clamd")
    fake.stop()
    assert fake.command == b"zINSTREAM"
    assert bytes(fake.payload) == content
    assert fake.frames == [CHUNK_SIZE] * 3 + [len(content) - 3 * CHUNK_SIZE, 0]


@pytest.mark.parametrize(
    ("reply", "signature"),
    [
        (b"stream: Win.Test.EICAR_HDB-1 FOUND\0", "Win.Test.EICAR_HDB-1"),
        (b"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\0", "Heuristics.Limits.Exceeded.MaxFileSize"),
        # An answer without the NUL, then the end of the connection, is still an answer.
        (b"stream: Doc.Malware.Example-1 FOUND", "Doc.Malware.Example-1"),
    ],
)
def test_clamd_found_reply_carries_the_signature(settings, tmp_path, fake_clamd, reply, signature):
    settings.CLAMAV_URL, _ = fake_clamd(reply)
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    assert scan_file(path) == ScanResult(infected=True, signature=signature, engine="clamd")


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"stream: Can't allocate memory ERROR\0", "Can't allocate memory ERROR"),
        (b"UNKNOWN COMMAND\0", "UNKNOWN COMMAND"),
        (b"stream:  FOUND\0", "stream:  FOUND"),
        (b"", "closed the connection without an answer"),
        (b"x" * 10_000, "answered more than 4096 bytes"),
    ],
)
def test_clamd_error_or_garbage_is_scanner_unavailable(settings, tmp_path, fake_clamd, reply, message):
    settings.CLAMAV_URL, _ = fake_clamd(reply)
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    with pytest.raises(ScannerUnavailable) as raised:
        scan_file(path)
    assert message in str(raised.value)
    assert settings.CLAMAV_URL in str(raised.value)


def test_clamd_size_limit_reply_is_scan_refused(settings, tmp_path, fake_clamd):
    settings.CLAMAV_URL, _ = fake_clamd(b"INSTREAM size limit exceeded. ERROR\0")
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    with pytest.raises(ScanRefused, match="StreamMaxLength"):
        scan_file(path)


def test_silent_clamd_times_out_as_scanner_unavailable(settings, tmp_path, fake_clamd):
    settings.CLAMAV_URL, _ = fake_clamd(HANG)
    settings.CLAMAV_TIMEOUT = 0.3
    path = write_sample(tmp_path / "clients.csv", 10 * len(ROW))

    with pytest.raises(ScannerUnavailable, match=r"did not answer within 0\.3s"):
        scan_file(path)


def test_clamd_ping_reads_pong(fake_clamd):
    url, fake = fake_clamd(b"PONG\0")

    assert clamd_ping(url) is True
    fake.stop()
    assert fake.command == b"zPING"


# --- built-in ------------------------------------------------------------------------------------------


def test_builtin_engine_is_used_when_clamav_url_is_empty(builtin, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the built-in engine must not connect anywhere")

    monkeypatch.setattr(scanning, "_connect", no_network)
    clean = write_sample(tmp_path / "clients.csv", 10 * len(ROW))
    infected = tmp_path / "eicar.txt"
    infected.write_bytes(b"header\n" + EICAR + b"\nfooter\n")

    assert scan_file(clean) == ScanResult(infected=False, signature=None, engine="builtin")
    assert scan_file(infected) == ScanResult(
        infected=True, signature="Eicar-Test-Signature", engine="builtin"
    )


def test_builtin_finds_eicar_through_short_reads(builtin, tmp_path):
    # Reads that return 13 bytes at a time (a socket or a slow storage): the string spans six of them.
    path = tmp_path / "trickle.txt"
    path.write_bytes(b"a" * 500 + EICAR + b"b" * 500)

    with open(path, "rb") as handle:
        reader = SpyReader(handle, max_piece=13)
        result = scan_stream(reader)

    assert result == ScanResult(infected=True, signature="Eicar-Test-Signature", engine="builtin")
    assert set(reader.returned) == {13}  # it stopped once found, before the end


def test_builtin_empty_file_is_clean(builtin, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    assert scan_file(path) == ScanResult(infected=False, signature=None, engine="builtin")
