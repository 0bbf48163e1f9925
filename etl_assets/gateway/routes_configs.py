"""/api/v1/configs: upload a pipeline config, and its history."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..config import load_all
from .auth import Principal, admin_user, current_user
from .dagster_api import DagsterApiError
from .history import sha256
from .models import ConfigErrors, ConfigHistoryList, ConfigUpload, ConfigVersion, PipelineName, UploadResult
from .state import Gateway, get_gateway
from .uploads import UploadRejected, write_config

router = APIRouter(prefix="/api/v1", tags=["configs"], responses={401: {"description": "not logged in"}})


@router.post(
    "/configs",
    response_model=UploadResult,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": UploadResult, "description": "the same text was uploaded before: no new version"},
        403: {"description": "needs role admin"},
        409: {"model": ConfigErrors, "description": "another file defines this pipeline; nothing written"},
        422: {"model": ConfigErrors, "description": "invalid config (file:line:col: message); nothing written"},
    },
)
async def upload_config(body: ConfigUpload, gateway: Gateway = Depends(get_gateway), principal: Principal = Depends(admin_user)) -> JSONResponse:
    """Validate a pipeline YAML as `etl validate` does; when valid, write it to the configs directory,
    record it in the history and reload the code location."""
    async with gateway.upload_lock:
        try:
            written = await run_in_threadpool(write_config, gateway.settings.configs_dir, body.content, body.file_name)
        except UploadRejected as rejected:
            return JSONResponse(ConfigErrors(detail=str(rejected), errors=rejected.errors).model_dump(), status_code=rejected.status)
        version, new = await run_in_threadpool(gateway.history.record, written.pipeline, written.content, written.path.name, "uploaded", principal.name)
        reload_error = None
        try:
            if written.changed:
                reload_error = await gateway.dagster.reload(gateway.location)
        except DagsterApiError as exc:
            reload_error = str(exc)
    result = UploadResult(pipeline=written.pipeline, file=written.path.name, version=version.version, sha256=version.sha256, new_version=new, reload_error=reload_error)
    return JSONResponse(result.model_dump(), status_code=status.HTTP_201_CREATED if new else status.HTTP_200_OK)


@router.get("/configs/{pipeline}/history", response_model=ConfigHistoryList, responses={404: {"description": "no version of this pipeline was recorded"}})
async def config_history(pipeline: PipelineName, gateway: Gateway = Depends(get_gateway), _: Principal = Depends(current_user)) -> ConfigHistoryList:
    """Every recorded version of the pipeline's config, newest first; `current` marks the text in the configs directory."""
    versions = await run_in_threadpool(gateway.history.versions, pipeline)
    if not versions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recorded config of pipeline {pipeline!r}")
    pipelines, _errors = await run_in_threadpool(load_all, gateway.settings.configs_dir)
    loaded = next((p for p in pipelines if p.config.pipeline == pipeline), None)
    current = sha256(loaded.file.read_text(encoding="utf-8-sig")) if loaded else None
    return ConfigHistoryList(pipeline=pipeline, versions=[ConfigVersion(**vars(v), current=v.sha256 == current) for v in versions])
