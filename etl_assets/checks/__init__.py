"""Data quality checks: pandera column rules, Great Expectations, row counts, anomalies, quarantine.

The Dagster-facing API is in `etl_assets.checks.asset`; this package import stays cheap (config
validation uses `gx_catalog`), pandera and Great Expectations are imported only when used.
"""
