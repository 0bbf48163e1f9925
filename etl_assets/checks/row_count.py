"""The `row_count` rule: a table-level bound on the number of rows (both ends inclusive)."""
from __future__ import annotations

from ..config.models import RowCountRule
from .failures import GroupResult

NAME = "row_count"


def check_row_count(rule: RowCountRule, rows: int) -> GroupResult:
    """In quarantine mode `rows` is the number of rows passed on, after quarantine."""
    result = GroupResult(NAME, details={"rows": rows})
    if rule.min is not None and rows < rule.min:
        result.add_table_failure(f"{rows} rows, fewer than the minimum {rule.min}")
    if rule.max is not None and rows > rule.max:
        result.add_table_failure(f"{rows} rows, more than the maximum {rule.max}")
    return result
