"""Pydantic models of the pipeline config contract (shared/spec/CONFIG.md)."""
from .assets import (
    ApiSource,
    FileSource,
    FileTarget,
    Incremental,
    Pagination,
    SftpSource,
    Source,
    SqlSource,
    SqlTarget,
    Target,
    Transform,
    WatchConfig,
)
from .automation import AlertsConfig, EmailAlert, PartitionsConfig, QuarantineConfig, ScheduleConfig, SlaConfig
from .checks import AnomalyRule, ChecksConfig, ColumnRule, RowCountRule
from .common import COLUMN_TYPES, ColumnType, Model, RetryConfig
from .connections import ApiKeyAuth, BasicAuth, BearerAuth, HttpConnection, SftpConnection, SqlConnection
from .pipeline import PipelineConfig
from .steps import STEP_MODELS, parse_metric, step_name

__all__ = [name for name in dir() if not name.startswith("_")]
