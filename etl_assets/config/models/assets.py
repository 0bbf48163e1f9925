"""Sources, transforms and targets: the assets of a pipeline."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from .checks import ChecksConfig
from .common import Model, Name, RetryConfig
from .connections import HttpAuth
from .steps import Step

FileFormat = Literal["csv", "tsv", "json", "jsonl", "excel", "parquet", "txt"]
TargetFileFormat = Literal["csv", "json", "jsonl", "parquet", "excel"]


class WatchConfig(Model):
    interval_seconds: int = Field(default=30, ge=1)
    default_status: Literal["running", "stopped"] = "stopped"
    max_files_per_tick: int = Field(default=100, ge=1)
    settle_seconds: float = Field(default=5, ge=0)
    """A file modified less than this long ago may still be being written: it waits for a later tick."""


class _AssetBase(Model):
    name: Name
    description: str | None = None
    retry: RetryConfig | None = None


class _SourceBase(_AssetBase):
    checks: ChecksConfig | None = None


class FileSource(_SourceBase):
    type: Literal["file"]
    path: str
    format: FileFormat | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    watch: WatchConfig | None = None


class SftpSource(_SourceBase):
    type: Literal["sftp"]
    connection: Name
    path: str
    format: FileFormat | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    watch: WatchConfig | None = None


class Pagination(Model):
    type: Literal["none", "page", "offset", "cursor", "link_header"] = "none"
    page_param: str = "page"
    size_param: str | None = None
    size: int | None = Field(default=None, ge=1)
    start_page: int = 1
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    max_pages: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _cursor_path(self) -> "Pagination":
        if self.type == "cursor" and not self.cursor_path:
            raise ValueError("cursor pagination needs cursor_path (dot path to the next cursor in the response)")
        if self.type == "offset" and not self.size:
            raise ValueError("offset pagination needs size")
        return self


class ApiSource(_SourceBase):
    type: Literal["api"]
    connection: Name | None = None
    url: str | None = None
    auth: HttpAuth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    endpoint: str = ""
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    records_path: str | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    timeout_seconds: float | None = Field(default=None, gt=0)
    max_bytes: int = Field(default=1_000_000_000, ge=1)

    @model_validator(mode="after")
    def _where(self) -> "ApiSource":
        if bool(self.connection) == bool(self.url):
            raise ValueError("an api source needs exactly one of connection or url")
        return self


class Incremental(Model):
    cursor: str
    initial_value: Any = None


class SqlSource(_SourceBase):
    type: Literal["sql"]
    connection: Name
    query: str | None = None
    table: str | None = None
    incremental: Incremental | None = None
    chunk_rows: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _query_or_table(self) -> "SqlSource":
        if bool(self.query) == bool(self.table):
            raise ValueError("a sql source needs exactly one of query or table")
        return self


Source = Annotated[Union[FileSource, SftpSource, ApiSource, SqlSource], Field(discriminator="type")]


class Transform(_AssetBase):
    input: Name
    steps: list[Step] = Field(default_factory=list)
    checks: ChecksConfig | None = None


class SqlTarget(_AssetBase):
    type: Literal["sql"]
    input: Name
    connection: Name
    table: Annotated[str, Field(min_length=1)]
    mode: Literal["append", "replace", "merge", "dedupe"] = "append"
    primary_key: list[str] | None = None

    @model_validator(mode="after")
    def _pk(self) -> "SqlTarget":
        if self.mode == "merge" and not self.primary_key:
            raise ValueError("mode merge needs primary_key")
        return self


class FileTarget(_AssetBase):
    type: Literal["file"]
    input: Name
    path: str
    format: TargetFileFormat | None = None
    options: dict[str, Any] = Field(default_factory=dict)


Target = Annotated[Union[SqlTarget, FileTarget], Field(discriminator="type")]
