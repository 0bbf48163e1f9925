"""TableIOManager (etl_assets/io_manager.py): stored tables are Arrow IPC files where `storage`
names them; a table an earlier version stored as Parquet is still handed downstream."""
from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_assets.io_manager import TableIOManager
from etl_assets.tables import TableWriter

KEY = dg.AssetKey(["pipe", "raw"])


def test_an_output_moves_to_its_place_and_loads_back(tmp_path: Path) -> None:
    manager = TableIOManager(base_dir=str(tmp_path))
    with TableWriter(tmp_path / ".staging" / "t.arrow") as writer:
        writer.write(pa.table({"i": [1, 2, 3]}))
        staged = writer.commit()
    manager.handle_output(dg.build_output_context(asset_key=KEY), staged)
    assert not staged.path.exists() and (tmp_path / "pipe" / "raw" / "all.arrow").exists()
    loaded = manager.load_input(dg.build_input_context(asset_key=KEY))
    assert loaded.path == tmp_path / "pipe" / "raw" / "all.arrow"
    assert loaded.read().column("i").to_pylist() == [1, 2, 3]


def test_a_table_an_earlier_version_stored_as_parquet_loads(tmp_path: Path) -> None:
    legacy = tmp_path / "pipe" / "raw" / "all.parquet"
    legacy.parent.mkdir(parents=True)
    pq.write_table(pa.table({"i": [4, 5]}), legacy)
    loaded = TableIOManager(base_dir=str(tmp_path)).load_input(dg.build_input_context(asset_key=KEY))
    assert loaded.path == legacy and loaded.read().column("i").to_pylist() == [4, 5]


def test_no_stored_table_fails_saying_where_it_was_expected(tmp_path: Path) -> None:
    with pytest.raises(dg.Failure, match=r"pipe/raw has no stored data \(expected .*all\.arrow\); materialize it first"):
        TableIOManager(base_dir=str(tmp_path)).load_input(dg.build_input_context(asset_key=KEY))
