"""Check results for Dagster: passed, severity, failing rows, passed share, a sample and the rules."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import dagster as dg

from ..tables import StoredTable
from .data import take_rows
from .failures import REASON, ROW, RULE, GroupResult

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 10
"""Failing rows shown in each check result."""


def severity(mode: str, group: GroupResult) -> dg.AssetCheckSeverity:
    """fail: ERROR; warn: WARN; quarantine: ERROR for table-level failures, else WARN (rows left)."""
    if mode == "warn" or (mode == "quarantine" and not group.table):
        return dg.AssetCheckSeverity.WARN
    return dg.AssetCheckSeverity.ERROR


def sample_markdown(table: StoredTable, failures: pd.DataFrame, redact: Callable[[str], str]) -> str:
    """The first failing rows: 1-based row number, the rules they fail, then their data."""
    import pandas as pd

    reasons = failures.groupby(ROW, sort=True)[REASON].agg("; ".join).head(SAMPLE_ROWS)
    rows = take_rows(table, reasons.index.to_numpy())
    shown = pd.concat([pd.DataFrame({"row": reasons.index + 1, "failed": reasons.to_numpy()}, index=reasons.index), rows], axis=1)
    return redact(shown.to_markdown(index=False))


def check_result(group: GroupResult, mode: str, table: StoredTable, quarantined: int | None, redact: Callable[[str], str]) -> dg.AssetCheckResult:
    """The result of one check over `table` (the rows that entered the checks)."""
    failing = group.failing_rows()
    rows_checked = table.num_rows
    passed = not group.table and not failing
    meta: dict[str, Any] = {
        "failing_rows": dg.MetadataValue.int(failing),
        "passed_share": dg.MetadataValue.float(round(1 - failing / rows_checked, 6) if rows_checked else 1.0),
        "rows_checked": dg.MetadataValue.int(rows_checked),
        "on_failure": mode,
    }
    if group.table:
        meta["table_failures"] = dg.MetadataValue.md(redact("\n".join(f"- {m}" for m in group.table)))
    if failing:
        failures = group.rows.frame()
        counts = failures.groupby(RULE, sort=False)[ROW].nunique().rename("failing rows")
        meta["rules_failed"] = dg.MetadataValue.md(redact(counts.reset_index().to_markdown(index=False)))
        meta["sample"] = dg.MetadataValue.md(sample_markdown(table, failures, redact))
    if quarantined is not None:
        meta["quarantined_rows"] = dg.MetadataValue.int(quarantined)
    if group.details:
        meta["details"] = dg.MetadataValue.json(group.details)
    return dg.AssetCheckResult(check_name=group.name, passed=passed, severity=severity(mode, group), metadata=meta)
