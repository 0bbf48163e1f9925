"""Targets: load a staged table into a SQL database (`targets.sql.load_sql`) or a file
(`targets.files.write_file`).

Heavy drivers (psycopg, pymysql, pgpq, openpyxl) are imported only when a load runs, so importing
this package stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    """What one load did. For every mode, `inserted + updated + unchanged` is the number of rows of
    the load.

    - `unchanged`: rows of the load that were not applied: in `dedupe`, rows identical to a row
      already in the table or to an earlier row of the load; in `merge`, rows superseded by a later
      row with the same key in the same load. A merged row whose values did not change still
      counts as `updated`.
    - `deleted`: rows removed before inserting (`replace`: the old row count; a partitioned load:
      the rows of that partition window).
    """

    table: str
    """Display name of the target: the quoted, qualified table name, or the file path."""
    inserted: int
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


class TargetError(Exception):
    """A load failed; the message names the table or file and what went wrong (never a secret)."""
