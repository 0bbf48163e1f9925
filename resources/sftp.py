"""SFTP servers (paramiko): verified host keys, password or key auth, timeouts, retried transfers.

Host keys are always verified, against `known_hosts` (default `~/.ssh/known_hosts`) and/or a
pinned `host_key_fingerprint` (`SHA256:...` as `ssh-keygen -lf` prints it, or `MD5:..`). An unknown
or changed key fails with a message saying what the server presented; nothing is ever auto-accepted.
"""
from __future__ import annotations

import base64
import errno
import fnmatch
import hashlib
import socket
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, TypeVar

import dagster as dg

from .backoff import Backoff, describe
from .templates import Secrets, number, resolve_path

if TYPE_CHECKING:
    import paramiko

T = TypeVar("T")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_RSA_ALGORITHMS = ["rsa-sha2-512", "rsa-sha2-256"]
_TRANSIENT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE}


class HostKeyError(Exception):
    """The server's host key is unknown or not the expected one (never retried)."""


class SftpAuthError(Exception):
    """The server refused the credentials (never retried)."""


class SftpError(Exception):
    """An SFTP operation that failed (after retries, when the error was transient)."""


class SizeMismatch(Exception):
    """A downloaded file is not as long as the server says (retried)."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    mtime: int


class SftpResource(dg.ConfigurableResource):
    """An SFTP server named in a pipeline's `connections`; strings are `${VAR}` templates."""

    host: str
    port: str = "22"
    username: str
    password: str | None = None
    private_key_path: str | None = None
    known_hosts: str | None = None
    host_key_fingerprint: str | None = None
    timeout_seconds: float = 30
    max_retries: int = 3
    retry_delay_seconds: float = 1.0
    base_dir: str = "."
    """Directory of the config file: relative key and known_hosts paths resolve against it."""

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], base_dir: str) -> "SftpResource":
        """From the connection's raw config (templates kept)."""
        text = {k: str(raw[k]) for k in ("password", "private_key_path", "known_hosts", "host_key_fingerprint") if raw.get(k) is not None}
        return cls(
            host=str(raw["host"]),
            port=str(raw.get("port", 22)),
            username=str(raw["username"]),
            timeout_seconds=number(raw.get("timeout_seconds"), 30),
            max_retries=int(number(raw.get("max_retries"), 3)),
            retry_delay_seconds=number(raw.get("retry_delay_seconds"), 1.0),
            base_dir=base_dir,
            **text,
        )

    def settings(self, secrets: Secrets) -> "SftpSettings":
        """The templates resolved (the password becomes a secret)."""
        password = secrets.resolve(self.password) if self.password else None
        secrets.add(password)
        known_hosts = self.known_hosts or (None if self.host_key_fingerprint else DEFAULT_KNOWN_HOSTS)
        return SftpSettings(
            host=secrets.resolve(self.host),
            port=int(secrets.resolve(self.port)),
            username=secrets.resolve(self.username),
            password=password,
            private_key=resolve_path(secrets.resolve(self.private_key_path), self.base_dir) if self.private_key_path else None,
            known_hosts=resolve_path(secrets.resolve(known_hosts), self.base_dir) if known_hosts else None,
            fingerprint=secrets.resolve(self.host_key_fingerprint).strip() if self.host_key_fingerprint else None,
            timeout=self.timeout_seconds,
        )

    @contextmanager
    def session(self, log: Callable[[str], None] = lambda _: None, secrets: Secrets | None = None) -> Iterator["SftpSession"]:
        """A connected session (connects lazily, reconnects after transient errors)."""
        secrets = secrets or Secrets()
        backoff = Backoff(retries=self.max_retries, base_seconds=self.retry_delay_seconds)
        session = SftpSession(self.settings(secrets), backoff, lambda text: log(secrets.redact(text)))
        try:
            yield session
        finally:
            session.close()


@dataclass(frozen=True)
class SftpSettings:
    host: str
    port: int
    username: str
    password: str | None
    private_key: Path | None
    known_hosts: Path | None
    fingerprint: str | None
    timeout: float

    @property
    def known_hosts_name(self) -> str:
        """The host as known_hosts names it: `host`, or `[host]:port` off port 22."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    @property
    def display(self) -> str:
        return f"sftp://{self.username}@{self.host}:{self.port}"


class SftpSession:
    """Listing and downloading, each retried (on a fresh connection) after a transient error."""

    def __init__(self, settings: SftpSettings, backoff: Backoff, log: Callable[[str], None]):
        self.settings = settings
        self.backoff = backoff
        self.log = log
        self._transport: "paramiko.Transport | None" = None
        self._sftp: "paramiko.SFTPClient | None" = None

    def glob(self, pattern: str) -> list[RemoteFile]:
        """Regular files matching a remote path or glob (`*`, `?`, `[..]` in any segment), sorted."""
        return self._retrying(f"listing {pattern}", lambda sftp: remote_glob(sftp, pattern))

    def download(self, file: RemoteFile, dest: Path, progress: Callable[[int, int], None] | None = None) -> int:
        """Copy a remote file to dest and check its size; returns the bytes."""
        return self._retrying(f"downloading {file.path}", lambda sftp: _fetch(sftp, file.path, dest, progress))

    def close(self) -> None:
        for closable in (self._sftp, self._transport):
            if closable is not None:
                try:
                    closable.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
        self._sftp = self._transport = None

    def _retrying(self, what: str, action: Callable[["paramiko.SFTPClient"], T]) -> T:
        def attempt() -> T:
            try:
                return action(self._client())
            except Exception as exc:
                if is_transient(exc):
                    self.close()
                raise

        try:
            return self.backoff.call(attempt, is_transient, self.log, f"{self.settings.display}: {what}")
        except (HostKeyError, SftpAuthError):
            raise
        except Exception as exc:
            raise _describe_error(exc, self.settings.display, what) from None

    def _client(self) -> "paramiko.SFTPClient":
        if self._sftp is None:
            self._transport = connect(self.settings)
            import paramiko

            self._sftp = paramiko.SFTPClient.from_transport(self._transport)
            assert self._sftp is not None
            self._sftp.get_channel().settimeout(self.settings.timeout)
        return self._sftp


def _describe_error(exc: Exception, where: str, what: str) -> Exception:
    """The final error of a failed operation, naming the server and what was being done."""
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return FileNotFoundError(f"{where}: {what}: no such file")
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
        return PermissionError(f"{where}: {what}: permission denied")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TimeoutError(f"{where}: {what}: no answer within the timeout")
    return SftpError(f"{where}: {what} failed: {describe(exc)}")


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: timeouts, refused/reset connections, dropped sessions, short downloads."""
    import paramiko

    if isinstance(exc, (HostKeyError, SftpAuthError, paramiko.AuthenticationException, paramiko.BadHostKeyException)):
        return False
    if isinstance(exc, (SizeMismatch, socket.timeout, TimeoutError, EOFError, ConnectionError, paramiko.SSHException)):
        return True
    if isinstance(exc, OSError) and exc.errno is None and str(exc) == "Socket is closed":
        return True  # paramiko's word for a transport the server dropped
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


# --- connecting --------------------------------------------------------------------------------------


def connect(s: SftpSettings) -> "paramiko.Transport":
    """An authenticated transport to a server whose host key was verified."""
    known = _known_keys(s)
    preferred = _key_algorithms(known.values()) if known else None
    transport = _handshake(s, preferred)
    try:
        key = transport.get_remote_server_key()
        if s.fingerprint and not fingerprint_matches(key, s.fingerprint) and not known:
            transport.close()
            transport, key = _find_pinned_key(s, key)
        verify_host_key(s, key, known)
        _authenticate(transport, s)
    except BaseException:
        transport.close()
        raise
    return transport


def _handshake(s: SftpSettings, key_algorithms: list[str] | None) -> "paramiko.Transport":
    import paramiko

    sock = socket.create_connection((s.host, s.port), timeout=s.timeout)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = s.timeout
    if key_algorithms:
        options = transport.get_security_options()
        options.key_types = key_algorithms + [t for t in options.key_types if t not in key_algorithms]
    try:
        transport.start_client(timeout=s.timeout)
    except BaseException:
        transport.close()
        raise
    return transport


def _find_pinned_key(s: SftpSettings, first: "paramiko.PKey") -> tuple["paramiko.Transport", "paramiko.PKey"]:
    """The server may hold keys of several types: ask for each until one has the pinned fingerprint."""
    import paramiko

    offered = [first]
    for name in paramiko.Transport._preferred_keys:
        if name in _RSA_ALGORITHMS[1:] or name == _key_algorithms([first])[0]:
            continue
        try:
            transport = _handshake(s, [name])
        except paramiko.SSHException:
            continue  # the server has no key of this type
        key = transport.get_remote_server_key()
        if fingerprint_matches(key, s.fingerprint or ""):
            return transport, key
        offered.append(key)
        transport.close()
    shown = ", ".join(f"{k.get_name()} {fingerprint(k)}" for k in offered)
    raise HostKeyError(
        f"host key of {s.host}:{s.port} does not match host_key_fingerprint {s.fingerprint}: the server offered {shown}."
        " If the server's key really changed, verify the new one out of band and update the pin."
    )


def _known_keys(s: SftpSettings) -> dict[str, "paramiko.PKey"]:
    """known_hosts keys of this host, by key type ({} without a known_hosts file setting)."""
    import paramiko

    if s.known_hosts is None:
        return {}
    if not s.known_hosts.is_file():
        raise HostKeyError(f"known_hosts file {s.known_hosts} does not exist; host keys are always verified")
    keys = paramiko.HostKeys(str(s.known_hosts)).lookup(s.known_hosts_name)
    return dict(keys.items()) if keys else {}


def _key_algorithms(keys: Any) -> list[str]:
    """Host key algorithms for known keys (an RSA key is checked with rsa-sha2-*)."""
    out: list[str] = []
    for key in keys:
        name = key.get_name()
        out += _RSA_ALGORITHMS if name == "ssh-rsa" else [name]
    return list(dict.fromkeys(out))


def verify_host_key(s: SftpSettings, key: "paramiko.PKey", known: Mapping[str, "paramiko.PKey"]) -> None:
    """Raise HostKeyError unless the key is in known_hosts (when set) and has the pinned fingerprint."""
    presented = f"{key.get_name()} {fingerprint(key)}"
    if s.fingerprint and not fingerprint_matches(key, s.fingerprint):
        raise HostKeyError(f"host key of {s.host}:{s.port} ({presented}) does not match host_key_fingerprint {s.fingerprint}")
    if s.known_hosts is None:
        return
    expected = known.get(key.get_name())
    if expected is None and not known:
        raise HostKeyError(
            f"host key of {s.known_hosts_name} ({presented}) is not in {s.known_hosts}; verify it out of band and add it"
            f" (e.g. ssh-keyscan -p {s.port} {s.host} >> {s.known_hosts}) or pin host_key_fingerprint"
        )
    if expected is None or expected.asbytes() != key.asbytes():
        listed = ", ".join(f"{k.get_name()} {fingerprint(k)}" for k in known.values())
        raise HostKeyError(
            f"HOST KEY CHANGED for {s.known_hosts_name}: the server offered {presented} but {s.known_hosts} has {listed}."
            " Someone may be intercepting the connection; if the key really changed, verify it and update known_hosts"
        )


def fingerprint(key: "paramiko.PKey") -> str:
    """`SHA256:<base64>` as `ssh-keygen -l` prints it."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def fingerprint_matches(key: "paramiko.PKey", pinned: str) -> bool:
    """Compare with a pinned `SHA256:...` or `MD5:aa:bb:..` fingerprint."""
    kind, _, value = pinned.strip().partition(":")
    if kind.upper() == "MD5":
        return value.replace(":", "").lower() == hashlib.md5(key.asbytes()).hexdigest()  # noqa: S324 - a legacy fingerprint format
    return pinned.strip().rstrip("=") == fingerprint(key)


def _authenticate(transport: "paramiko.Transport", s: SftpSettings) -> None:
    import paramiko

    try:
        if s.private_key is not None:
            try:
                transport.auth_publickey(s.username, _load_key(s))
                return
            except paramiko.AuthenticationException:
                if not s.password:
                    raise
        if s.password:
            transport.auth_password(s.username, s.password)
    except paramiko.AuthenticationException as exc:
        method = "key" if s.private_key and not s.password else "password" if not s.private_key else "key and password"
        raise SftpAuthError(f"{s.display}: authentication failed for user {s.username} ({method}): {exc}") from None


def _load_key(s: SftpSettings) -> "paramiko.PKey":
    import paramiko

    assert s.private_key is not None
    try:
        return paramiko.PKey.from_path(s.private_key, s.password)
    except FileNotFoundError:
        raise SftpAuthError(f"private_key_path {s.private_key} does not exist") from None
    except paramiko.PasswordRequiredException:
        raise SftpAuthError(f"private key {s.private_key} is encrypted; give its passphrase as password") from None
    except (paramiko.SSHException, ValueError) as exc:
        raise SftpAuthError(f"cannot read private key {s.private_key}: {exc}") from None


# --- files ---------------------------------------------------------------------------------------------


def remote_glob(sftp: "paramiko.SFTPClient", pattern: str) -> list[RemoteFile]:
    """Regular files matching pattern; a segment starting with `*` or `?` skips dot files."""
    path = PurePosixPath(pattern)
    candidates = [PurePosixPath(path.parts[0])] if path.is_absolute() else [PurePosixPath(".")]
    for part in path.parts[1:] if path.is_absolute() else path.parts:
        candidates = [c / name for c in candidates for name in _matches(sftp, c, part)]
    files = []
    for candidate in candidates:
        attrs = sftp.stat(str(candidate))
        if attrs.st_mode is not None and stat.S_ISREG(attrs.st_mode):
            files.append(RemoteFile(str(candidate), int(attrs.st_size or 0), int(attrs.st_mtime or 0)))
    return sorted(files, key=lambda f: f.path)


def _matches(sftp: "paramiko.SFTPClient", directory: PurePosixPath, part: str) -> list[str]:
    if not any(c in part for c in "*?["):
        try:
            sftp.stat(str(directory / part))
        except FileNotFoundError:
            return []
        return [part]
    try:
        names = sftp.listdir(str(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    hidden_ok = part.startswith(".")
    return sorted(n for n in names if fnmatch.fnmatchcase(n, part) and (hidden_ok or not n.startswith(".")))


def _fetch(sftp: "paramiko.SFTPClient", path: str, dest: Path, progress: Callable[[int, int], None] | None) -> int:
    with open(dest, "wb") as fh:
        sftp.getfo(path, fh, callback=progress)
    got = dest.stat().st_size
    expected = sftp.stat(path).st_size
    if got != expected:
        raise SizeMismatch(f"downloaded {got} bytes of {path}, the server says {expected}")
    return got
