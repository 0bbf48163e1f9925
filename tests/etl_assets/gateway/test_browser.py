"""In headless Chromium (Debian's, driven by Playwright): a viewer logs in, sees a run and can launch
nothing, by the UI or by hand-made requests; an admin launches a run from the UI."""
from __future__ import annotations

import shutil
from typing import Iterator

import pytest

from tests.conftest import server_unavailable
from tests.etl_assets.gateway.served import FinishedRun, Served

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("gateway")]
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
LAUNCH = {
    "query": "mutation L($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) { __typename } }",
    "variables": {"p": {"selector": {"repositoryLocationName": "etl_assets", "repositoryName": "__repository__", "pipelineName": "shop"}}},
}
FETCH = """async ([url, body]) => (await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})).status"""


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    if not shutil.which("chromium"):
        server_unavailable("Debian's chromium (scripts/setup installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _log_in(page: playwright.Page, served: Served, user: str, path: str) -> None:
    page.goto(served.url + path)
    playwright.expect(page).to_have_url(f"{served.url}/login?next={path.replace('/', '%2F')}")
    page.fill("#username", user)
    page.fill("#password", served.password(user))
    page.click("button[type=submit]")
    playwright.expect(page).to_have_url(served.url + path)


def _new_page(browser: playwright.Browser) -> playwright.Page:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    # Dagster's first-visit newsletter dialog may open at any moment and cover the page: close it then.
    page.add_locator_handler(page.get_by_text("Join the Dagster community"), lambda: page.get_by_role("button", name="Skip").click())
    return page


def test_viewer_sees_a_run_and_cannot_launch(browser: playwright.Browser, served: Served, finished_run: FinishedRun) -> None:
    page = _new_page(browser)
    run_id = finished_run.run["run_id"]
    _log_in(page, served, "web_viewer", f"/runs/{run_id}")
    session = next(c for c in page.context.cookies() if c["name"] == "etl_session")
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    playwright.expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible(timeout=30000)  # the event log, over the websocket
    playwright.expect(page.get_by_text(run_id[:8]).first).to_be_visible()

    page.goto(f"{served.url}/locations/etl_assets/jobs/shop")
    playwright.expect(page.get_by_role("button", name="Materialize all")).to_be_disabled(timeout=30000)
    assert page.evaluate(FETCH, ["/graphql", LAUNCH]) == 403
    assert page.evaluate(FETCH, ["/api/v1/pipelines/shop/runs", {}]) == 403
    page.context.close()


def test_admin_launches_a_run_from_the_ui(browser: playwright.Browser, served: Served, admin_token: str, finished_run: FinishedRun) -> None:
    with served.client(admin_token) as client:
        before = {r["run_id"] for r in client.get("/api/v1/runs", params={"pipeline": "shop", "limit": 100}).json()}
    page = _new_page(browser)
    _log_in(page, served, "web_admin", "/locations/etl_assets/jobs/shop")
    button = page.get_by_role("button", name="Materialize all")
    playwright.expect(button).to_be_enabled(timeout=30000)
    button.click()
    playwright.expect(page.get_by_text("Launched run")).to_be_visible(timeout=30000)
    page.context.close()
    with served.client(admin_token) as client:
        after = {r["run_id"] for r in client.get("/api/v1/runs", params={"pipeline": "shop", "limit": 100}).json()}
        assert len(after - before) == 1
        client.post(f"/api/v1/runs/{(after - before).pop()}/cancel")  # spare the other tests its CPU time
