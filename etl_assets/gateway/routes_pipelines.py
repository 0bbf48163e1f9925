"""/api/v1/pipelines: what each pipeline holds, launching runs, previews."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from ..config import load_all
from .auth import Principal, admin_user, current_user
from .dagster_api import JobRef
from .models import AssetInfo, AssetName, LaunchRequest, PipelineDetail, PipelineList, PipelineName, PipelineSummary, Preview, RunInfo, ScheduleInfo, SensorInfo
from .preview import PreviewUnavailable, preview
from .runs import LAUNCHED_BY_TAG, PARTITION_TAG, last_run, run_info
from .state import Gateway, get_gateway

router = APIRouter(prefix="/api/v1", tags=["pipelines"], responses={401: {"description": "not logged in"}})
ADMIN: dict[int | str, dict[str, Any]] = {403: {"description": "needs role admin"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such pipeline"}}


async def _job(gateway: Gateway, name: str) -> JobRef:
    job = await gateway.dagster.job(name)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no pipeline named {name!r}")
    return job


@router.get("/pipelines", response_model=PipelineList)
async def list_pipelines(gateway: Gateway = Depends(get_gateway), _: Principal = Depends(current_user)) -> PipelineList:
    """Every pipeline that loaded, and the errors of config files that did not."""
    jobs, location_errors = await gateway.dagster.jobs()
    _pipelines, config_errors = await run_in_threadpool(load_all, gateway.settings.configs_dir)
    return PipelineList(pipelines=[PipelineSummary(name=j.name, description=j.description) for j in jobs], errors=location_errors + [str(e) for e in config_errors])


@router.get("/pipelines/{name}", response_model=PipelineDetail, responses=NOT_FOUND)
async def get_pipeline(name: PipelineName, gateway: Gateway = Depends(get_gateway), _: Principal = Depends(current_user)) -> PipelineDetail:
    """Assets (with their checks and upstream assets), schedule, sensors and the last run."""
    data = await gateway.dagster.pipeline(await _job(gateway, name))
    job = data["pipelineOrError"]
    schedules = [_schedule(s) for s in job["schedules"]]
    return PipelineDetail(
        name=job["name"],
        description=job.get("description"),
        assets=sorted((_asset(node) for node in data["assetNodes"]), key=lambda a: a.asset),
        schedule=schedules[0] if schedules else None,
        sensors=[SensorInfo(name=s["name"], min_interval_seconds=s["minIntervalSeconds"], status=s["sensorState"]["status"]) for s in job["sensors"]],
        last_run=await run_in_threadpool(last_run, gateway.instance, name),
    )


def _asset(node: dict[str, Any]) -> AssetInfo:
    checks = node.get("assetChecksOrError") or {}
    return AssetInfo(
        asset="/".join(node["assetKey"]["path"]),
        description=node.get("description"),
        kinds=node.get("kinds") or [],
        partitioned=bool(node.get("isPartitioned")),
        upstream=sorted("/".join(k["path"]) for k in node.get("dependencyKeys") or []),
        checks=sorted(c["name"] for c in checks.get("checks", [])),
    )


def _schedule(data: dict[str, Any]) -> ScheduleInfo:
    return ScheduleInfo(name=data["name"], cron=data["cronSchedule"], timezone=data.get("executionTimezone"), status=data["scheduleState"]["status"])


@router.post("/pipelines/{name}/runs", response_model=RunInfo, status_code=status.HTTP_201_CREATED, responses={**ADMIN, **NOT_FOUND, 422: {"description": "unknown asset or partition, or refused by Dagster"}})
async def launch_run(
    name: PipelineName,
    body: LaunchRequest | None = Body(None),
    gateway: Gateway = Depends(get_gateway),
    principal: Principal = Depends(admin_user),
) -> RunInfo:
    """Launch a run of the pipeline (or of some of its assets, for one partition) through Dagster."""
    job = await _job(gateway, name)
    request = body or LaunchRequest()
    selection = None
    if request.assets:
        known = {node["assetKey"]["path"][-1]: node["assetKey"]["path"] for node in (await gateway.dagster.pipeline(job))["assetNodes"]}
        wanted = [a.split("/", 1)[1] if a.startswith(f"{name}/") else a for a in request.assets]
        unknown = [a for a in wanted if a not in known]
        if unknown:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"not assets of pipeline {name}: {', '.join(unknown)} (assets: {', '.join(sorted(known))})")
        selection = [known[a] for a in wanted]
    if request.partition is not None:
        keys = await gateway.dagster.partition_keys(job)
        if request.partition not in keys:
            span = f"partitions {keys[0]} to {keys[-1]}" if keys else "it is not partitioned"
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"{request.partition!r} is not a partition of pipeline {name} ({span})")
    tags = {LAUNCHED_BY_TAG: principal.name, **({PARTITION_TAG: request.partition} if request.partition else {})}
    run_id = await gateway.dagster.launch(job, selection, tags)
    record = await run_in_threadpool(gateway.instance.get_run_record_by_id, run_id)
    return run_info(record) if record else RunInfo(run_id=run_id, pipeline=name, status="QUEUED")


@router.get("/pipelines/{name}/assets/{asset}/preview", response_model=Preview, responses={404: {"description": "no such pipeline or asset, or nothing loaded yet"}, 502: {"description": "the target could not be read"}})
async def preview_asset(
    name: PipelineName,
    asset: AssetName,
    limit: int = Query(20, ge=1, le=1000),
    gateway: Gateway = Depends(get_gateway),
    _: Principal = Depends(current_user),
) -> Preview:
    """The first rows of a target's table or file (or of a source's or transform's stored table)."""
    pipelines, _errors = await run_in_threadpool(load_all, gateway.settings.configs_dir)
    loaded = next((p for p in pipelines if p.config.pipeline == name), None)
    if loaded is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no pipeline named {name!r}")
    try:
        return await run_in_threadpool(preview, loaded, asset, limit)
    except PreviewUnavailable as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the target's database or file could not be read
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, loaded.redact(f"could not read {name}/{asset}: {type(exc).__name__}: {exc}")) from None
