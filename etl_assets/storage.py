"""Where tables live between assets: Parquet files under a data directory.

Paths are `<data_dir>/<pipeline>/<asset>/<partition or "all">.parquet`, so any executor
(in-process, multiprocess, a Celery worker on a shared disk) reads what another wrote.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import dagster as dg

from .tables import StoredTable

DEFAULT_DATA_DIR = ".etl_data"


def data_dir() -> Path:
    """$ETL_DATA_DIR, default `.etl_data` in the working directory."""
    return Path(os.environ.get("ETL_DATA_DIR", DEFAULT_DATA_DIR)).absolute()


def staging_path(base: Path, asset_key: dg.AssetKey) -> Path:
    """A fresh file name in the staging area, on the same file system as the final place."""
    return base / ".staging" / "__".join(asset_key.path) / f"{uuid.uuid4().hex}.parquet"


class TableIOManager(dg.ConfigurableIOManager):
    """Stores each asset's table as Parquet; hands downstream assets a chunked `StoredTable`."""

    base_dir: str = ""

    @property
    def root(self) -> Path:
        return Path(self.base_dir) if self.base_dir else data_dir()

    def path_for(self, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
        name = (partition_key or "all").replace("/", "_").replace(":", "-")
        return self.root.joinpath(*asset_key.path) / f"{name}.parquet"

    def handle_output(self, context: dg.OutputContext, obj: StoredTable | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, StoredTable):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a StoredTable, got {type(obj).__name__}")
        final = self.path_for(context.asset_key, context.partition_key if context.has_partition_key else None)
        final.parent.mkdir(parents=True, exist_ok=True)
        if obj.path != final:
            os.replace(obj.path, final)

    def load_input(self, context: dg.InputContext) -> StoredTable:
        key = context.asset_key
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self.path_for(key, partition)
        if not path.exists():
            raise dg.Failure(
                description=f"{key.to_user_string()} has no stored data{f' for partition {partition}' if partition else ''}"
                f" (expected {path}); materialize it first"
            )
        return StoredTable(path)
