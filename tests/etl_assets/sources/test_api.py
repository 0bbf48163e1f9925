"""API sources end to end through Dagster, against a real HTTP server process (tests/support/fake_api.py)."""
from __future__ import annotations

import json
import logging
import textwrap
import time

import pytest

from tests.support.fake_api import BASIC, HEADER_KEY, QUERY_KEY, RECORDS, TOKEN
from tests.support.pipelines import Project, project  # noqa: F401 - fixture
from tests.support.servers import FakeApi, api, api_server  # noqa: F401 - fixtures

SECRETS = [TOKEN, BASIC[1], HEADER_KEY, QUERY_KEY]


def expected_rows() -> list[dict]:
    """The recorded records as the contract says they arrive: nested keys flattened, lists as JSON."""
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "address.city": r["address"]["city"],
            "address.geo.lat": r["address"]["geo"]["lat"],
            "tags": json.dumps(r["tags"]),
            "score": float(r["score"]),
        }
        for r in RECORDS
    ]


def write_pipeline(project: Project, api: FakeApi, source: str, connection: str = "", retries: int = 2, timeout: float = 5) -> None:
    """A pipeline `shop`: the api source `items` (its keys in `source`) -> a JSON Lines file."""
    text = f"""\
pipeline: shop
connections:
  shop_api:
    type: http
    base_url: {api.url}
    timeout_seconds: {timeout}
    max_retries: {retries}
    retry_delay_seconds: 0.1
{indent(connection, 4)}
sources:
  - name: items
    type: api
{indent(source, 4)}
targets:
  - name: items_file
    input: items
    type: file
    path: out/items.jsonl
"""
    project.write("shop", text)


def indent(text: str, spaces: int) -> str:
    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * spaces)


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("API_PASSWORD", BASIC[1])
    monkeypatch.setenv("API_HEADER_KEY", HEADER_KEY)
    monkeypatch.setenv("API_QUERY_KEY", QUERY_KEY)


PAGINATIONS = {
    "page": (
        "/page",
        """
        connection: shop_api
        endpoint: /page
        auth: {type: bearer, token: "${API_TOKEN}"}
        records_path: data.items
        pagination: {type: page, page_param: page, size_param: per_page, size: 3}
        """,
    ),
    "offset": (
        "/offset",
        """
        connection: shop_api
        endpoint: offset
        auth: {type: basic, username: etl, password: "${API_PASSWORD}"}
        records_path: results
        pagination: {type: offset, offset_param: offset, limit_param: limit, size: 3}
        """,
    ),
    "cursor": (
        "/cursor",
        """
        connection: shop_api
        endpoint: /cursor
        auth: {type: api_key, name: X-Api-Key, value: "${API_HEADER_KEY}", in: header}
        records_path: items
        pagination: {type: cursor, cursor_param: cursor, cursor_path: meta.next}
        """,
    ),
    "cursor_url": (
        "/cursor_url",
        """
        connection: shop_api
        endpoint: /cursor_url
        auth: {type: api_key, name: X-Api-Key, value: "${API_HEADER_KEY}"}
        records_path: items
        pagination: {type: cursor, cursor_path: meta.next}
        """,
    ),
    "link_header": (
        "/link",
        """
        connection: shop_api
        endpoint: /link
        auth: {type: api_key, name: api_key, value: "${API_QUERY_KEY}", in: query}
        pagination: {type: link_header}
        """,
    ),
}


@pytest.mark.parametrize("style", sorted(PAGINATIONS))
def test_each_pagination_style_reads_every_record_once(
    style: str, project: Project, api: FakeApi, secrets_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path, yaml = PAGINATIONS[style]
    write_pipeline(project, api, yaml)
    run = project.run("shop", select=["items"])
    assert run.success, run.failures()
    assert project.table("shop", "items").to_pylist() == expected_rows()
    assert api.stats() == {path: 3}
    meta = run.metadata("shop", "items")
    assert meta["pages"] == 3 and meta["requests"] == 3 and meta["bytes"] > 0
    assert meta["url"] == f"{api.url}{path}"
    for secret in SECRETS:
        assert secret not in run.text()
        assert secret not in caplog.text


def test_nested_records_without_pagination_and_a_literal_url(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, f"url: {api.url}\nendpoint: none")
    run = project.run("shop")
    assert run.success, run.failures()
    assert project.table("shop", "items").to_pylist() == expected_rows()
    assert api.stats() == {"/none": 1}
    lines = (project.configs / "out" / "items.jsonl").read_text().splitlines()
    assert len(lines) == len(RECORDS)


def test_429_waits_for_retry_after_then_succeeds(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, "connection: shop_api\nendpoint: /flaky429")
    started = time.monotonic()
    run = project.run("shop", select=["items"])
    assert run.success, run.failures()
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 (the retry delay alone is 0.1 s)
    assert api.stats() == {"/flaky429": 2}
    assert project.table("shop", "items").num_rows == len(RECORDS)
    assert any("HTTP 429" in line and "retry 1/2" in line for line in run.logs)


def test_500_is_retried_then_succeeds(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, "connection: shop_api\nendpoint: /flaky500")
    run = project.run("shop", select=["items"])
    assert run.success, run.failures()
    assert api.stats() == {"/flaky500": 2}
    assert project.table("shop", "items").to_pylist() == expected_rows()


def test_persistent_5xx_fails_after_the_retries(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, "connection: shop_api\nendpoint: /always503", retries=2)
    run = project.run("shop", select=["items"])
    assert not run.success
    assert api.stats() == {"/always503": 3}
    assert "HTTP 503" in run.failures()[0] and "maintenance" in run.failures()[0]
    assert not project.stored("shop", "items")


def test_401_fails_at_once_with_status_and_body(project: Project, api: FakeApi, secrets_env: None) -> None:
    auth = 'auth: {type: api_key, name: api_key, value: "${API_QUERY_KEY}", in: query}'
    write_pipeline(project, api, f"connection: shop_api\nendpoint: /unauthorized\n{auth}", retries=3)
    run = project.run("shop", select=["items"])
    assert not run.success
    assert api.stats() == {"/unauthorized": 1}
    [error] = run.failures()
    assert "HTTP 401" in error and "the token has expired" in error
    assert f"{api.url}/unauthorized" in error
    assert QUERY_KEY not in run.text()


def test_a_slow_response_times_out_and_is_retried(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, "connection: shop_api\nendpoint: /slow", retries=1, timeout=0.5)
    run = project.run("shop", select=["items"])
    assert not run.success
    assert api.stats() == {"/slow": 2}
    assert "no response within 0.5s" in run.failures()[0]


def test_secrets_written_literally_are_redacted_too(project: Project, api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = f'auth: {{type: api_key, name: api_key, value: "{QUERY_KEY}", in: query}}'
    write_pipeline(project, api, "connection: shop_api\nendpoint: /link\npagination: {type: link_header}", connection=auth)
    run = project.run("shop", select=["items"])
    assert run.success, run.failures()
    assert api.stats() == {"/link": 3}
    assert QUERY_KEY not in run.text() and QUERY_KEY not in caplog.text


def test_max_pages_stops_a_runaway_pagination(project: Project, api: FakeApi, secrets_env: None) -> None:
    _, yaml = PAGINATIONS["page"]
    write_pipeline(project, api, yaml.replace("size: 3}", "size: 3, max_pages: 2}"))
    run = project.run("shop", select=["items"])
    assert not run.success
    assert "max_pages=2" in run.failures()[0]
    assert api.stats() == {"/page": 2}


def test_max_bytes_caps_the_download(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, "connection: shop_api\nendpoint: /none\nmax_bytes: 100")
    run = project.run("shop", select=["items"])
    assert not run.success
    assert "max_bytes=100" in run.failures()[0]


def test_a_next_link_to_another_host_is_refused(project: Project, api: FakeApi) -> None:
    write_pipeline(project, api, "connection: shop_api\nendpoint: /offsite\npagination: {type: link_header}")
    run = project.run("shop", select=["items"])
    assert not run.success
    assert "another host" in run.failures()[0]
