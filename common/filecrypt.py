"""
The bytes of a backup or an archive file: streaming encryption (AES-256-GCM in chunks, so that a file cut
off, reordered or altered is refused) and hashing, with flat memory; the layout is in docs/backups.md.
Used by ops.backups and compliance.archive.
"""

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"IVBKENC1"
CHUNK = 1 << 20
_TAG = 16


class BackupFileError(Exception):
    """The file is not what its manifest says, or cannot be decrypted with this key."""


def _derive(secret: str, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"indivillage backup v1").derive(
        secret.encode()
    )


def key_fingerprint(secret: str) -> str:
    """Names a key in a manifest without revealing it, so that a wrong key is reported as such."""
    return hmac.new(secret.encode(), b"indivillage backup key fingerprint", hashlib.sha256).hexdigest()[:16]


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">Q", index)


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">QB", index, int(last))


class EncryptingWriter:
    """A file-like sink: `write()` plaintext, `close()` writes the final chunk. Ciphertext goes to `out`."""

    def __init__(self, out, secret: str):
        self.out = out
        salt, self.prefix = os.urandom(16), os.urandom(4)
        self.aead = AESGCM(_derive(secret, salt))
        self.index = 0
        self.buffer = bytearray()
        out.write(MAGIC + salt + self.prefix)

    def _emit(self, data: bytes, last: bool) -> None:
        sealed = self.aead.encrypt(_nonce(self.prefix, self.index), data, _aad(self.index, last))
        self.out.write(struct.pack(">I", len(sealed)) + sealed)
        self.index += 1

    def write(self, data: bytes) -> None:
        self.buffer += data
        # Keep at least one byte back, so that the last chunk is never empty unless the input was.
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]

    def close(self) -> None:
        self._emit(bytes(self.buffer), last=True)
        self.buffer.clear()


def decrypt_stream(source, out, secret: str) -> None:
    """Reads an encrypted backup from `source`, writes the plaintext to `out`; refuses any alteration."""
    header = source.read(len(MAGIC) + 20)
    if len(header) < len(MAGIC) + 20 or not header.startswith(MAGIC):
        raise BackupFileError("not an encrypted backup (its header is missing or damaged)")
    salt, prefix = header[len(MAGIC) : len(MAGIC) + 16], header[len(MAGIC) + 16 :]
    aead = AESGCM(_derive(secret, salt))
    index = 0
    pending = _read_chunk(source)
    if pending is None:
        raise BackupFileError("the encrypted backup holds no data: it was cut short")
    while pending is not None:
        following = _read_chunk(source)
        last = following is None
        try:
            out.write(aead.decrypt(_nonce(prefix, index), pending, _aad(index, last)))
        except InvalidTag:
            raise BackupFileError(
                f"chunk {index} does not decrypt: the file was altered or cut short, or the key is wrong"
            ) from None
        index += 1
        pending = following


def _read_chunk(source) -> bytes | None:
    head = source.read(4)
    if not head:
        return None
    if len(head) < 4:
        raise BackupFileError("the encrypted backup ends inside a chunk header: it was cut short")
    (length,) = struct.unpack(">I", head)
    if length < _TAG or length > CHUNK + _TAG:
        raise BackupFileError("a chunk header is damaged")
    data = source.read(length)
    if len(data) < length:
        raise BackupFileError("the encrypted backup ends inside a chunk: it was cut short")
    return data


class HashingWriter:
    """Passes bytes through to `out` while counting them and computing their sha256."""

    def __init__(self, out):
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.size += len(data)
        self.out.write(data)


def file_sha256(path, *, chunk: int = CHUNK) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
