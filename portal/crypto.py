"""Secrets at rest (datasource passwords, channel webhooks): Fernet with a key from settings.

`FIELD_ENCRYPTION_KEY` may be a Fernet key (urlsafe base64 of 32 bytes) or any passphrase; when unset
the key is derived from SECRET_KEY, so a fresh install works without configuration. Rotating either
makes old ciphertexts unreadable: `decrypt` then raises `DecryptionError` rather than returning garbage.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["DecryptionError", "decrypt", "encrypt"]


class DecryptionError(Exception):
    """The ciphertext was not made with the current key (or was tampered with)."""


@functools.cache
def _fernet(key_material: str) -> Fernet:
    try:
        return Fernet(key_material.encode())
    except ValueError:
        # Not a Fernet key: derive one. A domain-separation prefix keeps it distinct from other
        # uses of SECRET_KEY (sessions, signing).
        digest = hashlib.sha256(b"portal.crypto:" + key_material.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


def _current() -> Fernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    """Ciphertext as text (safe for a CharField/TextField). The empty string stays empty."""
    if plaintext == "":
        return ""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if ciphertext == "":
        return ""
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as e:
        raise DecryptionError("secret cannot be decrypted with the current FIELD_ENCRYPTION_KEY") from e
