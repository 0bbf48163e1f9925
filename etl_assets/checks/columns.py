"""The `columns` rules and `strict`, validated with pandera chunk by chunk.

- Missing declared columns and (with `strict: true`) unexpected columns are table-level failures;
  `strict: filter` drops unexpected columns instead.
- `type` is checked value by value (see `coercion`); the other rules see the converted values.
  Range rules on a text column without `type` read the values as `float` first.
- `nullable`, ranges, `isin`/`notin`, `regex` (Python `re.match`: anchored at the start; add `$`
  to anchor the end) and lengths are row-level; null values pass every rule but `nullable: false`.
  `regex` and lengths apply to the text of non-text values.
- `unique` needs the whole column: that one column is read at once (8-50 bytes a row), every
  occurrence of a repeated value fails (as pandera reports it); nulls are never duplicates.
Other rules hold one chunk (`ETL_CHUNK_ROWS` rows) of the declared columns in memory at a time.
Only the declared columns are read; a chunk of a column goes to pandas and pandera only when it
needs converting or `screen` cannot tell that every rule passes, so results are pandera's.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import pyarrow as pa

from ..config.models import ChecksConfig, ColumnRule
from ..tables import StoredTable, to_pandas
from .coercion import convert, has_type, value_level
from .data import read_column
from .failures import GroupResult, format_number
from .screen import surely_passes

if TYPE_CHECKING:
    import pandas as pd

NAME = "columns"


@dataclass
class ColumnPlan:
    """What to do with one declared column that exists in the data."""

    name: str
    rule: ColumnRule
    convert_to: str | None

    @cached_property
    def rule_labels(self) -> list[str]:
        """The reason label of each value rule, in config order."""
        return [label for label, _ in _rules(self.name, self.rule)]

    @cached_property
    def checks(self) -> list[tuple[str, Any]]:
        """(reason label, pandera Check) per value rule: built (and pandera imported) only for a
        chunk that `screen` cannot pass."""
        return rule_checks(self.name, self.rule)


def _text(series: pd.Series) -> pd.Series:
    """The values as text: the series itself when it holds only str objects."""
    import pandas as pd

    if series.dtype == object and (len(series) == 0 or pd.api.types.infer_dtype(series, skipna=False) == "string"):
        return series
    return series.astype(str)


def _rules(column: str, rule: ColumnRule) -> list[tuple[str, Callable[[Any], Any]]]:
    """(reason label, pandera module -> Check) for each value rule of a column, in config order."""
    rules: list[tuple[str, Callable[[Any], Any]]] = []
    for key in ("ge", "gt", "le", "lt"):
        value = getattr(rule, key)
        if value is not None:
            rules.append((f"{column} {key} {format_number(value)}", lambda pa_, key=key, value=value: getattr(pa_.Check, key)(value)))
    if rule.isin is not None:
        rules.append((f"{column} isin {rule.isin}", lambda pa_, values=rule.isin: pa_.Check.isin(values)))
    if rule.notin is not None:
        rules.append((f"{column} notin {rule.notin}", lambda pa_, values=rule.notin: pa_.Check.notin(values)))
    if rule.regex is not None:
        pattern = rule.regex
        rules.append((f"{column} regex {pattern}", lambda pa_: pa_.Check(lambda s: _text(s).str.match(pattern), name="regex")))
    if rule.min_length is not None:
        low = rule.min_length
        rules.append((f"{column} min_length {low}", lambda pa_: pa_.Check(lambda s: _text(s).str.len() >= low, name="min_length")))
    if rule.max_length is not None:
        high = rule.max_length
        rules.append((f"{column} max_length {high}", lambda pa_: pa_.Check(lambda s: _text(s).str.len() <= high, name="max_length")))
    return rules


def rule_checks(column: str, rule: ColumnRule) -> list[tuple[str, Any]]:
    """(reason label, pandera Check) for each value rule of a column, in config order."""
    import pandera.pandas as pa_

    return [(label, build(pa_)) for label, build in _rules(column, rule)]


def _plans(checks: ChecksConfig, schema: pa.Schema, result: GroupResult) -> list[ColumnPlan]:
    plans = []
    for name, rule in checks.columns.items():
        if name not in schema.names:
            continue
        arrow_type = schema.field(name).type
        declared: str | None = rule.type
        ranged = any(v is not None for v in (rule.ge, rule.gt, rule.le, rule.lt))
        if declared is None and ranged and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)):
            declared = "float"
        convert_to = None
        if declared is not None and not has_type(arrow_type, declared):
            if value_level(arrow_type, declared):
                convert_to = declared
            else:
                result.add_table_failure(f"{name}: column holds {arrow_type} values, not {declared}")
        if rule.type is not None and convert_to:
            result.conversions[name] = convert_to
        plans.append(ColumnPlan(name, rule, convert_to))
    return plans


def check_schema(checks: ChecksConfig, table: StoredTable, result: GroupResult) -> list[str]:
    """Missing and unexpected columns (pandera, on the schema alone); returns columns to drop.
    pandera is asked only when the names show a missing or (strict) unexpected column."""
    names = set(table.schema.names)
    missing = any(c not in names for c in checks.columns)
    unexpected = checks.strict is True and any(c not in checks.columns for c in names)
    if missing or unexpected:
        _schema_failures(checks, table, result)
    if checks.strict == "filter":
        return [c for c in table.schema.names if c not in checks.columns]
    return []


def _schema_failures(checks: ChecksConfig, table: StoredTable, result: GroupResult) -> None:
    import pandera.pandas as pa_

    schema = pa_.DataFrameSchema({c: pa_.Column(nullable=True) for c in checks.columns}, strict=checks.strict is True)
    try:
        schema.validate(to_pandas(table.schema.empty_table()), lazy=True)
    except pa_.errors.SchemaErrors as exc:
        for case in exc.failure_cases.itertuples():
            if case.check == "column_in_dataframe":
                result.add_table_failure(f"{case.failure_case}: declared column is missing")
            elif case.check == "column_in_schema":
                result.add_table_failure(f"{case.failure_case}: unexpected column (strict)")


def check_columns(checks: ChecksConfig, table: StoredTable, chunk_rows: int) -> tuple[GroupResult, list[str]]:
    """The `columns` check over the whole table; also returns the columns `strict: filter` drops."""
    result = GroupResult(NAME)
    dropped = check_schema(checks, table, result)
    plans = _plans(checks, table.schema, result)
    result.rows.rank(label for plan in plans for label in _labels(plan))
    schemas: dict[tuple[str, ...], Any] = {}
    offset = 0
    for batch in _batches(table, [p.name for p in plans], chunk_rows):
        doubtful = [p for p in plans if p.convert_to or not surely_passes(batch.column(p.name), p.rule)]
        if doubtful:
            import pandas as pd

            frame = to_pandas(batch.select([p.name for p in doubtful]))
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            key = tuple(p.name for p in doubtful)
            if key not in schemas:
                schemas[key] = _value_schema(doubtful)
            _check_chunk(frame, doubtful, schemas[key], result)
        offset += batch.num_rows
    for plan in plans:
        if plan.rule.unique:
            _check_unique(table, plan, result)
    return result, dropped


def _batches(table: StoredTable, columns: list[str], rows: int) -> Iterator[pa.RecordBatch]:
    """Chunks of these columns (at least one, possibly empty; none without columns)."""
    if not columns:
        return
    empty = True
    for batch in table.batches(rows, columns=columns):
        empty = False
        yield batch
    if empty:
        yield pa.RecordBatch.from_pylist([], schema=pa.schema([table.schema.field(c) for c in columns]))


def _labels(plan: ColumnPlan) -> list[str]:
    """Every reason label a column can produce, in config order."""
    name = plan.name
    return [f"{name} type {plan.rule.type}", f"{name} not a number", f"{name} not null", *plan.rule_labels, f"{name} unique"]


def _value_schema(plans: list[ColumnPlan]) -> Any:
    """The pandera schema of the row-level rules (types are converted before, uniqueness after)."""
    import pandera.pandas as pa_

    return pa_.DataFrameSchema({p.name: pa_.Column(checks=[c for _, c in p.checks], nullable=p.rule.nullable) for p in plans})


def _check_chunk(frame: pd.DataFrame, plans: list[ColumnPlan], schema: Any, result: GroupResult) -> None:
    import pandas as pd
    import pandera.pandas as pa_

    typed: dict[str, pd.Series] = {}
    bad_type: dict[str, set[int]] = {}
    for plan in plans:
        series = frame[plan.name]
        if plan.convert_to:
            series, bad = convert(series, plan.convert_to, plan.name)
            if len(bad):
                rule = f"{plan.name} type {plan.rule.type}" if plan.rule.type else f"{plan.name} not a number"
                result.rows.add(bad, rule, frame.loc[bad, plan.name])
                result.unconvertible.add(plan.name)
                bad_type[plan.name] = set(bad.tolist())
        typed[plan.name] = series
    try:
        schema.validate(pd.DataFrame(typed, index=frame.index), lazy=True)
    except pa_.errors.SchemaErrors as exc:
        _collect(exc.failure_cases, {p.name: p for p in plans}, frame, bad_type, result)


def _collect(cases: pd.DataFrame, plans: dict[str, ColumnPlan], frame: pd.DataFrame, bad_type: dict[str, set[int]], result: GroupResult) -> None:
    """pandera failure cases -> row failures (labelled with the config rule) or table failures."""
    import pandas as pd

    for (column, check, number), group in cases.groupby(["column", "check", "check_number"], dropna=False, sort=False):
        plan = plans.get(column)
        if plan is None:
            continue
        label = _label(plan, check, number)
        rows = pd.to_numeric(group["index"], errors="coerce")
        if rows.isna().all():
            detail = "; ".join(str(v) for v in group["failure_case"].unique()[:3])
            result.add_table_failure(f"{label}: cannot be evaluated on this column ({detail}); declare its type")
            continue
        positions = np.array(sorted({int(r) for r in rows.dropna()} - bad_type.get(column, set())), dtype="int64")
        result.rows.add(positions, label, frame.loc[positions, column])


def _label(plan: ColumnPlan, check: str, number: Any) -> str:
    """The config wording of a pandera check: `distance le 5000`, `carrier not null`."""
    import pandas as pd

    if check == "not_nullable":
        return f"{plan.name} not null"
    if number is not None and not pd.isna(number):
        return plan.rule_labels[int(number)]
    return f"{plan.name} {check}"


def _check_unique(table: StoredTable, plan: ColumnPlan, result: GroupResult) -> None:
    """Every occurrence of a repeated value fails; reads the one column whole."""
    import pandas as pd
    import pandera.pandas as pa_

    series = read_column(table, plan.name)
    if plan.convert_to:
        series, _ = convert(series, plan.convert_to, plan.name)
    try:
        pa_.DataFrameSchema({plan.name: pa_.Column(unique=True, nullable=True)}).validate(series.to_frame(), lazy=True)
    except pa_.errors.SchemaErrors as exc:
        rows = pd.to_numeric(exc.failure_cases["index"], errors="coerce").dropna().astype("int64").to_numpy()
        result.rows.add(np.sort(rows), f"{plan.name} unique", series.iloc[np.sort(rows)])
