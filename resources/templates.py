"""Config templates (`${VAR}` text) resolved at run time, remembering which values are secrets."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import dagster as dg

from etl_assets.config.yaml_loader import interpolate
from etl_assets.redact import redact


class Secrets:
    """The secret values met while resolving templates, and a redactor for them."""

    def __init__(self, values: Iterable[str] = ()):
        self.values: set[str] = set(values)

    def resolve(self, template: str) -> str:
        """Interpolate `${VAR}` / `${VAR:-default}` from the environment; env values become secrets."""
        value, found, missing, _ = interpolate(template, os.environ)
        if missing:
            raise dg.Failure(description=f"environment variable(s) {', '.join(missing)} not set")
        self.values.update(found)
        return value

    def add(self, *values: str | None) -> None:
        self.values.update(v for v in values if v)

    def redact(self, text: str) -> str:
        return redact(text, self.values)


def number(value: Any, default: float) -> float:
    """A numeric config value; one written as a `${VAR}` template is interpolated now."""
    if value is None:
        return default
    if isinstance(value, str):
        value = Secrets().resolve(value)
    return float(value)


def resolve_path(path: str, base_dir: str) -> Path:
    """`~` expanded; a relative path resolves against the config file's directory."""
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else Path(base_dir) / p


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: Secrets):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.secrets.redact(record.getMessage())
        record.args = None
        return True


@contextmanager
def redacted_loggers(secrets: Secrets, *names: str) -> Iterator[None]:
    """While open, records of these loggers (e.g. urllib3's, which log full URLs) are redacted."""
    log_filter = _RedactingFilter(secrets)
    loggers = [logging.getLogger(n) for n in names]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)
