"""Gateway settings from the environment (and `etl serve` flags)."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..config import configs_dir

MIN_SECRET_LENGTH = 32
DEFAULT_TOKEN_TTL = 8 * 3600


class SettingsError(Exception):
    """The gateway cannot start with these settings; the message says what to set."""


@dataclass(frozen=True)
class RateLimit:
    """At most `attempts` failed logins per `window_seconds`."""

    attempts: int
    window_seconds: float

    @classmethod
    def parse(cls, text: str, name: str) -> "RateLimit":
        """`5/300` -> 5 failures per 300 seconds."""
        try:
            attempts, window = (float(part) for part in text.split("/", 1))
        except ValueError:
            raise SettingsError(f"{name}={text!r}: expected ATTEMPTS/SECONDS, e.g. 5/300") from None
        if attempts < 1 or window <= 0:
            raise SettingsError(f"{name}={text!r}: attempts and seconds must be positive")
        return cls(int(attempts), window)


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway needs to know; see README "etl serve" for each variable."""

    secret: str
    users_file: Path
    configs_dir: Path
    cookie_secure: bool = True
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL
    user_limit: RateLimit = RateLimit(5, 300)
    ip_limit: RateLimit = RateLimit(20, 300)
    metrics_token: str | None = None
    dev: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dev: bool = False) -> "GatewaySettings":
        """Read ETL_GATEWAY_* variables; without ETL_GATEWAY_SECRET only `dev` may start (random secret)."""
        env = os.environ if env is None else env
        secret = env.get("ETL_GATEWAY_SECRET", "")
        if not secret:
            if not dev:
                raise SettingsError(
                    "ETL_GATEWAY_SECRET is not set: export a random secret of at least "
                    f"{MIN_SECRET_LENGTH} characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                    "or pass --dev for a throw-away secret on a laptop"
                )
            secret = secrets.token_urlsafe(48)
        elif len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"ETL_GATEWAY_SECRET is too short ({len(secret)} characters, need at least {MIN_SECRET_LENGTH})")
        return cls(
            secret=secret,
            users_file=users_file(env),
            configs_dir=configs_dir(),
            cookie_secure=_flag(env, "ETL_GATEWAY_COOKIE_SECURE", default=not dev),
            token_ttl_seconds=_positive_int(env, "ETL_GATEWAY_TOKEN_TTL", DEFAULT_TOKEN_TTL),
            user_limit=RateLimit.parse(env.get("ETL_GATEWAY_LOGIN_LIMIT", "5/300"), "ETL_GATEWAY_LOGIN_LIMIT"),
            ip_limit=RateLimit.parse(env.get("ETL_GATEWAY_LOGIN_IP_LIMIT", "20/300"), "ETL_GATEWAY_LOGIN_IP_LIMIT"),
            metrics_token=env.get("ETL_METRICS_TOKEN") or None,
            dev=dev,
        )


def users_file(env: Mapping[str, str] | None = None) -> Path:
    """$ETL_USERS_FILE, default etl_users.yaml in the working directory."""
    return Path((os.environ if env is None else env).get("ETL_USERS_FILE", "etl_users.yaml"))


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={value!r}: expected 1 or 0")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}={value!r}: expected a positive number of seconds")
    return int(value)
