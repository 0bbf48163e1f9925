"""Password hashes: argon2id for new ones; argon2 and bcrypt hashes are accepted. Never plain text."""
from __future__ import annotations

import functools
import re
import secrets

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_BCRYPT = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """A new argon2id hash of the password."""
    return _hasher.hash(password)


def is_password_hash(value: str) -> bool:
    """True for an argon2 (`$argon2id$...`) or bcrypt (`$2b$...`) hash."""
    return value.startswith(("$argon2id$", "$argon2i$", "$argon2d$")) or bool(_BCRYPT.fullmatch(value))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash (bcrypt compares the first 72 bytes, as bcrypt tools do)."""
    if _BCRYPT.fullmatch(password_hash):
        return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def waste_time(password: str) -> None:
    """Verify against a throw-away hash, so an unknown user name takes as long as a wrong password."""
    verify_password(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
