"""HTTP APIs (requests): auth, timeouts, retries with backoff honouring Retry-After, secret redaction."""
from __future__ import annotations

import base64
import email.utils
import time
from http import HTTPStatus
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from typing import TYPE_CHECKING

import dagster as dg

from .backoff import Backoff, TransientError, describe
from .templates import Secrets, number, redacted_loggers

if TYPE_CHECKING:
    import requests

BODY_EXCERPT_CHARS = 300
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "requests")


class HttpError(Exception):
    """A response that retrying will not fix (4xx other than 429), or a broken limit."""


class BodyTooLarge(HttpError):
    """A response body longer than the caller's byte limit."""


class HttpResource(dg.ConfigurableResource):
    """An HTTP API named in a pipeline's `connections`; every string is a `${VAR}` template."""

    base_url: str
    headers: dict[str, str] = {}
    auth: dict[str, str] | None = None
    """`{type: bearer, token}`, `{type: basic, username, password}` or `{type: api_key, name, value, in}`."""
    timeout_seconds: float = 30
    max_retries: int = 3
    retry_delay_seconds: float = 1.0

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> "HttpResource":
        """From the connection's raw config (templates kept)."""
        auth = raw.get("auth")
        return cls(
            base_url=str(raw.get("base_url") or raw.get("url") or ""),
            headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
            auth={str(k): str(v) for k, v in auth.items()} if auth else None,
            timeout_seconds=number(raw.get("timeout_seconds"), 30),
            max_retries=int(number(raw.get("max_retries"), 3)),
            retry_delay_seconds=number(raw.get("retry_delay_seconds"), 1.0),
        )

    def client(
        self,
        headers: Mapping[str, str] | None = None,
        auth: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda _: None,
        secrets: Secrets | None = None,
        timeout_seconds: float | None = None,
    ) -> "HttpClient":
        """A client with the templates resolved; `headers`/`auth` (templates) override the resource's."""
        secrets = secrets or Secrets()
        resolved_headers = {k: secrets.resolve(v) for k, v in {**self.headers, **(headers or {})}.items()}
        resolved_auth = {k: secrets.resolve(v) for k, v in (auth or self.auth or {}).items()}
        for name, value in resolved_headers.items():
            if name.lower() in ("authorization", "proxy-authorization", "cookie") or "key" in name.lower() or "token" in name.lower():
                secrets.add(value)
        return HttpClient(
            base_url=secrets.resolve(self.base_url),
            headers=resolved_headers,
            auth=AuthParts.of(resolved_auth, secrets),
            timeout_seconds=timeout_seconds or self.timeout_seconds,
            backoff=Backoff(retries=self.max_retries, base_seconds=self.retry_delay_seconds),
            secrets=secrets,
            log=log,
        )


@dataclass(frozen=True)
class AuthParts:
    """What auth adds to every request: headers and query parameters."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, auth: Mapping[str, str], secrets: Secrets) -> "AuthParts":
        kind = auth.get("type")
        if not kind:
            return cls()
        if kind == "bearer":
            secrets.add(auth["token"])
            return cls(headers={"Authorization": f"Bearer {auth['token']}"})
        if kind == "basic":
            token = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
            secrets.add(auth["password"], token)
            return cls(headers={"Authorization": f"Basic {token}"})
        if kind == "api_key":
            value = auth["value"]
            secrets.add(value, quote(value, safe=""), quote_plus(value))
            if auth.get("in", "header") == "query":
                return cls(params={auth["name"]: value})
            return cls(headers={auth["name"]: value})
        raise ValueError(f"unknown auth type {kind!r}")


@dataclass
class HttpResponse:
    """A fully read response."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    links: dict[str, dict[str, str]]


class HttpClient:
    """Requests with timeouts, transient-error retries and secrets redacted from every message."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        auth: AuthParts,
        timeout_seconds: float,
        backoff: Backoff,
        secrets: Secrets,
        log: Callable[[str], None],
    ):
        self.base_url = base_url
        self.auth = auth
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff
        self.secrets = secrets
        self.log = lambda text: log(secrets.redact(text))
        import requests  # imported by the API sources that use it (~70 ms of every run otherwise)

        self.session = requests.Session()
        self.session.headers.update({**headers, **auth.headers})
        self.requests_sent = 0

    def __enter__(self) -> "HttpClient":
        self._quiet = redacted_loggers(self.secrets, *_URLLIB3_LOGGERS)
        self._quiet.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self._quiet.__exit__(*exc)

    def url_for(self, endpoint: str) -> str:
        """`base_url` joined with `endpoint` (an absolute endpoint URL is used as is)."""
        if endpoint.startswith(("http://", "https://")):
            return endpoint
        if not endpoint:
            return self.base_url
        return self.base_url.rstrip("/") + "/" + endpoint.lstrip("/")

    def display(self, url: str) -> str:
        """A URL fit for logs and metadata: no user info, no query string, no secret."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return self.secrets.redact(urlunsplit((parts.scheme, netloc, parts.path, "", "")))

    def request(self, method: str, url: str, params: Mapping[str, Any] | None = None, max_bytes: int | None = None) -> HttpResponse:
        """One request, retried on connection errors, timeouts, 429 and 5xx; other 4xx raise HttpError."""
        shown = f"{method} {self.display(url)}"

        def attempt() -> HttpResponse:
            self.requests_sent += 1
            return self._send(method, url, params, max_bytes, shown)

        return self.backoff.call(attempt, lambda e: isinstance(e, TransientError), self.log, shown)

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, max_bytes: int | None, shown: str) -> HttpResponse:
        query = {**(dict(params or {}) if method == "GET" else {}), **self.auth.params}
        body = dict(params or {}) if method != "GET" else None
        url = _without_query_params(url, self.auth.params)
        import requests

        try:
            with self.session.request(method, url, params=query or None, json=body, timeout=self.timeout_seconds, stream=True, allow_redirects=True) as resp:
                content = _read_capped(resp, max_bytes, shown)
                status, headers, links, final_url = resp.status_code, dict(resp.headers), dict(resp.links), resp.url
        except requests.Timeout:
            raise TransientError(f"{shown}: no response within {self.timeout_seconds:g}s") from None
        except requests.RequestException as exc:
            raise TransientError(self.secrets.redact(f"{shown}: {describe(exc)}")) from None
        self.log(f"{shown} -> {status} ({len(content)} bytes)")
        if status == 429 or status >= 500:
            raise TransientError(self._status_message(shown, status, content), retry_after=_retry_after(headers.get("Retry-After")))
        if status >= 400:
            raise HttpError(self._status_message(shown, status, content))
        return HttpResponse(final_url, status, headers, content, links)

    def _status_message(self, shown: str, status: int, content: bytes) -> str:
        excerpt = content[:BODY_EXCERPT_CHARS].decode("utf-8", "replace").strip()
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        return self.secrets.redact(f"{shown} -> HTTP {status} {reason}: {excerpt}" if excerpt else f"{shown} -> HTTP {status} {reason}")


def _read_capped(resp: requests.Response, max_bytes: int | None, shown: str) -> bytes:
    """The body, failing as soon as it passes max_bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(65536):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise BodyTooLarge(f"{shown}: the response is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _without_query_params(url: str, names: Mapping[str, Any]) -> str:
    """url without the named query parameters (auth adds them itself, e.g. to a `rel="next"` link)."""
    if not names:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
