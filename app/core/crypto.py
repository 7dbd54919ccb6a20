"""Encryption of secrets at rest (MFA secrets, provider credentials).

`DATA_ENCRYPTION_KEY` holds one or more Fernet keys separated by commas: the first
encrypts, all decrypt, so keys can be rotated (`flask crm rotate-encryption-key`
re-encrypts stored secrets with the first key, after which old keys can be dropped).
Outside production a key is derived from SECRET_KEY so a first run needs no setup;
production refuses to start without its own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from config import ConfigurationError


class DecryptionError(Exception):
    """The value was not encrypted with any configured key (or was altered)."""


def _keys() -> list[bytes]:
    configured = current_app.config.get("DATA_ENCRYPTION_KEY")
    if configured:
        return [key.strip().encode() for key in configured.split(",") if key.strip()]
    if current_app.config["APP_ENV"] == "production":
        raise ConfigurationError("Set DATA_ENCRYPTION_KEY (a Fernet key) to store secrets in production.")
    derived = hashlib.sha256(b"data-encryption:" + current_app.config["SECRET_KEY"].encode()).digest()
    return [base64.urlsafe_b64encode(derived)]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("cannot decrypt with the configured DATA_ENCRYPTION_KEY") from exc


def reencrypt(ciphertext: str) -> str:
    """The same secret, encrypted with the first (current) key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("cannot decrypt with the configured DATA_ENCRYPTION_KEY") from exc


# What `flask crm rotate-encryption-key` re-encrypts: (what it is, function returning how many).
REENCRYPTIONS: list[tuple[str, Callable[[], int]]] = []


def register_reencryption(label: str, reencrypt_all: Callable[[], int]) -> None:
    """A domain that stores encrypted values names them here (at import), so key rotation
    re-encrypts them too."""
    if all(existing != label for existing, _ in REENCRYPTIONS):
        REENCRYPTIONS.append((label, reencrypt_all))


def reencrypt_column(model, column) -> int:
    """Re-encrypt every non-null value of `column` with the current key, in batches."""
    from sqlalchemy import select

    from app.extensions import db

    count = 0
    for row in db.session.scalars(select(model).where(column.is_not(None)).execution_options(yield_per=500)):
        setattr(row, column.key, reencrypt(getattr(row, column.key)))
        count += 1
    return count


def new_key() -> str:
    return Fernet.generate_key().decode()
