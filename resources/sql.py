"""SQL databases (PostgreSQL, MariaDB/MySQL, SQLite) by SQLAlchemy URL."""
from __future__ import annotations


import dagster as dg
from sqlalchemy.engine import make_url

from .templates import Secrets, resolve_path


def absolute_sqlite_url(url: str, base_dir: str) -> str:
    """A relative SQLite file path resolves against the config file's directory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    return parsed.set(database=str(resolve_path(parsed.database, base_dir))).render_as_string(hide_password=False)


class SqlResource(dg.ConfigurableResource):
    """A SQL database named in a pipeline's `connections`."""

    url: str
    """SQLAlchemy URL template, e.g. `${WAREHOUSE_URL:-sqlite:///warehouse.db}`."""
    base_dir: str = "."
    """Directory of the config file; relative SQLite paths resolve against it."""
    timeout_seconds: float = 30

    def resolved_url(self) -> str:
        """The URL with variables interpolated (a secret: never log it)."""
        return absolute_sqlite_url(Secrets().resolve(self.url), self.base_dir)

    def display_name(self) -> str:
        """The URL without password, for messages and metadata."""
        return make_url(self.resolved_url()).render_as_string(hide_password=True)
