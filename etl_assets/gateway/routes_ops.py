"""Health (public) and Prometheus metrics (any logged-in user, or ETL_METRICS_TOKEN)."""
from __future__ import annotations

import hmac

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
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


@router.get("/api/v1/health", response_model=Health, responses={503: {"model": Health, "description": "a webserver or the storage is down"}})
async def health(gateway: Gateway = Depends(get_gateway)) -> JSONResponse:
    """Whether both webservers and Dagster's storage answer (no login needed)."""
    admin, viewer = await _up(gateway.admin), await _up(gateway.viewer)
    storage = await run_in_threadpool(_storage_up, gateway)
    ok = admin and viewer and storage
    body = Health(status="ok" if ok else "degraded", webserver=admin, read_only_webserver=viewer, storage=storage)
    return JSONResponse(body.model_dump(), status_code=status.HTTP_200_OK if ok else status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}, 401: {"description": "not logged in"}},
)
async def metrics(request: Request, gateway: Gateway = Depends(get_gateway)) -> Response:
    """Runs by pipeline and status, run durations, rows loaded and quarantined, check results."""
    token = bearer_token(request)
    scraper = gateway.settings.metrics_token is not None and token is not None and hmac.compare_digest(token.encode(), gateway.settings.metrics_token.encode())
    if not scraper and gateway.auth.principal(request) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in: send `Authorization: Bearer <token>`", headers={"WWW-Authenticate": "Bearer"})
    body = await run_in_threadpool(generate_latest, gateway.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
