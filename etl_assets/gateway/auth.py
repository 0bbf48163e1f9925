"""Who is asking: a session cookie or a Bearer token, checked against the current users."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from starlette.requests import HTTPConnection

from .passwords import verify_password, waste_time
from .ratelimit import LoginGuard
from .settings import GatewaySettings
from .tokens import issue_token, read_token
from .users import User, UserStore

COOKIE_NAME = "etl_session"


@dataclass(frozen=True)
class Principal:
    """A logged-in user with the role they have now."""

    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginRefused(Exception):
    """Wrong credentials (401) or too many failures (429, with retry_after seconds)."""

    def __init__(self, status_code: int, message: str, retry_after: float = 0):
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class Authenticator:
    """Checks passwords (rate-limited) and tokens; issues tokens."""

    def __init__(self, settings: GatewaySettings, users: UserStore):
        self.settings = settings
        self.users = users
        self.guard = LoginGuard(settings.user_limit, settings.ip_limit)

    def login(self, ip: str, name: str, password: str) -> tuple[Principal, str]:
        """(principal, token) for a correct password; LoginRefused otherwise."""
        name = name.strip().lower()
        wait = self.guard.retry_after(ip, name)
        if wait > 0:
            raise LoginRefused(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed logins; try again later", wait)
        user = self.users.get(name)
        if user is None:
            waste_time(password)
        if user is None or not verify_password(user.password_hash, password):
            self.guard.failed(ip, name)
            raise LoginRefused(status.HTTP_401_UNAUTHORIZED, "invalid user name or password")
        self.guard.succeeded(name)
        token = issue_token(self.settings.secret, user.name, user.role, _stamp(user), self.settings.token_ttl_seconds)
        return Principal(user.name, user.role), token

    def principal(self, conn: HTTPConnection) -> Principal | None:
        """The user of a valid token (Bearer header first, then the cookie) who still exists with that password."""
        token = bearer_token(conn) or conn.cookies.get(COOKIE_NAME)
        claims = read_token(self.settings.secret, token) if token else None
        user = self.users.get(claims.user) if claims else None
        if claims is None or user is None or claims.stamp != _stamp(user):
            return None
        return Principal(user.name, user.role)


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def _stamp(user: User) -> str:
    """Changes when the password changes, so `etl user add` with a new password ends old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:12]


def current_user(request: Request) -> Principal:
    """FastAPI dependency: the logged-in user, or 401."""
    principal = request.app.state.gateway.auth.principal(request)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in: send `Authorization: Bearer <token>` (POST /api/v1/auth/token)", headers={"WWW-Authenticate": "Bearer"})
    return principal


def admin_user(principal: Principal = Depends(current_user)) -> Principal:
    """FastAPI dependency: an admin, or 403."""
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"user {principal.name} has role {principal.role}; this needs role admin")
    return principal


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"
