"""The ASGI app: login, the REST API, /metrics, and the proxy to Dagster for everything else."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request, WebSocket, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from . import login, routes_configs, routes_ops, routes_pipelines, routes_runs
from .auth import Principal, current_user
from .dagster_api import DagsterApiError
from .proxy import proxy_http, proxy_websocket, same_origin
from .state import Gateway

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
API_DESCRIPTION = """Drive pipelines from other systems. Get a token with `POST /api/v1/auth/token` and send it as
`Authorization: Bearer <token>`. Role `viewer` may read everything; launching, canceling and uploading need `admin`."""


class SameOriginMiddleware:
    """Refuse state-changing requests that a page of another site sent (CSRF), on top of SameSite=Strict."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != headers.get("host"):
                await JSONResponse({"detail": "cross-site request refused"}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _unauthenticated(request: Request) -> Response:
    """A browser goes to the login page; anything else gets 401."""
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return login.login_redirect(request)
    return JSONResponse({"detail": "not logged in"}, status_code=status.HTTP_401_UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def create_app(gateway: Gateway) -> FastAPI:
    """The gateway app; `gateway` is closed when the app shuts down."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gateway.record_loaded("etl serve")
        yield
        await gateway.close()

    app = FastAPI(
        title="ETL gateway API",
        version="1",
        description=API_DESCRIPTION,
        openapi_url=None,  # served below, to logged-in users only
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.add_middleware(SameOriginMiddleware)
    for module in (login, routes_ops, routes_pipelines, routes_runs, routes_configs):
        app.include_router(module.router)

    @app.exception_handler(DagsterApiError)
    async def dagster_error(_: Request, exc: DagsterApiError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    async def openapi(_: Principal = Depends(current_user)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/v1/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        if gateway.auth.principal(request) is None:
            return _unauthenticated(request)
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title=f"{app.title} docs")

    @app.api_route("/api/v1/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
    async def api_not_found(rest: str) -> JSONResponse:
        return JSONResponse({"detail": f"no API route /api/v1/{rest}"}, status_code=status.HTTP_404_NOT_FOUND)

    @app.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
    async def to_dagster(request: Request, path: str) -> Response:
        principal = gateway.auth.principal(request)
        if principal is None:
            return _unauthenticated(request)

        async def after_reload() -> None:
            await gateway.record_loaded(f"reload by {principal.name}")

        return await proxy_http(request, principal, gateway.upstream_for(principal), after_reload)

    @app.websocket("/{path:path}")
    async def to_dagster_ws(websocket: WebSocket, path: str) -> None:
        principal = gateway.auth.principal(websocket)
        if principal is None or not same_origin(websocket):
            await websocket.close(code=4401 if principal is None else 4403)
            return
        await proxy_websocket(websocket, principal, gateway.upstream_for(principal))

    return app
