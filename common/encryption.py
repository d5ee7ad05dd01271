"""
The keyring behind every encrypted model field (common.fields): encryption under FIELD_ENCRYPTION_KEY
with key rotation, which also reads what django-cryptography's fields wrote. The token format and the
keys it tries: docs/compliance.md, "The keyring's tokens".
"""

import hmac
import os
import struct
import threading
import time
from dataclasses import dataclass
from hashlib import sha256

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.encoding import force_bytes
from django_cryptography.core.signing import BadSignature, SignatureExpired
from django_cryptography.utils.crypto import InvalidToken

LEGACY_VERSION = b"\x80"
VERSION = b"\x81"

_HEADER = struct.Struct(">cQ")
_IV_SIZE = 16
_MAC_SIZE = 32
# The library allows this much clock skew when it checks a ttl; so does the keyring.
_MAX_CLOCK_SKEW = 60
# The library's own derivation (django_cryptography/conf.py): the AES key must come out identical, or
# rows written before the keyring would not open.
_PBKDF2_ITERATIONS = 30000
_DEFAULT_SALT = "django-cryptography"


@dataclass(frozen=True)
class _FieldKey:
    aes: bytes
    mac: bytes


def key_fingerprint(key: str | bytes) -> str:
    """Names a key in logs and in KeyRotation rows without revealing it."""
    return hmac.new(force_bytes(key), b"indivillage key fingerprint", sha256).hexdigest()[:16]


class FieldKeyring:
    """What common.fields encrypts and decrypts with: `encrypt(bytes)` and `decrypt(bytes, ttl)`."""

    def __init__(self):
        self._derived: dict[tuple[bytes, bytes], _FieldKey] = {}
        self._lock = threading.Lock()

    # Fields are deep-copied in places (model inheritance, forms); every copy must keep the one keyring.
    def __deepcopy__(self, memo):
        return self

    # --- keys, read from settings at each call ---------------------------------------------------

    def _derive(self, raw: str | bytes) -> _FieldKey:
        salt = force_bytes(getattr(settings, "CRYPTOGRAPHY_SALT", None) or _DEFAULT_SALT)
        cache_key = (force_bytes(raw), salt)
        derived = self._derived.get(cache_key)
        if derived is None:
            kdf = PBKDF2HMAC(algorithm=SHA256(), length=32, salt=salt, iterations=_PBKDF2_ITERATIONS)
            aes = kdf.derive(force_bytes(raw))
            # A separate MAC key, so that the signature binds the token to the field key and no longer
            # to SECRET_KEY.
            derived = _FieldKey(aes=aes, mac=hmac.new(aes, b"signing", sha256).digest())
            with self._lock:
                self._derived[cache_key] = derived
        return derived

    def current_raw_key(self) -> str:
        key = settings.FIELD_ENCRYPTION_KEY
        if not key:
            # The library would fall back to SECRET_KEY here, tying the data to the signing key again.
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set: encrypted fields cannot be used.")
        return key

    def _raw_keys(self) -> list[str]:
        keys = [self.current_raw_key()]
        for old in getattr(settings, "FIELD_ENCRYPTION_OLD_KEYS", None) or []:
            if old and old not in keys:
                keys.append(old)
        return keys

    @staticmethod
    def _signing_secrets() -> list[bytes]:
        secrets = [settings.SECRET_KEY, *(getattr(settings, "SECRET_KEY_FALLBACKS", None) or [])]
        return [force_bytes(secret) for secret in secrets if secret]

    # --- the FernetBytes interface ---------------------------------------------------------------

    def encrypt(self, data: bytes | str) -> bytes:
        return self.encrypt_at_time(data, int(time.time()))

    def encrypt_at_time(self, data: bytes | str, current_time: int) -> bytes:
        key = self._derive(self.current_raw_key())
        padder = padding.PKCS7(algorithms.AES.block_size).padder()
        padded = padder.update(force_bytes(data)) + padder.finalize()
        iv = os.urandom(_IV_SIZE)
        encryptor = Cipher(algorithms.AES(key.aes), modes.CBC(iv)).encryptor()
        payload = _HEADER.pack(VERSION, current_time) + iv + encryptor.update(padded) + encryptor.finalize()
        return payload + hmac.new(key.mac, payload, sha256).digest()

    def decrypt(self, data: bytes, ttl: int | None = None) -> bytes:
        timestamp, plaintext = self._open(force_bytes(data))
        if ttl is not None:
            # After the signature check: only an authentic token can be reported as expired.
            age = abs(time.time() - timestamp)
            if age > ttl + _MAX_CLOCK_SKEW:
                raise SignatureExpired(f"Signature age {age} > {ttl} seconds")
        return plaintext

    # --- rotation --------------------------------------------------------------------------------

    def is_current(self, token: bytes) -> bool:
        """True when the token is in the keyring's format and signed with FIELD_ENCRYPTION_KEY."""
        token = force_bytes(token)
        if token[:1] != VERSION or len(token) < _HEADER.size + _IV_SIZE + _MAC_SIZE:
            return False
        key = self._derive(self.current_raw_key())
        payload, mac = token[:-_MAC_SIZE], token[-_MAC_SIZE:]
        return hmac.compare_digest(mac, hmac.new(key.mac, payload, sha256).digest())

    def reencrypt(self, token: bytes) -> bytes:
        """
        The same plaintext under the current key. The original timestamp is kept, so a field with a
        ttl does not get a longer life from a rotation (and an expired value stays expired).
        """
        timestamp, plaintext = self._open(force_bytes(token))
        return self.encrypt_at_time(plaintext, timestamp)

    # --- internals -------------------------------------------------------------------------------

    def _open(self, token: bytes) -> tuple[int, bytes]:
        if len(token) < _HEADER.size + _IV_SIZE + _MAC_SIZE:
            raise BadSignature("Signature is not valid")
        payload, mac = token[:-_MAC_SIZE], token[-_MAC_SIZE:]
        version, timestamp = _HEADER.unpack(payload[: _HEADER.size])
        iv, ciphertext = payload[_HEADER.size : _HEADER.size + _IV_SIZE], payload[_HEADER.size + _IV_SIZE :]
        if version == VERSION:
            for raw in self._raw_keys():
                key = self._derive(raw)
                if hmac.compare_digest(mac, hmac.new(key.mac, payload, sha256).digest()):
                    return timestamp, self._aes_decrypt(key.aes, iv, ciphertext)
            raise BadSignature(
                "Signature does not match FIELD_ENCRYPTION_KEY or any of FIELD_ENCRYPTION_OLD_KEYS"
            )
        if version == LEGACY_VERSION:
            if not any(
                hmac.compare_digest(mac, hmac.new(secret, payload, sha256).digest())
                for secret in self._signing_secrets()
            ):
                raise BadSignature("Signature does not match SECRET_KEY or any of SECRET_KEY_FALLBACKS")
            return timestamp, self._legacy_plaintext(iv, ciphertext)
        raise BadSignature("Signature version not supported")

    def _legacy_plaintext(self, iv: bytes, ciphertext: bytes) -> bytes:
        # The library's signature is keyed by SECRET_KEY alone, so it cannot say which field key was
        # used: each is tried. A wrong key still yields valid padding about once in 256 tries; what the
        # fields encrypt is always a pickle (protocol 2+: opcode PROTO first, STOP last), which makes a
        # wrong key passing for the right one negligible.
        for raw in self._raw_keys():
            try:
                plaintext = self._aes_decrypt(self._derive(raw).aes, iv, ciphertext)
            except InvalidToken:
                continue
            if plaintext[:1] == b"\x80" and plaintext[-1:] == b".":
                return plaintext
        raise InvalidToken("No configured field key decrypts this value")

    @staticmethod
    def _aes_decrypt(aes_key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
        try:
            padded = decryptor.update(ciphertext) + decryptor.finalize()
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as err:
            raise InvalidToken from err


keyring = FieldKeyring()
