"""The shared pieces without a database: table names, type categories, the row hash."""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy.engine import make_url

from etl_assets.targets import TargetError
from etl_assets.targets.sql.common import TableName, arrow_category, canonical_type, parse_table, row_hash, window_bounds
from etl_assets.targets.sql.mysql import MySQL
from etl_assets.targets.sql.postgres import Postgres
from etl_assets.targets.sql.sqlite import SQLite

UTC = timezone.utc


def _hash(*columns: tuple[str, pa.Array, str]) -> list[str]:
    return [h.hex() for h in row_hash(list(columns)).to_pylist()]


def test_parse_table():
    assert parse_table("flights") == TableName(None, "flights")
    assert parse_table("analytics.flights") == TableName("analytics", "flights")
    assert parse_table("a.b.c") == TableName("a", "b.c")  # split on the first dot
    for bad in ("", ".t", "s."):
        with pytest.raises(TargetError):
            parse_table(bad)


@pytest.fixture(params=["native", "numpy"])
def hash_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The row hash by the C extension, or by numpy and pandas (where the extension is not built)."""
    from etl_assets.targets.sql import common

    if request.param == "numpy":
        monkeypatch.setattr(common, "_rowhash", None)
    elif common._rowhash is None:
        if os.environ.get("ETL_REQUIRE_SERVERS") == "1":
            pytest.fail("the C row hash (etl_assets/targets/sql/_rowhash.c) was not built")
        pytest.skip("the C row hash is not built")
    return request.param


def test_the_row_hash_is_stable(hash_path: str):
    """Stored hashes must keep matching future loads: a change of the hash breaks dedupe."""
    columns = [
        ("id", pa.array([1, None]), "integer"),
        ("name", pa.array(["x", ""]), "string"),
        ("at", pa.array([datetime(2024, 1, 1, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")), "timestamptz"),
        ("f", pa.array([1.5, None]), "float"),
        ("d", pa.array([date(2024, 1, 1), None]), "date"),
        ("dec", pa.array([Decimal("1.50"), None], pa.decimal128(5, 2)), "decimal"),
        ("b", pa.array([True, False]), "bool"),
        ("bin", pa.array([b"\x00", None]), "binary"),
    ]
    assert _hash(*columns) == ["c51e5a4054b7ead82cc3d6c13915c0ab", "f36801ce4d28a15709bd2822d8532453"]


def test_the_row_hash_depends_on_typed_values_not_renderings():
    a = ("a", pa.array([None, "", "x", "x "]), "string")
    assert len(set(_hash(a))) == 4  # NULL, '', 'x', 'x ' all differ
    assert _hash(("n", pa.array([1.0, -0.0, 0.0]), "float"))[1:] == _hash(("n", pa.array([0.0, 0.0]), "float"))
    berlin = pa.array([datetime(2024, 1, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="Europe/Berlin"))
    utc = pa.array([datetime(2024, 1, 1, 1)], pa.timestamp("us", tz="UTC"))
    assert _hash(("t", berlin, "timestamptz")) == _hash(("t", utc, "timestamptz"))  # the same instant
    assert _hash(("d", pa.array([Decimal("1.50")]), "decimal")) == _hash(("d", pa.array([Decimal("1.5000")]), "decimal"))
    assert _hash(("d", pa.array([1]), "decimal")) == _hash(("d", pa.array([Decimal("1.00")]), "decimal"))


def test_the_row_hash_ignores_column_order_and_absent_or_null_columns():
    x, y = ("x", pa.array([1, 2]), "integer"), ("y", pa.array(["a", None]), "string")
    assert _hash(x, y) == _hash(y, x)
    assert _hash(x, y)[1] == _hash(x)[1]  # y is NULL in row 2: like a row without y
    assert _hash(x, y)[0] != _hash(x)[0]
    assert _hash(("x", pa.array([1]), "integer")) != _hash(("z", pa.array([1]), "integer"))  # names count


def test_the_c_row_hash_equals_numpys_for_every_category(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random values with nulls, sliced arrays, 32- and 64-bit offsets, multi-byte text, every
    category the framework's canonical types give."""
    import random

    from etl_assets.targets.sql import common

    if common._rowhash is None:
        pytest.skip("the C row hash is not built")
    rng = random.Random(11)
    n = 5_000

    def some(make):
        return [None if rng.random() < 0.15 else make() for _ in range(n + 7)]

    text = some(lambda: "".join(rng.choice("aé€𝄞 x") for _ in range(rng.randrange(0, 30))))
    blobs = some(lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(0, 20))))
    columns = [
        ("i", pa.array(some(lambda: rng.randrange(-(2**63), 2**63)), pa.int64()), "integer"),
        ("f", pa.array(some(lambda: rng.choice([0.0, -0.0, float("nan"), float("inf"), rng.uniform(-1e9, 1e9)])), pa.float64()), "float"),
        ("b", pa.array(some(lambda: rng.random() < 0.5), pa.bool_()), "bool"),
        ("s", pa.array(text, pa.string()), "string"),
        ("ls", pa.array(text, pa.large_string()), "string"),
        ("o", pa.array(text, pa.string()), "other"),
        ("y", pa.array(blobs, pa.binary()), "binary"),
        ("ly", pa.array(blobs, pa.large_binary()), "binary"),
        ("d", pa.array(some(lambda: date(2000, 1, 1) + timedelta(days=rng.randrange(-30000, 30000))), pa.date32()), "date"),
        ("t", pa.array(some(lambda: rng.randrange(86_400_000_000)), pa.int64()).cast(pa.time64("us")), "time"),
        ("ts", pa.array(some(lambda: rng.randrange(-(2**50), 2**50)), pa.int64()).cast(pa.timestamp("us")), "timestamp"),
        ("tz", pa.array(some(lambda: rng.randrange(-(2**50), 2**50)), pa.int64()).cast(pa.timestamp("us", tz="UTC")), "timestamptz"),
        ("dec", pa.array(some(lambda: Decimal(rng.randrange(-10**9, 10**9)).scaleb(-rng.randrange(0, 5))), pa.decimal128(18, 4)), "decimal"),
    ]
    for start in (0, 7):  # a slice starts inside a validity byte
        sliced = [(name, values.slice(start, n), category) for name, values, category in columns]
        native = row_hash(sliced)
        with monkeypatch.context() as m:
            m.setattr(common, "_rowhash", None)
            assert row_hash(sliced).equals(native)


def test_the_row_hash_of_many_rows_has_no_collisions():
    n = 200_000
    ints = pa.array(range(n))
    strings = pa.array([f"row {i}" for i in range(n)])
    assert len(set(row_hash([("i", ints, "integer")]).to_pylist())) == n
    assert len(set(row_hash([("s", strings, "string")]).to_pylist())) == n


@pytest.mark.parametrize(
    "arrow, canonical",
    [
        (pa.int8(), pa.int64()),
        (pa.uint32(), pa.int64()),
        (pa.float32(), pa.float64()),
        (pa.timestamp("ns"), pa.timestamp("us")),
        (pa.timestamp("s", tz="America/New_York"), pa.timestamp("us", tz="UTC")),
        (pa.date64(), pa.date32()),
        (pa.dictionary(pa.int32(), pa.string()), pa.string()),
        (pa.large_string(), pa.large_string()),
        (pa.decimal128(12, 3), pa.decimal128(12, 3)),
        (pa.time32("s"), pa.time64("us")),
        (pa.null(), pa.null()),
    ],
)
def test_canonical_types(arrow, canonical):
    assert canonical_type(arrow) == canonical


@pytest.mark.parametrize("arrow", [pa.list_(pa.int64()), pa.struct([("a", pa.int64())]), pa.duration("s")])
def test_unsupported_types(arrow):
    with pytest.raises(TypeError):
        canonical_type(arrow)


@pytest.mark.parametrize("dialect", [Postgres, MySQL, SQLite])
@pytest.mark.parametrize(
    "arrow",
    [pa.int64(), pa.float64(), pa.bool_(), pa.string(), pa.binary(), pa.date32(), pa.time64("us"),
     pa.timestamp("us"), pa.timestamp("us", tz="UTC"), pa.decimal128(10, 2)],
)
def test_created_column_types_classify_back_to_their_category(dialect, arrow):
    """A table created by one load must accept the next load of the same data."""
    d = dialect(make_url("sqlite://"), 1)
    expected = arrow_category(arrow)
    for key in (False, True):
        category = d.classify(d.column_type(arrow, key=key))
        assert category == expected or (dialect is MySQL and category == "datetime" and expected.startswith("timestamp"))


def test_window_bounds():
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert window_bounds("timestamptz", start.replace(tzinfo=None), end.replace(tzinfo=None)) == (start, end)
    assert window_bounds("date", start, end) == (date(2024, 1, 1), date(2024, 1, 2))
    hour = datetime(2024, 1, 1, 5)
    assert window_bounds("date", hour, hour + timedelta(hours=1)) == (date(2024, 1, 2), date(2024, 1, 2))  # no midnight inside
    plus_one = timezone(timedelta(hours=1))
    assert window_bounds("timestamp", datetime(2024, 1, 1, tzinfo=plus_one), datetime(2024, 1, 2, tzinfo=plus_one)) == (
        datetime(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(TypeError):
        window_bounds("string", start, end)


def test_the_row_hash_of_text_binary_and_decimals_is_stable():
    """Pinned from the implementation before string columns were hashed per distinct value."""
    from decimal import Decimal as D

    columns = [
        ("s", pa.array(["a", None, "", "é", "a", "long text" * 3]), "string"),
        ("b", pa.array([b"x", None, b"", b"\x00", b"x", b"y"], pa.binary()), "binary"),
        ("d", pa.array([D("1.5"), None, D(2), D(3), D("1.50"), D(0)], pa.decimal128(10, 2)), "decimal"),
        ("i", pa.array([1, 2, None, 4, 1, 6]), "integer"),
        ("l", pa.array(["x", "y", None, "x", "x", "z"], pa.large_string()), "string"),
        ("e", pa.array([None] * 6, pa.string()), "string"),
    ]
    assert _hash(*columns) == ['6b2a431726d0686e9819f5b8e054a3bf', '096c0cb57b0a71229191b0e80eff3aa9', '6081c946720bf8641cd0c0d37d4f7f4c', 'cf4e66b7de8344ebb57f762fde1c7eb1', '6b2a431726d0686e9819f5b8e054a3bf', 'a50c29e9fd7362c8ee79386a5a100de1']
