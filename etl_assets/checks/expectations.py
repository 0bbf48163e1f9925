"""The `expectations` block, run with Great Expectations 1.x (ephemeral context, pandas data).

GX is imported here, lazily, only when a pipeline has expectations (the import takes seconds).
- Row-level (column map) expectations report their unexpected rows (result_format COMPLETE,
  indexed by row position): those rows fail. They run chunk by chunk, except the ones that need
  the whole column (uniqueness, z-scores, outliers, increasing/decreasing) and any with `mostly`
  (a share of the whole table): these, and every aggregate or table expectation, run once on the
  columns they read (the whole table for table expectations). A failing aggregate or table
  expectation, or one that cannot run (e.g. a missing column), is a table-level failure.
- With `mostly`, a passing expectation fails no rows; a failing one fails all its unexpected rows.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..tables import StoredTable
from .data import positioned_batches
from .failures import GroupResult
from .gx_catalog import EXPECTATIONS

NAME = "expectations"

WHOLE_COLUMN = frozenset(
    {
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_column_value_z_scores_to_be_less_than",
        "expect_column_values_to_not_be_outliers",
        "expect_column_values_to_be_increasing",
        "expect_column_values_to_be_decreasing",
    }
)
"""Row-level expectations whose verdict on a row depends on other rows."""


@dataclass(frozen=True)
class Expectation:
    """One configured expectation."""

    name: str
    kwargs: dict[str, Any]

    @property
    def label(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}({args})"

    @property
    def row_level(self) -> bool:
        return bool(EXPECTATIONS[self.name]["row_level"])

    @property
    def chunkable(self) -> bool:
        mostly = self.kwargs.get("mostly", 1)
        return self.row_level and self.name not in WHOLE_COLUMN and (mostly is None or mostly >= 1)

    def columns(self) -> list[str] | None:
        """The columns it reads; None when it concerns the whole table."""
        if not self.row_level and (self.name.startswith("expect_table_") or self.name == "expect_column_to_exist"):
            return None
        cols = [self.kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(self.kwargs.get(k), str)]
        listed = self.kwargs.get("column_list")
        return cols + (list(listed) if isinstance(listed, list) else [])


@dataclass
class _Tally:
    """Totals of one expectation over the chunks it ran on."""

    success: bool = True
    unexpected: int = 0
    observed: Any = None
    error: str | None = None


def _gx_batch_definition() -> Any:
    """A whole-dataframe batch definition in a fresh ephemeral context (no analytics, no progress bars)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False)
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    return context.data_sources.add_pandas("etl").add_dataframe_asset("table").add_batch_definition_whole_dataframe("all")


@dataclass
class _Runner:
    batch_definition: Any
    tallies: dict[int, _Tally] = field(default_factory=dict)
    table_failures: dict[int, str] = field(default_factory=dict)
    """Expectation number -> its table-level failure (reported in config order)."""

    def run(self, items: list[tuple[int, Expectation]], frame: pd.DataFrame, result: GroupResult) -> None:
        import great_expectations as gx

        suite = gx.ExpectationSuite(name="checks", expectations=[_build(gx, number, e) for number, e in items])
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        validation = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        by_number = dict(items)
        for outcome in validation.results:  # GX reorders results: match them by the number in meta
            number = int(outcome.expectation_config.meta[_NUMBER])
            self._record(number, by_number[number], outcome, result)

    def _record(self, number: int, expectation: Expectation, outcome: Any, result: GroupResult) -> None:
        tally = self.tallies.setdefault(number, _Tally())
        error = _exception(outcome.exception_info or {})
        if error:
            tally.success, tally.error = False, error
            self.table_failures[number] = f"{expectation.label}: could not run: {error}"
            return
        details = outcome.result or {}
        tally.unexpected += int(details.get("unexpected_count") or 0)
        tally.observed = details.get("observed_value", tally.observed)
        if outcome.success:
            return
        tally.success = False
        rows = details.get("unexpected_index_list")
        if expectation.row_level and rows is not None:
            values = details.get("unexpected_list") or []
            result.rows.add(np.asarray(rows, dtype="int64"), expectation.label, values if len(values) == len(rows) else None)
        else:
            self.table_failures[number] = f"{expectation.label}: failed (observed {_plain(details.get('observed_value'))})"


_NUMBER = "etl_expectation_number"


def _build(gx: Any, number: int, expectation: Expectation) -> Any:
    """The GX expectation object, tagged with its position in the config."""
    kwargs = {**expectation.kwargs, "meta": {**(expectation.kwargs.get("meta") or {}), _NUMBER: number}}
    return getattr(gx.expectations, EXPECTATIONS[expectation.name]["class"])(**kwargs)


def _exception(info: dict[str, Any]) -> str | None:
    """The message of an exception GX caught (flat, or per metric when a metric failed)."""
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return str(nested[0].get("exception_message")) if nested else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_expectations(configured: list[dict[str, dict[str, Any]]], table: StoredTable, chunk_rows: int) -> GroupResult:
    """The `expectations` check over the whole table."""
    result = GroupResult(NAME)
    items = [(i, Expectation(name, dict(kwargs))) for i, entry in enumerate(configured) for name, kwargs in entry.items()]
    result.rows.rank(e.label for _, e in items)
    runner = _Runner(_gx_batch_definition())
    chunked = [item for item in items if item[1].chunkable]
    whole = [item for item in items if not item[1].chunkable]
    if chunked:
        for offset, batch in positioned_batches(table, chunk_rows):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            runner.run(chunked, frame, result)
    if whole:
        runner.run(whole, _whole_frame(table, [e for _, e in whole]), result)
    for number in sorted(runner.table_failures):
        result.add_table_failure(runner.table_failures[number])
    result.details["expectations"] = [
        {"expectation": e.label, "success": t.success, "unexpected_rows": t.unexpected, **({"observed": _plain(t.observed)} if t.observed is not None else {})}
        for (i, e) in items
        for t in [runner.tallies.get(i, _Tally())]
    ]
    return result


def _whole_frame(table: StoredTable, expectations: list[Expectation]) -> pd.DataFrame:
    """The columns these expectations read (all, if any concerns the whole table), in memory."""
    needed: list[str] | None = []
    for expectation in expectations:
        cols = expectation.columns()
        needed = None if cols is None or needed is None else needed + cols
    names = table.schema.names
    columns = names if needed is None else [c for c in names if c in set(needed)]
    return table.read(columns=columns).to_pandas()
