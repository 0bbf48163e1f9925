"""What a check found: failing rows (with the rule and value) and table-level failures."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ..steps.errors import show_value

if TYPE_CHECKING:
    import pandas as pd

ROW, RULE, REASON = "row", "rule", "reason"


def format_value(value: Any) -> str:
    """A data value in a reason: strings quoted, nulls as null, long values shortened."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, (np.floating, float)) and float(value).is_integer():
        return str(int(value)) if abs(float(value)) < 1e15 else str(value)
    if isinstance(value, tuple):  # a pair or group of values (multi-column expectations)
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    return show_value(value.item() if isinstance(value, np.generic) else value)


def format_number(x: float) -> str:
    """A config number as the user wrote it: 5000.0 -> 5000."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass
class RowFailures:
    """(row position, rule, reason) triples, added chunk by chunk; positions are 0-based in the table."""

    _parts: list[pd.DataFrame] = field(default_factory=list)
    _frame: pd.DataFrame | None = None
    _order: dict[str, int] = field(default_factory=dict)

    def rank(self, rules: Iterable[str]) -> None:
        """The order of a row's reasons (config order); unranked rules come after, in order added."""
        self._order = {rule: i for i, rule in enumerate(dict.fromkeys(rules))}
        self._frame = None

    def add(self, rows: Iterable[int], rule: str, values: Iterable[Any] | None = None, detail: Iterable[str] | None = None) -> None:
        """Rows failing `rule`; each reason is the rule with the row's value (and an optional detail)."""
        import pandas as pd

        rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype="int64")
        if not len(rows):
            return
        values_list = list(values) if values is not None else [None] * len(rows)
        details = list(detail) if detail is not None else [""] * len(rows)
        reasons = [
            f"{rule} (value {format_value(v)}{', ' + d if d else ''})" if values is not None else (f"{rule} ({d})" if d else rule)
            for v, d in zip(values_list, details)
        ]
        self._parts.append(pd.DataFrame({ROW: rows, RULE: rule, REASON: reasons}))
        self._frame = None

    def __bool__(self) -> bool:
        """Whether any row failed (known without pandas)."""
        return bool(self._parts)

    def frame(self) -> pd.DataFrame:
        """All failures sorted by row (a row failing several rules has several entries)."""
        import pandas as pd

        if self._frame is None:
            if not self._parts:
                self._frame = pd.DataFrame({ROW: pd.Series(dtype="int64"), RULE: pd.Series(dtype=object), REASON: pd.Series(dtype=object)})
            else:
                out = pd.concat(self._parts, ignore_index=True).drop_duplicates()
                rank = out[RULE].map(self._order).fillna(len(self._order))
                self._frame = out.assign(_rank=rank).sort_values([ROW, "_rank"], kind="stable", ignore_index=True).drop(columns="_rank")
        return self._frame


@dataclass
class GroupResult:
    """The outcome of one check (a block of rules) over a table."""

    name: str
    rows: RowFailures = field(default_factory=RowFailures)
    table: list[str] = field(default_factory=list)
    """Table-level failures: messages that concern the whole table, not rows."""
    details: dict[str, Any] = field(default_factory=dict)
    """Extra metadata for the check result (statistics, observed values)."""
    conversions: dict[str, str] = field(default_factory=dict)
    """column -> declared type, for columns the passed-on data should be converted to."""
    unconvertible: set[str] = field(default_factory=set)
    """Columns with values that fail their declared type (not converted in warn mode)."""

    def failing_rows(self) -> int:
        return int(self.rows.frame()[ROW].nunique()) if self.rows else 0

    def add_table_failure(self, message: str) -> None:
        if message not in self.table:
            self.table.append(message)
