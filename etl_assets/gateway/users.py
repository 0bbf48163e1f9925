"""Users and roles: a YAML file of password hashes, and/or `ETL_USER_<NAME>=<role>:<hash>` variables."""
from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, get_args

import yaml

from .passwords import is_password_hash

Role = Literal["admin", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
ENV_PREFIX = "ETL_USER_"
FILE_HEADER = "# etl gateway users: name -> role and argon2/bcrypt password hash. Edit with `etl user add`.\n"


class UsersError(Exception):
    """The users file or a user variable is invalid; the message names it."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str


def check_user(name: str, role: str, password_hash: str, where: str) -> User:
    """A User, or UsersError naming `where` (file or variable) and what is wrong."""
    if not NAME.fullmatch(name):
        raise UsersError(f"{where}: user name {name!r} must match {NAME.pattern}")
    if role not in ROLES:
        raise UsersError(f"{where}: user {name}: role {role!r} is not one of {', '.join(ROLES)}")
    if not is_password_hash(password_hash):
        raise UsersError(f"{where}: user {name}: password_hash is not an argon2 or bcrypt hash (plain-text passwords are refused)")
    return User(name, role, password_hash)  # type: ignore[arg-type]


def read_users_file(path: Path) -> dict[str, User]:
    """Users of the file; {} when it does not exist."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsersError(f"{path}: cannot read users file: {exc}") from exc
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise UsersError(f"{path}: expected a mapping `users: {{name: {{role: ..., password_hash: ...}}}}`")
    users = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise UsersError(f"{path}: user {name}: expected role and password_hash")
        users[str(name)] = check_user(str(name), str(entry.get("role", "")), str(entry.get("password_hash", "")), str(path))
    return users


def env_users(env: Mapping[str, str]) -> dict[str, User]:
    """Users from `ETL_USER_<NAME>=<role>:<hash>` (name lower-cased)."""
    users = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX):].lower()
            role, _, password_hash = value.partition(":")
            users[name] = check_user(name, role, password_hash, key)
    return users


def save_user(path: Path, user: User) -> None:
    """Add or replace one user in the file (created 0600), written atomically."""
    users = read_users_file(path)
    users[user.name] = user
    _write_users(path, users)


def _write_users(path: Path, users: dict[str, User]) -> None:
    data = {"users": {u.name: {"role": u.role, "password_hash": u.password_hash} for u in sorted(users.values(), key=lambda u: u.name)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(FILE_HEADER + yaml.safe_dump(data, sort_keys=False))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class UserStore:
    """Current users; the file is re-read when it changes, so removing a user or a role takes effect at once."""

    def __init__(self, path: Path, env: Mapping[str, str] | None = None):
        self.path = path
        self._env = env_users(os.environ if env is None else env)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._file: dict[str, User] = {}
        self._refresh()

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._file = read_users_file(self.path)
                self._stamp = stamp

    def get(self, name: str) -> User | None:
        """The user (variables win over the file), or None."""
        try:
            self._refresh()
        except UsersError:
            pass  # a file broken while running keeps the last good users
        return self._env.get(name) or self._file.get(name)

    def count(self) -> int:
        return len({*self._env, *self._file})


def remove_user(path: Path, name: str) -> bool:
    """Remove one user from the file; False when it was not there."""
    users = read_users_file(path)
    if users.pop(name, None) is None:
        return False
    _write_users(path, users)
    return True
