"""etl_assets/arrow_values.py: Arrow values built without pandas equal pyarrow's own."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from etl_assets.arrow_values import numpy_array, python_value, scalar


@pytest.mark.parametrize(
    "value",
    ["", "run-1", "é ünïcode", 0, -(2**63), 2**63 - 1, 1.5, float("nan"),
     datetime(2026, 12, 1, 21, 30, 5, 123456, tzinfo=timezone.utc), datetime(1969, 7, 20, 20, 17, 40), True, None],
)
def test_scalar_equals_pyarrows_own(value: object) -> None:
    got, want = scalar(value), pa.scalar(value)
    assert got.type == want.type
    assert got.equals(want) or (value != value and got.as_py() != got.as_py())


def test_scalar_of_a_uuid_is_its_16_bytes() -> None:
    run_id = uuid.UUID("0b7e2a52-4c8e-4d8e-9f0e-0d6f3c1a9b01")
    assert scalar(run_id).equals(pa.scalar(run_id.bytes, pa.binary(16)))


def test_scalar_of_an_int_beyond_int64_fails_as_pyarrows_own() -> None:
    with pytest.raises(OverflowError):
        scalar(2**63)


@pytest.mark.parametrize("values", [[True, False, True] * 7, [], [False] * 9, [0, -1, 2**63 - 1, -(2**63)]])
def test_numpy_array_equals_pyarrows_own(values: list) -> None:
    array = np.array(values, dtype=bool if not values or isinstance(values[0], bool) else np.int64)
    assert numpy_array(array).equals(pa.array(array))
    assert numpy_array(array[1:]).equals(pa.array(array[1:]))  # a view that starts inside a byte


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
@pytest.mark.parametrize("seconds, fraction", [(0, 0), (1356998400, 0), (-86_401, 1), (1356998400, -1)])
def test_python_values_of_timestamps_equal_pyarrows(unit: str, tz: str | None, seconds: int, fraction: int) -> None:
    """Naive and UTC timestamps are turned into Python values by the project (pyarrow imports
    pandas for them), for the profile and the preview: the values pyarrow gives, to the nanosecond."""
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    ticks = seconds * per + fraction % per  # fraction -1: the last tick of the second
    value = pa.array([ticks], pa.int64()).cast(pa.timestamp(unit, tz))[0]
    ours, theirs = python_value(value), value.as_py()
    assert ours == theirs and ours.isoformat() == theirs.isoformat()
