"""MySQL/MariaDB's bulk path (LOAD DATA LOCAL INFILE of Arrow-written text) against the real server:
every kind of value arrives exactly, and a value the server would only warn about fails the load."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from etl_assets.targets import TargetError
from etl_assets.targets.sql import load_sql, read_table
from etl_assets.targets.sql.mysql import MySQL

TRICKY = ["plain", "", None, 'say "hi"', "back\\slash", "\\N", "NULL", "comma, here", "new\nline", "cr\rlf", "nul\0byte", "ünïcødé ✓ 🚀", "tab\there", '"', "\\"]


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows of every LOAD DATA the bulk path ran."""
    seen: list[int] = []
    original = MySQL._load_file

    def spy(self: MySQL, sql: str, params: tuple, rows: int) -> None:
        seen.append(rows)
        original(self, sql, params, rows)

    monkeypatch.setattr(MySQL, "_load_file", spy)
    return seen


def test_every_type_arrives_exactly(mysql_url, stage, loads) -> None:
    n = len(TRICKY)
    data = pa.table({
        "s": pa.array(TRICKY),
        "i": pa.array([2**62, -1, None] + list(range(n - 3))),
        "f": pa.array([0.1, 1e300, None, -2.5] + [1 / 3] * (n - 4)),
        "b": pa.array([True, False, None] * (n // 3)),
        "d": pa.array([date(2013, 1, 1), None, date(1999, 12, 31)] * (n // 3)),
        "t": pa.array([time(10, 0, 0, 123456), None, time(0, 0)] * (n // 3)),
        "ts": pa.array([datetime(2013, 1, 1, 5, 6, 7, 891011), None, datetime(2038, 1, 19, 3, 14, 8)] * (n // 3), pa.timestamp("us")),
        "tz": pa.array([datetime(2013, 1, 1, 5, tzinfo=timezone.utc), None, datetime(2020, 6, 1, 23, 59, 59, tzinfo=timezone.utc)] * (n // 3), pa.timestamp("us", tz="UTC")),
        "dec": pa.array([Decimal("1.50"), None, Decimal("-12345.678901234")] * (n // 3), pa.decimal128(20, 9)),
        "bin": pa.array([b"\x00\xff", b"", None] * (n // 3), pa.binary()),
    })
    result = load_sql(mysql_url, "tricky", "append", stage(data), chunk_rows=7)
    assert result.inserted == n
    assert loads == [7, 7, n - 14]
    got = read_table(mysql_url, "tricky")
    assert got["s"].tolist() == TRICKY
    assert got["i"].tolist()[:3] == [2**62, -1, pd_na()]
    assert got["f"].tolist()[:2] == [0.1, 1e300] and got["f"].isna().tolist()[2]
    assert [None if v is pd_na() else bool(v) for v in got["b"].tolist()] == [True, False, None] * (n // 3)
    assert got["d"].tolist() == [date(2013, 1, 1), None, date(1999, 12, 31)] * (n // 3)
    assert [v.to_pydatetime() if v == v else None for v in got["ts"]] == [datetime(2013, 1, 1, 5, 6, 7, 891011), None, datetime(2038, 1, 19, 3, 14, 8)] * (n // 3)
    assert [Decimal(v) if v is not None else None for v in got["dec"].tolist()] == [Decimal("1.5"), None, Decimal("-12345.678901234")] * (n // 3)
    assert got["bin"].tolist() == [b"\x00\xff", b"", None] * (n // 3)


def test_a_value_the_server_only_warns_about_fails_the_whole_load(mysql_url, stage, loads) -> None:
    load_sql(mysql_url, "strict", "append", stage({"f": [1.0]}))
    with pytest.raises(TargetError, match="LOAD DATA refused values"):
        load_sql(mysql_url, "strict", "append", stage({"f": [2.0, 3.0, float("nan")]}), chunk_rows=2)
    assert loads == [1, 2, 1]
    assert read_table(mysql_url, "strict")["f"].tolist() == [1.0]  # the batch loaded before the bad one is rolled back too


def test_merge_and_dedupe_stages_keep_executemany(mysql_url, stage, loads) -> None:
    load_sql(mysql_url, "m", "merge", stage({"k": [1, 2], "v": ["a", "b"]}), primary_key=["k"])
    load_sql(mysql_url, "d", "dedupe", stage({"v": ["a", "a", "b"]}))
    assert loads == []
    assert sorted(read_table(mysql_url, "d")["v"].tolist()) == ["a", "b"]


def pd_na() -> object:
    import pandas as pd

    return pd.NA
