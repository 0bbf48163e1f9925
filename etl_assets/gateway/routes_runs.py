"""/api/v1/runs: status with per-asset results, logs, cancel."""
from __future__ import annotations

from typing import Any

import dagster as dg
from fastapi import APIRouter, Depends, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from .auth import Principal, admin_user, current_user
from .models import LogPage, PipelineFilter, RunDetail, RunId, RunInfo
from .runs import run_detail, run_info, run_logs
from .state import Gateway, get_gateway

router = APIRouter(prefix="/api/v1", tags=["runs"], responses={401: {"description": "not logged in"}})
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such run"}}


async def _record(gateway: Gateway, run_id: str) -> dg.RunRecord:
    record = await run_in_threadpool(gateway.instance.get_run_record_by_id, run_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id!r}")
    return record


@router.get("/runs", response_model=list[RunInfo])
async def list_runs(
    pipeline: PipelineFilter = None,
    limit: int = Query(20, ge=1, le=500),
    gateway: Gateway = Depends(get_gateway),
    _: Principal = Depends(current_user),
) -> list[RunInfo]:
    """The newest runs, of one pipeline or of all."""
    records = await run_in_threadpool(gateway.instance.get_run_records, dg.RunsFilter(job_name=pipeline) if pipeline else None, limit)
    return [run_info(r) for r in records]


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND)
async def get_run(run_id: RunId, gateway: Gateway = Depends(get_gateway), _: Principal = Depends(current_user)) -> RunDetail:
    """Status, times and one result per asset (rows, load counts, checks, error)."""
    detail = await run_in_threadpool(run_detail, gateway.instance, run_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id!r}")
    return detail


@router.get("/runs/{run_id}/logs", response_model=LogPage, responses=NOT_FOUND)
async def get_logs(
    run_id: RunId,
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(500, ge=1, le=5000),
    gateway: Gateway = Depends(get_gateway),
    _: Principal = Depends(current_user),
) -> LogPage:
    """The run's event log, oldest first, a page at a time."""
    await _record(gateway, run_id)
    try:
        return await run_in_threadpool(run_logs, gateway.instance, run_id, cursor, limit)
    except (ValueError, TypeError, KeyError):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "invalid cursor") from None


@router.post("/runs/{run_id}/cancel", response_model=RunInfo, status_code=status.HTTP_202_ACCEPTED,
             responses={**NOT_FOUND, 403: {"description": "needs role admin"}, 409: {"description": "the run cannot be canceled (it has finished)"}})
async def cancel_run(run_id: RunId, gateway: Gateway = Depends(get_gateway), _: Principal = Depends(admin_user)) -> RunInfo:
    """Ask Dagster to terminate the run."""
    await _record(gateway, run_id)
    await gateway.dagster.terminate(run_id)
    return run_info(await _record(gateway, run_id))
