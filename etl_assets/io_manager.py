"""The IO manager: each asset's table as an Arrow IPC file where `storage` says it lives."""
from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from .storage import LEGACY_SUFFIX, data_dir, stored_path
from .tables import StoredTable


class TableIOManager(dg.ConfigurableIOManager):
    """Stores each asset's table as an Arrow IPC file; hands downstream assets a chunked
    `StoredTable` (of the Parquet file an earlier version stored, when there is only that)."""

    base_dir: str = ""

    @property
    def root(self) -> Path:
        return Path(self.base_dir) if self.base_dir else data_dir()

    def path_for(self, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
        return stored_path(self.root, asset_key.path, partition_key)

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
        if not path.exists() and path.with_suffix(LEGACY_SUFFIX).exists():
            path = path.with_suffix(LEGACY_SUFFIX)
        if not path.exists():
            raise dg.Failure(
                description=f"{key.to_user_string()} has no stored data{f' for partition {partition}' if partition else ''}"
                f" (expected {path}); materialize it first"
            )
        return StoredTable(path)
