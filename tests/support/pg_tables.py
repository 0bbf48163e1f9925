"""Reading what a test loaded into PostgreSQL, in a form that compares with a file."""
from __future__ import annotations

import pandas as pd
import psycopg
from sqlalchemy.engine import make_url

from etl_assets.targets.sql import read_table


def rows(url: str, table: str = "flights") -> pd.DataFrame:
    return canonical(read_table(url, table))


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as text (None for nulls, integral floats as integers), rows sorted."""
    def text(v: object) -> str:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return "None"
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    out = frame.astype(object).apply(lambda c: c.map(text))
    return out.sort_values(list(out.columns)).reset_index(drop=True)


def table_exists(url: str, table: str = "flights") -> bool:
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
