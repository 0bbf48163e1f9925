"""Numeric settings from the environment (etl_assets/settings.py)."""
from __future__ import annotations

import pytest

from etl_assets.settings import int_setting


def test_an_int_setting_is_its_default_when_unset_and_its_value_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETL_CHUNK_ROWS", raising=False)
    assert int_setting("ETL_CHUNK_ROWS", 32_768, "a whole number of rows") == 32_768
    monkeypatch.setenv("ETL_CHUNK_ROWS", "1000")
    assert int_setting("ETL_CHUNK_ROWS", 32_768, "a whole number of rows") == 1000


@pytest.mark.parametrize("value", ["many", "", "1.5"])
def test_an_int_setting_that_is_not_a_whole_number_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ETL_SOURCE_SPOOL_BYTES", value)
    with pytest.raises(ValueError, match=rf"^ETL_SOURCE_SPOOL_BYTES must be a whole number of bytes, not {value!r}$"):
        int_setting("ETL_SOURCE_SPOOL_BYTES", 1, "a whole number of bytes")
