"""What every generated asset shares: keys, inputs, code versions, error redaction."""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import dagster as dg

from .. import streamed_load
from ..config import LoadedPipeline
from ..partitions import partitions_def
from ..retries import retry_policy
from ..sla import asset_kwargs as sla_asset_kwargs
from ..tables import Observer, StoredTable, TableWriter

INPUT_PREFIX = "in_"


@dataclass(frozen=True)
class AssetContext:
    """A config item together with its pipeline, as the builders need them."""

    loaded: LoadedPipeline
    section: str
    index: int

    @property
    def config(self) -> Any:
        return getattr(self.loaded.config, self.section)[self.index]

    @property
    def pipeline(self) -> str:
        return self.loaded.config.pipeline

    @property
    def key(self) -> dg.AssetKey:
        return asset_key(self.pipeline, self.config.name)

    def code_version(self) -> str:
        """Hash of this item's config, its connection, and the pipeline settings it depends on."""
        parts: list[tuple[Any, ...]] = [(self.section, self.index)]
        connection = getattr(self.config, "connection", None)
        if connection:
            parts.append(("connections", connection))
        if self.loaded.config.partitions is not None:
            parts.append(("partitions",))
        return self.loaded.fingerprint(*parts)

    def ins(self) -> dict[str, dg.AssetIn]:
        return {INPUT_PREFIX + name: dg.AssetIn(key=asset_key(self.pipeline, name)) for name in self.loaded.config.upstream_of(self.config)}

    def common_kwargs(self) -> dict[str, Any]:
        """Arguments of `@dg.asset` shared by every kind."""
        cfg = self.loaded.config
        return {
            "key": self.key,
            "group_name": cfg.pipeline,
            "code_version": self.code_version(),
            "description": self.config.description or None,
            "owners": list(cfg.owners) or None,
            "metadata": {"config_file": str(self.loaded.file), **({"tags": redacted_tags(self.loaded)} if cfg.tags else {})},
            "retry_policy": retry_policy(cfg, self.config),
            "partitions_def": partitions_def(cfg),
            **sla_asset_kwargs(cfg, self.section),
        }

    def connection_resource_key(self, connection: str) -> str:
        return connection_resource_key(self.pipeline, connection)


def asset_key(pipeline: str, name: str) -> dg.AssetKey:
    """`<pipeline>/<name>`."""
    return dg.AssetKey([pipeline, name])


def connection_resource_key(pipeline: str, connection: str) -> str:
    return f"{pipeline}__{connection}"


def inputs_by_name(inputs: dict[str, StoredTable]) -> dict[str, StoredTable]:
    return {k.removeprefix(INPUT_PREFIX): v for k, v in inputs.items()}


def redacting(loaded: LoadedPipeline) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn any error of an asset body into a Failure whose text carries no secret."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except dg.Failure as exc:
                raise dg.Failure(description=loaded.redact(exc.description or ""), metadata=exc.metadata) from None
            except Exception as exc:  # noqa: BLE001 - every error is shown to the user, redacted
                raise dg.Failure(description=loaded.redact(f"{type(exc).__name__}: {exc}")) from None

        inner.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined] # Dagster reads real types
        return inner

    return wrap


def staged_writer(key: dg.AssetKey, *observers: Observer) -> TableWriter:
    """`streamed_load.staged_writer` for the asset `key`."""
    return streamed_load.staged_writer(key.path, *observers)


def redacted_tags(loaded: LoadedPipeline) -> dict[str, str]:
    """The pipeline's `tags` with any value from the environment masked."""
    return {k: loaded.redact(v) for k, v in loaded.config.tags.items()}
