"""Health (public) and Prometheus metrics (any logged-in user, or ETL_METRICS_TOKEN)."""
from __future__ import annotations

import hmac

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from .auth import bearer_token
from .models import Health
from .proxy import Upstream
from .state import Gateway, get_gateway

router = APIRouter(tags=["operations"])


async def _up(upstream: Upstream) -> bool:
    try:
        return (await upstream.client.get("/server_info", timeout=3)).status_code == 200
    except httpx.HTTPError:
        return False


def _storage_up(gateway: Gateway) -> bool:
    try:
        gateway.instance.get_run_records(limit=1)
        return True
    except Exception:  # noqa: BLE001 - any storage failure means "down"
        return False


@router.get("/api/v1/health", response_model=Health)
async def health(gateway: Gateway = Depends(get_gateway)) -> Health:
    """Whether both webservers and Dagster's storage answer (no login needed)."""
    admin, viewer = await _up(gateway.admin), await _up(gateway.viewer)
    storage = await run_in_threadpool(_storage_up, gateway)
    return Health(status="ok" if admin and viewer and storage else "degraded", webserver=admin, read_only_webserver=viewer, storage=storage)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}, 401: {"description": "not logged in"}},
)
async def metrics(request: Request, gateway: Gateway = Depends(get_gateway)) -> Response:
    """Runs by pipeline and status, run durations, rows loaded and quarantined, check results."""
    token = bearer_token(request)
    scraper = gateway.settings.metrics_token is not None and token is not None and hmac.compare_digest(token, gateway.settings.metrics_token)
    if not scraper and gateway.auth.principal(request) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in: send `Authorization: Bearer <token>`", headers={"WWW-Authenticate": "Bearer"})
    body = await run_in_threadpool(generate_latest, gateway.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
