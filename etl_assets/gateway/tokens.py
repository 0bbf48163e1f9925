"""Session tokens: HS256 JWTs carrying the user name and role, with an expiry."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ISSUER = "etl-gateway"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Claims:
    user: str
    role: str
    stamp: str
    expires_at: int


def issue_token(secret: str, user: str, role: str, stamp: str, ttl_seconds: int, now: float | None = None) -> str:
    """A signed token for the user, valid for ttl_seconds; `stamp` ties it to the current password."""
    issued = int(time.time() if now is None else now)
    payload = {"sub": user, "role": role, "pwd": stamp, "iss": ISSUER, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Claims | None:
    """The claims of a valid, unexpired token of this gateway; None otherwise."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["sub", "exp", "iat", "iss"]})
    except jwt.PyJWTError:
        return None
    return Claims(str(payload["sub"]), str(payload.get("role", "")), str(payload.get("pwd", "")), int(payload["exp"]))
