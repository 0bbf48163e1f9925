"""Login, session cookies, token expiry and revocation, rate limits, against a real `etl serve`."""
from __future__ import annotations

import time

import httpx
import jwt
import pytest

from etl_assets.gateway.passwords import hash_password
from etl_assets.gateway.tokens import issue_token
from etl_assets.gateway.users import User, remove_user, save_user
from tests.etl_assets.gateway.served import Served

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("gateway")]


def _form_login(served: Served, user: str, password: str, next_path: str = "/") -> httpx.Response:
    with served.client() as client:
        return client.post("/login", data={"username": user, "password": password, "next": next_path})


def test_browser_without_session_is_sent_to_the_login_page(served: Served) -> None:
    with served.client() as client:
        page = client.get("/runs?view=all", headers={"Accept": "text/html"})
        cross_site = client.get("/runs", headers={"Accept": "text/html", "Sec-Fetch-Site": "cross-site"})
        form = client.get("/login", params={"next": "/runs"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fruns%3Fview%3Dall"
    assert cross_site.status_code == 200 and 'url=/login?next=%2Fruns"' in cross_site.text  # re-sent from here, with the cookie
    assert form.status_code == 200 and 'name="password"' in form.text and 'value="/runs"' in form.text
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]


def test_login_sets_a_strict_session_cookie(served: Served) -> None:
    response = _form_login(served, "vic", served.password("vic"), "/runs")
    assert response.status_code == 303 and response.headers["location"] == "/runs"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("etl_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Max-Age=28800", "Path=/"):
        assert flag in cookie
    session = cookie.split(";", 1)[0]
    with served.client() as client:
        assert client.get("/server_info", headers={"Cookie": session}).status_code == 200
        assert client.get("/api/v1/auth/me", headers={"Cookie": session}).json() == {"name": "vic", "role": "viewer"}
        logout = client.post("/logout", headers={"Cookie": session})
    assert logout.status_code == 303 and 'etl_session=""' in logout.headers["set-cookie"]


def test_wrong_password_and_foreign_redirects(served: Served) -> None:
    wrong = _form_login(served, "vic", "nope")
    assert wrong.status_code == 401 and "invalid user name or password" in wrong.text
    assert "set-cookie" not in wrong.headers
    assert _form_login(served, "vic", served.password("vic"), "//evil.example/x").headers["location"] == "/"
    with served.client() as client:
        unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "whatever1"})
    assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"


def test_expired_forged_and_unsigned_tokens_are_refused(served: Served) -> None:
    expired = issue_token(served.secret, "ada", "admin", "x", 60, now=time.time() - 3600)
    forged = issue_token("another-secret-" + "x" * 40, "ada", "admin", "x", 3600)
    unsigned = jwt.encode({"sub": "ada", "role": "admin", "iss": "etl-gateway", "iat": int(time.time()), "exp": int(time.time()) + 60}, None, algorithm="none")
    with served.client() as client:
        for token in (expired, forged, unsigned):
            assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
            assert client.get("/server_info", headers={"Cookie": f"etl_session={token}"}).status_code == 401


def test_removing_a_user_or_changing_the_password_ends_sessions(served: Served) -> None:
    gone, moved = served.login("gone"), served.login("moved")
    with served.client(gone) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
    remove_user(served.users_file, "gone")
    save_user(served.users_file, User("moved", "viewer", hash_password("a-new-password")))
    for token in (gone, moved):
        with served.client(token) as client:
            assert client.get("/api/v1/auth/me").status_code == 401
    with served.client() as client:
        assert client.post("/api/v1/auth/token", json={"username": "moved", "password": "a-new-password"}).status_code == 200


def test_failed_logins_are_rate_limited_per_user(served: Served) -> None:
    with served.client() as client:
        for _ in range(3):
            assert client.post("/api/v1/auth/token", json={"username": "rl", "password": "wrong-one"}).status_code == 401
        blocked = client.post("/api/v1/auth/token", json={"username": "rl", "password": served.password("rl")})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    page = _form_login(served, "rl", served.password("rl"))
    assert page.status_code == 429 and "too many failed logins" in page.text
    assert served.login("vic")  # other users are not affected
