"""Request and response bodies of the REST API (they make its OpenAPI document)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, Field

from ..config.models.common import NAME_PATTERN

PipelineName = Annotated[str, Path(pattern=NAME_PATTERN, description="pipeline name")]
AssetName = Annotated[str, Path(pattern=NAME_PATTERN, description="asset name (without the pipeline)")]
RunId = Annotated[str, Path(pattern=r"^[0-9a-zA-Z-]{1,64}$", description="Dagster run id")]
PipelineFilter = Annotated[str | None, Query(pattern=NAME_PATTERN, description="only runs of this pipeline")]


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when a dependency is down")
    webserver: bool
    read_only_webserver: bool
    storage: bool


class TokenRequest(BaseModel):
    username: str = Field(max_length=256)
    password: str = Field(max_length=4096)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


class Me(BaseModel):
    name: str
    role: str


class RunInfo(BaseModel):
    run_id: str
    pipeline: str
    status: str = Field(description="Dagster run status: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELING, CANCELED, ...")
    created_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration_seconds: float | None = None
    partition: str | None = None
    assets: list[str] | None = Field(default=None, description="selected assets; null for the whole pipeline")
    launched_by: str | None = None


class CheckResult(BaseModel):
    name: str
    passed: bool
    severity: str
    metadata: dict[str, Any] = {}


class AssetResult(BaseModel):
    asset: str
    status: str = Field(description="planned, running, materialized, failed or skipped")
    rows: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_unchanged: int | None = None
    rows_deleted: int | None = None
    rows_quarantined: int | None = None
    duration_seconds: float | None = None
    checks: list[CheckResult] = []
    error: str | None = None


class RunDetail(RunInfo):
    asset_results: list[AssetResult] = []


class LogEntry(BaseModel):
    timestamp: float
    level: str
    event_type: str | None
    step_key: str | None
    message: str


class LogPage(BaseModel):
    run_id: str
    entries: list[LogEntry]
    cursor: str | None = Field(default=None, description="pass as ?cursor= for the next page")
    has_more: bool


class PipelineSummary(BaseModel):
    name: str
    description: str | None = None


class PipelineList(BaseModel):
    pipelines: list[PipelineSummary]
    errors: list[str] = Field(description="config files that did not load, as file:line:col: message")


class AssetInfo(BaseModel):
    asset: str
    description: str | None = None
    kinds: list[str] = []
    partitioned: bool = False
    upstream: list[str] = []
    checks: list[str] = []


class ScheduleInfo(BaseModel):
    name: str
    cron: str
    timezone: str | None = None
    status: str


class SensorInfo(BaseModel):
    name: str
    min_interval_seconds: int
    status: str


class PipelineDetail(BaseModel):
    name: str
    description: str | None = None
    assets: list[AssetInfo]
    schedule: ScheduleInfo | None = None
    sensors: list[SensorInfo]
    last_run: RunInfo | None = None


class LaunchRequest(BaseModel):
    assets: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=1000, description="asset names (or <pipeline>/<name>); default: the whole pipeline")
    partition: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f]+$", description="partition key, for partitioned pipelines")


class Preview(BaseModel):
    asset: str
    source: str = Field(description="where the rows were read: a table or a file")
    columns: list[str]
    rows: list[list[Any]]


class ConfigUpload(BaseModel):
    content: str = Field(max_length=1_000_000, description="the pipeline YAML, as it should be written")
    file_name: str | None = Field(default=None, max_length=200, description="e.g. flights.yaml; default: the file that already holds the pipeline, else <pipeline>.yaml")


class ConfigVersion(BaseModel):
    pipeline: str
    version: int
    sha256: str
    content: str
    file_name: str
    source: str = Field(description="loaded (seen by the gateway in the configs directory) or uploaded")
    created_at: float
    created_by: str
    current: bool = False


class UploadResult(BaseModel):
    pipeline: str
    file: str
    version: int
    sha256: str
    new_version: bool
    reload_error: str | None = None


class ConfigErrors(BaseModel):
    detail: str
    errors: list[str] = Field(description="file:line:col: message, as `etl validate` prints them")


class ConfigHistoryList(BaseModel):
    pipeline: str
    versions: list[ConfigVersion]
