"""Reverse proxy to the Dagster webservers: admins to the normal one, viewers to the read-only one.

Viewers are also held to read-only requests here (defence in depth): only GET/HEAD, and POSTs to
/graphql that hold no mutation; over the GraphQL websocket, no mutation either.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .auth import Principal
from .graphql_guard import RELOAD_MUTATIONS, Unreadable, mutation_fields, request_queries, websocket_query

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}
DROP_REQUEST = HOP_BY_HOP | {"host", "authorization", "cookie", "content-length"}
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
POLICY_VIOLATION = 4403


@dataclass
class Upstream:
    """One dagster-webserver: its base URL and a pooled client."""

    url: str
    client: httpx.AsyncClient

    @classmethod
    def create(cls, url: str) -> "Upstream":
        timeout = httpx.Timeout(connect=10, read=600, write=60, pool=30)
        return cls(url.rstrip("/"), httpx.AsyncClient(base_url=url, timeout=timeout, follow_redirects=False))

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):]


def viewer_refusal(method: str, path: str, query_values: list[str], content_type: str, body: bytes) -> str | None:
    """Why a viewer may not send this request, or None when it only reads."""
    if method not in READ_METHODS and not (method == "POST" and path == "/graphql"):
        return f"viewers may only read: {method} {path} is refused"
    if path != "/graphql":
        return None
    try:
        if any(mutation_fields(q) for q in request_queries(query_values, content_type, body)):
            return "viewers may not run GraphQL mutations (launch, terminate, reload, ...)"
    except Unreadable:
        return "unreadable GraphQL document"
    return None


async def proxy_http(request: Request, principal: Principal, upstream: Upstream, after_reload: Callable[[], Awaitable[None]]) -> Response:
    """Forward the request; for viewers, refuse anything that is not read-only with 403."""
    body = await request.body()
    path = request.url.path
    content_type = request.headers.get("content-type", "")
    query_values = request.query_params.getlist("query")
    if not principal.is_admin:
        refusal = viewer_refusal(request.method, path, query_values, content_type, body)
        if refusal:
            return JSONResponse({"detail": refusal}, status_code=403)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROP_REQUEST]
    outgoing = upstream.client.build_request(request.method, path, params=request.url.query, headers=headers, content=body)
    try:
        response = await upstream.client.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        return JSONResponse({"detail": f"Dagster webserver unreachable: {type(exc).__name__}"}, status_code=502)
    reloads = principal.is_admin and path == "/graphql" and request.method == "POST" and _reloads(query_values, content_type, body)
    task = BackgroundTask(_finish, response, after_reload if reloads and response.status_code == 200 else None)
    out = StreamingResponse(response.aiter_raw(), status_code=response.status_code, background=task)
    out.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
    return out


def _reloads(query_values: list[str], content_type: str, body: bytes) -> bool:
    try:
        return any(mutation_fields(q) & RELOAD_MUTATIONS for q in request_queries(query_values, content_type, body))
    except Unreadable:
        return False


async def _finish(response: httpx.Response, then: Callable[[], Awaitable[None]] | None) -> None:
    await response.aclose()
    if then is not None:
        await then()


def same_origin(websocket: WebSocket) -> bool:
    """A browser's websocket must come from a page of this gateway (no cross-site websocket hijacking)."""
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


async def proxy_websocket(websocket: WebSocket, principal: Principal, upstream: Upstream) -> None:
    """Relay the GraphQL websocket both ways; a viewer's mutation closes it with 4403."""
    subprotocols = list(websocket.scope.get("subprotocols") or [])
    url = upstream.ws_url + websocket.url.path + (f"?{websocket.url.query}" if websocket.url.query else "")
    try:
        upstream_ws = await connect(url, subprotocols=subprotocols or None, max_size=None, open_timeout=10)  # type: ignore[arg-type]
    except (OSError, InvalidHandshake, TimeoutError):
        await websocket.close(code=1011)
        return
    async with upstream_ws:
        await websocket.accept(subprotocol=upstream_ws.subprotocol)

        async def client_to_upstream() -> None:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text, data = message.get("text"), message.get("bytes")
                if text is not None and not principal.is_admin and _viewer_ws_refused(text):
                    await websocket.close(code=POLICY_VIOLATION, reason="viewers may not run GraphQL mutations")
                    return
                await upstream_ws.send(text if text is not None else data or b"")

        async def upstream_to_client() -> None:
            async for message in upstream_ws:
                if isinstance(message, str):
                    await websocket.send_text(message)
                else:
                    await websocket.send_bytes(message)
            await websocket.close()

        tasks = [asyncio.create_task(client_to_upstream()), asyncio.create_task(upstream_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except (asyncio.CancelledError, ConnectionClosed, WebSocketDisconnect, RuntimeError):
                    pass


def _viewer_ws_refused(message: str) -> bool:
    query = websocket_query(message)
    if query is None:
        return False
    try:
        return bool(mutation_fields(query))
    except Unreadable:
        return True

