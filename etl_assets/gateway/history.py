"""Config history: every distinct text of every pipeline config, in Dagster's own database.

The table `etl_config_history` lives in the PostgreSQL database of the instance's storage, or, for
SQLite instances, in `$DAGSTER_HOME/etl_config_history.db`. The same text twice is one version.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..config import load_all

TABLE = "etl_config_history"
metadata = sa.MetaData()
history = sa.Table(
    TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.UniqueConstraint("pipeline", "version", name=f"{TABLE}_version"),
    sa.UniqueConstraint("pipeline", "sha256", name=f"{TABLE}_content"),
)


@dataclass(frozen=True)
class Version:
    pipeline: str
    version: int
    sha256: str
    content: str
    file_name: str
    source: str
    created_at: float
    created_by: str


def sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def history_url(instance: dg.DagsterInstance) -> str:
    """The database of the instance's run storage (PostgreSQL), else a SQLite file in DAGSTER_HOME."""
    postgres_url = getattr(instance.run_storage, "postgres_url", None)
    if isinstance(postgres_url, str) and postgres_url:
        return postgres_url.replace("postgresql://", "postgresql+psycopg://", 1).replace("postgres://", "postgresql+psycopg://", 1)
    return f"sqlite:///{Path(instance.root_directory) / 'etl_config_history.db'}"


class ConfigHistory:
    """Versions of pipeline configs, numbered 1, 2, ... per pipeline."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def record(self, pipeline: str, content: str, file_name: str, source: str, who: str) -> tuple[Version, bool]:
        """Store the text unless this pipeline already has it; (the version, whether it is new)."""
        digest = sha256(content)
        for _ in range(10):  # a concurrent writer may take the next number first
            existing = self._find(pipeline, digest)
            if existing is not None:
                return existing, False
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(sa.select(sa.func.max(history.c.version)).where(history.c.pipeline == pipeline)).scalar()
                    version = Version(pipeline, (latest or 0) + 1, digest, content, file_name, source, time.time(), who)
                    conn.execute(history.insert().values(**vars(version)))
            except IntegrityError:
                continue
            return version, True
        raise RuntimeError(f"could not record a config version of {pipeline}")

    def record_directory(self, directory: Path, who: str) -> list[tuple[Version, bool]]:
        """Record the text of every valid config in the directory (source `loaded`)."""
        pipelines, _ = load_all(directory)
        return [self.record(p.config.pipeline, p.file.read_text(encoding="utf-8-sig"), p.file.name, "loaded", who) for p in pipelines]

    def versions(self, pipeline: str) -> list[Version]:
        """Every version of the pipeline, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(history).where(history.c.pipeline == pipeline).order_by(history.c.version.desc())).mappings()
            return [_version(r) for r in rows]

    def _find(self, pipeline: str, digest: str) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(history).where(history.c.pipeline == pipeline, history.c.sha256 == digest)).mappings().first()
        return _version(row) if row else None


def _version(row: sa.RowMapping) -> Version:
    return Version(**{k: row[k] for k in Version.__dataclass_fields__})
