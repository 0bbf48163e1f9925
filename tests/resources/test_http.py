"""HttpResource against the real HTTP server process: timeouts, backoff, Retry-After, redaction."""
from __future__ import annotations

import email.utils
import logging
import time

import pytest

from resources.backoff import Backoff, TransientError
from resources.http import HttpError, HttpResource, _retry_after
from tests.support.fake_api import QUERY_KEY, TOKEN
from tests.support.servers import FakeApi, api, api_server  # noqa: F401 - fixtures


def client(api: FakeApi, **kw: object):  # noqa: ANN201
    settings = {"base_url": api.url, "timeout_seconds": 5, "max_retries": 2, "retry_delay_seconds": 0.1, **kw}
    return HttpResource(**settings).client()  # type: ignore[arg-type]


def test_retry_after_is_honoured(api: FakeApi) -> None:
    with client(api) as http:
        started = time.monotonic()
        response = http.request("GET", http.url_for("/flaky429"))
        assert time.monotonic() - started >= 1.0
    assert response.status == 200 and http.requests_sent == 2


def test_each_attempt_has_its_own_timeout(api: FakeApi) -> None:
    with client(api, timeout_seconds=0.5, max_retries=1) as http:
        started = time.monotonic()
        with pytest.raises(TransientError, match="no response within 0.5s"):
            http.request("GET", http.url_for("/slow"))
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5  # two attempts of 0.5 s and a 0.1 s pause, not 3 s each
    assert api.stats() == {"/slow": 2}


def test_4xx_is_not_retried_and_names_status_and_body(api: FakeApi) -> None:
    with client(api) as http, pytest.raises(HttpError, match=r"GET http://127\.0\.0\.1:\d+/unauthorized -> HTTP 401 Unauthorized: .*invalid token"):
        http.request("GET", http.url_for("/unauthorized"))
    assert api.stats() == {"/unauthorized": 1}


def test_a_refused_connection_is_retried_then_reported(api: FakeApi) -> None:
    with client(api, base_url="http://127.0.0.1:1", max_retries=2, retry_delay_seconds=0.01) as http:
        with pytest.raises(TransientError, match="ConnectionError"):
            http.request("GET", http.url_for("/none"))
    assert http.requests_sent == 3


def test_secrets_never_reach_logs_or_errors(api: FakeApi, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("THE_KEY", QUERY_KEY)
    messages: list[str] = []
    resource = HttpResource(base_url=api.url, auth={"type": "api_key", "name": "api_key", "value": "${THE_KEY}", "in": "query"}, max_retries=0)
    with resource.client(log=messages.append) as http:
        assert http.request("GET", http.url_for("/link")).status == 200
        with pytest.raises(HttpError) as err:
            http.request("GET", http.url_for("/unauthorized"))
    assert "GET /link?api_key=" in caplog.text  # urllib3 logged the request line, masked
    for text in (caplog.text, "\n".join(messages), str(err.value)):
        assert QUERY_KEY not in text and "q%2FKey" not in text


def test_bearer_token_is_sent_and_display_urls_carry_no_secret(api: FakeApi) -> None:
    resource = HttpResource(base_url=api.url, auth={"type": "bearer", "token": TOKEN})
    with resource.client() as http:
        assert http.request("GET", http.url_for("page"), {"page": 1}).status == 200
        assert http.display(f"http://user:{TOKEN}@example.com:8080/x?token={TOKEN}") == "http://example.com:8080/x"


def test_retry_after_values() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 31


def test_backoff_doubles_and_caps() -> None:
    backoff = Backoff(retries=5, base_seconds=1, max_seconds=5)
    assert [backoff.delay(i) for i in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.delay(0, retry_after=7) == 7
    assert backoff.delay(0, retry_after=10_000) == 300
    slept: list[float] = []
    calls = iter([TransientError("a"), TransientError("b", retry_after=0.5), "ok"])

    def flaky() -> str:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    assert backoff.call(flaky, lambda e: isinstance(e, TransientError), sleep=slept.append) == "ok"
    assert slept == [1, 0.5]
