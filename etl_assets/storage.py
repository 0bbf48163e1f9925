"""Where tables live between assets: Arrow IPC files (`tables.StoredTable`) under a data directory.

Paths are `<data_dir>/<pipeline>/<asset>/<partition or "all">.arrow`, so any executor
(in-process, multiprocess, a Celery worker on a shared disk) reads what another wrote; the IO
manager that keeps them there is `io_manager.TableIOManager`. Free of Dagster (see `head_start`).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Sequence

DEFAULT_DATA_DIR = ".etl_data"
SUFFIX = ".arrow"
LEGACY_SUFFIX = ".parquet"
"""What versions before 2026-12-04 stored (Parquet); still read."""


def data_dir() -> Path:
    """$ETL_DATA_DIR, default `.etl_data` in the working directory."""
    return Path(os.environ.get("ETL_DATA_DIR", DEFAULT_DATA_DIR)).absolute()


def staging_path(base: Path, key_path: Sequence[str]) -> Path:
    """A fresh file name in the staging area (for the asset key `key_path`), on the same file
    system as the final place."""
    return base / ".staging" / "__".join(key_path) / f"{uuid.uuid4().hex}{SUFFIX}"


def stored_path(base: Path, key_path: Sequence[str], partition_key: str | None) -> Path:
    """Where an asset's table (of one partition, or "all") is kept."""
    name = (partition_key or "all").replace("/", "_").replace(":", "-")
    return base.joinpath(*key_path) / f"{name}{SUFFIX}"
