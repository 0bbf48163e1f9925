from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

from etl_assets.metadata import markdown_table


def test_markdown_preview_shows_every_row_nulls_empty_and_escapes_pipes() -> None:
    table = pa.table({
        "name": ["a|b", None, "line\nbreak"],
        "n": pa.array([1, None, 3], pa.int64()),
        "at": pa.array([datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), None, None], pa.timestamp("us", tz="UTC")),
    })
    assert markdown_table(table).splitlines() == [
        "| name | n | at |",
        "|---|---|---|",
        "| a\\|b | 1 | 2026-01-02 03:04:05+00:00 |",
        "|  |  |  |",
        "| line break | 3 |  |",
    ]


def test_markdown_preview_of_a_table_without_columns() -> None:
    assert markdown_table(pa.table({})) == "(no columns)"
