"""Login for browsers (`/login` form, session cookie) and API clients (`POST /api/v1/auth/token`)."""
from __future__ import annotations

import html
import math
import re
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .auth import COOKIE_NAME, LoginRefused, Principal, client_ip, current_user
from .models import Me, TokenRequest, TokenResponse

router = APIRouter()
LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\\\x7f]*")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the form post Origin: null
}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · ETL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;background:#f4f5f7;display:flex;justify-content:center;align-items:center;height:100vh;margin:0}}
form{{background:#fff;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 2px 12px #0002;min-width:18rem}}
h1{{font-size:1.3rem;margin:0 0 1rem}} label{{display:block;margin:.8rem 0 .2rem;font-size:.9rem}}
input{{width:100%;padding:.5rem;box-sizing:border-box;font-size:1rem}}
button{{margin-top:1.2rem;width:100%;padding:.6rem;font-size:1rem;background:#4f43dd;color:#fff;border:0;border-radius:4px}}
.error{{color:#b00020;margin:.5rem 0 0}}
</style></head>
<body><form method="post" action="/login">
<h1>Sign in to ETL</h1>
{message}
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>
</form></body></html>
"""


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site: no `//host`, backslashes or control characters)."""
    return target if target and LOCAL_PATH.fullmatch(target) else "/"


def login_page(next_path: str, message: str = "", status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    error = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = PAGE.format(message=error, next=html.escape(safe_next(next_path), quote=True))
    return HTMLResponse(body, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


def login_redirect(request: Request) -> Response:
    """Send a browser to the login page and back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login_url = f"/login?next={quote(target, safe='')}"
    if request.headers.get("sec-fetch-site") == "cross-site":
        # A link from another site (an alert, a chat) carries no SameSite=Strict cookie; going on from
        # a page of ours does, so a user who is logged in lands where the link pointed.
        return HTMLResponse(f'<!doctype html><meta http-equiv="refresh" content="0; url={html.escape(login_url, quote=True)}">', headers=PAGE_HEADERS)
    return RedirectResponse(login_url, status_code=303)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    if request.app.state.gateway.auth.principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(next)


@router.post("/login", include_in_schema=False)
async def login_submit(request: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    next_path = safe_next(form.get("next"))
    gateway = request.app.state.gateway
    try:
        principal, token = gateway.auth.login(client_ip(request), form.get("username", ""), form.get("password", ""))
    except LoginRefused as refused:
        headers = {"Retry-After": str(math.ceil(refused.retry_after))} if refused.retry_after else None
        return login_page(next_path, str(refused), refused.status_code, headers)
    response = RedirectResponse(next_path, status_code=303)
    settings = gateway.settings
    response.set_cookie(COOKIE_NAME, token, max_age=settings.token_ttl_seconds, httponly=True, secure=settings.cookie_secure, samesite="strict", path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, secure=request.app.state.gateway.settings.cookie_secure, samesite="strict")
    return response


@router.post(
    "/api/v1/auth/token",
    tags=["auth"],
    response_model=TokenResponse,
    responses={401: {"description": "wrong user name or password"}, 429: {"description": "too many failed logins"}},
)
def token(request: Request, body: TokenRequest) -> Response | TokenResponse:
    """Exchange a user name and password for a Bearer token (rate-limited per address and user)."""
    gateway = request.app.state.gateway
    try:
        principal, access_token = gateway.auth.login(client_ip(request), body.username, body.password)
    except LoginRefused as refused:
        headers = {"Retry-After": str(math.ceil(refused.retry_after))} if refused.retry_after else {"WWW-Authenticate": "Bearer"}
        return JSONResponse({"detail": str(refused)}, status_code=refused.status_code, headers=headers)
    return TokenResponse(access_token=access_token, expires_in=gateway.settings.token_ttl_seconds, role=principal.role)


@router.get("/api/v1/auth/me", tags=["auth"], response_model=Me, responses={401: {"description": "not logged in"}})
def me(principal: Principal = Depends(current_user)) -> Me:
    """Who the token belongs to, and their role."""
    return Me(name=principal.name, role=principal.role)
