"""A source's or transform's `checks` as Dagster asset checks: specs when the definitions are
built, results (and what flows on) when the asset runs.

Checks, one per block, named after it: `row_count`, `columns` (column rules and `strict`),
`expectations`, `anomalies`. With `on_failure: fail` (default) and `quarantine` they are blocking:
an ERROR result stops everything downstream and fails the run; `warn` results are warnings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from ..assets.common import AssetContext, staged_writer
from ..config.models import ChecksConfig
from ..tables import CHUNK_ROWS, StoredTable
from .failures import REASON, ROW, GroupResult
from .profile import column_profile
from .quarantine import QuarantineSink, quarantine_place, resource_key
from .report import check_result
from .row_count import check_row_count
from .split import rewrite

if TYPE_CHECKING:
    import pandas as pd


def _checks(ctx: AssetContext) -> ChecksConfig | None:
    return getattr(ctx.config, "checks", None)


def _descriptions(checks: ChecksConfig) -> dict[str, str]:
    """Check name -> description, for the blocks the config has, in config order."""
    out: dict[str, str] = {}
    if checks.row_count:
        bounds = [f"at least {checks.row_count.min}" if checks.row_count.min is not None else "", f"at most {checks.row_count.max}" if checks.row_count.max is not None else ""]
        out["row_count"] = "Row count " + " and ".join(b for b in bounds if b) + " rows"
    if checks.columns or checks.strict:
        strict = {True: "; unexpected columns fail", "filter": "; unexpected columns are dropped"}.get(checks.strict, "")  # type: ignore[arg-type]
        out["columns"] = f"pandera rules on {', '.join(checks.columns) or 'the column set'}{strict}"
    if checks.expectations:
        out["expectations"] = "Great Expectations: " + ", ".join(name for e in checks.expectations for name in e)
    if checks.anomalies:
        out["anomalies"] = "Outliers: " + ", ".join(f"{a.column} {a.method} > {a.threshold:g}" for a in checks.anomalies)
    return out


def check_specs(ctx: AssetContext) -> list[dg.AssetCheckSpec]:
    """One asset check per check block of the item (none without `checks`)."""
    checks = _checks(ctx)
    if checks is None:
        return []
    mode = f"on failure: {checks.on_failure}"
    return [
        dg.AssetCheckSpec(name, asset=ctx.key, description=ctx.loaded.redact(f"{text} ({mode})"), blocking=checks.on_failure != "warn")
        for name, text in _descriptions(checks).items()
    ]


def check_resource_keys(ctx: AssetContext) -> set[str]:
    """Resources the checks need: the quarantine table's SQL connection."""
    key = resource_key(ctx)
    return {key} if key else set()


@dataclass
class CheckOutcome:
    """What the asset returns: the table that flows on, check results and metadata."""

    table: StoredTable
    results: list[dg.AssetCheckResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def evaluate(checks: ChecksConfig, table: StoredTable, chunk_rows: int = CHUNK_ROWS) -> tuple[list[GroupResult], list[str]]:
    """Run every row- and column-level block; returns the results and the columns `strict: filter` drops."""
    groups: list[GroupResult] = []
    dropped: list[str] = []
    if checks.columns or checks.strict:
        from .columns import check_columns

        result, dropped = check_columns(checks, table, chunk_rows)
        groups.append(result)
    if checks.expectations:
        from .expectations import check_expectations

        groups.append(check_expectations(checks.expectations, table, chunk_rows))
    if checks.anomalies:
        from .anomalies import check_anomalies

        groups.append(check_anomalies(checks.anomalies, table))
    return groups, dropped


def _row_reasons(groups: list[GroupResult]) -> pd.Series | None:
    """Row position -> every reason of that row, `; `-separated, sorted by row; None when no row
    failed (pandas is not needed then)."""
    frames = [g.rows.frame() for g in groups if g.rows]
    if not frames:
        return None
    import pandas as pd

    return pd.concat(frames, ignore_index=True).groupby(ROW, sort=True)[REASON].agg("; ".join)


def run_checks(ctx: AssetContext, context: dg.AssetExecutionContext, table: StoredTable) -> CheckOutcome:
    """Check the freshly written table; returns what flows on (rows quarantined, columns filtered,
    declared types applied), the check results and metadata (always a column profile)."""
    checks = _checks(ctx)
    if checks is None:
        return CheckOutcome(table, metadata={"profile": column_profile(table)})
    mode = checks.on_failure
    groups, dropped = evaluate(checks, table)
    reasons = _row_reasons(groups)
    failed = 0 if reasons is None else len(reasons)
    quarantining = mode == "quarantine"
    if checks.row_count:
        groups.insert(0, check_row_count(checks.row_count, table.num_rows - (failed if quarantining else 0)))
    blocked = mode != "warn" and (any(g.table for g in groups) or (mode == "fail" and failed > 0))
    out, quarantined = table, None
    meta: dict[str, Any] = {"rows_in": dg.MetadataValue.int(table.num_rows)}
    if not blocked:
        out, quarantined, where = _pass_on(ctx, context, table, groups, reasons if quarantining else None, dropped)
        if where:
            meta["quarantine"] = ctx.loaded.redact(where)
    if quarantining:
        meta["rows_quarantined"] = dg.MetadataValue.int(quarantined or 0)
    results = [check_result(g, mode, table, _quarantined(g, quarantined) if quarantining else None, ctx.loaded.redact) for g in groups]
    if out is not table:
        table.path.unlink(missing_ok=True)
    _log(ctx, context, mode, groups, quarantined)
    return CheckOutcome(out, results, {**meta, "profile": column_profile(out)})


def _quarantined(group: GroupResult, total: int | None) -> int:
    """Rows of this check's failures that were quarantined (none when the checks blocked)."""
    return group.failing_rows() if total else 0


def _pass_on(
    ctx: AssetContext, context: dg.AssetExecutionContext, table: StoredTable, groups: list[GroupResult], removed: pd.Series | None, dropped: list[str]
) -> tuple[StoredTable, int | None, str | None]:
    """(table that flows on, rows quarantined, where they went) when the checks do not block;
    `removed`: the rows to quarantine, with their reasons (None: none)."""
    checks = _checks(ctx)
    assert checks is not None
    conversions: dict[str, str] = {}
    for g in groups:
        conversions.update({c: t for c, t in g.conversions.items() if checks.on_failure != "warn" or c not in g.unconvertible})
    sink = _sink(ctx, context) if checks.on_failure == "quarantine" else None
    out = table
    try:
        if removed is not None or dropped or conversions:
            out = rewrite(table, staged_writer(ctx.key), removed, dropped, conversions, sink, ctx.key.to_user_string(), context.run_id)
        where = sink.commit() if sink is not None else None
    except BaseException:
        if sink is not None:
            sink.abort()
        if out is not table:
            out.path.unlink(missing_ok=True)
        raise
    return out, (sink.rows if sink is not None else None), where


def _sink(ctx: AssetContext, context: dg.AssetExecutionContext) -> QuarantineSink:
    place = quarantine_place(ctx)
    key = resource_key(ctx)
    if key is None:
        return QuarantineSink(ctx, place, context.run_id, None)
    db = getattr(context.resources, key)
    return QuarantineSink(ctx, place, context.run_id, db.resolved_url(), db.timeout_seconds)


def _log(ctx: AssetContext, context: dg.AssetExecutionContext, mode: str, groups: list[GroupResult], quarantined: int | None) -> None:
    for g in groups:
        if g.table or g.failing_rows():
            problems = "; ".join(g.table[:3]) or f"{g.failing_rows()} failing row(s)"
            context.log.warning(ctx.loaded.redact(f"check {g.name} failed (on_failure: {mode}): {problems}"))
    if quarantined:
        context.log.info(f"{quarantined} row(s) quarantined")
