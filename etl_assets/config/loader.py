"""Config files -> validated PipelineConfig objects, with every error at file:line:col."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from .errors import ConfigError, ConfigValidationError, display_path
from .messages import expected_message
from .models import PipelineConfig
from .models.pipeline import reference_errors
from .support import unsupported_features
from .yaml_loader import LoadedYaml, human_path, load_yaml

CONFIG_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedPipeline:
    """A valid pipeline config plus what the runtime needs to know about its file."""

    config: PipelineConfig
    file: Path
    secrets: frozenset[str] = field(default_factory=frozenset)
    raw: Any = None

    @property
    def base_dir(self) -> Path:
        return self.file.parent

    def resolve_path(self, path: str) -> Path:
        """A config path made absolute against the config file's directory."""
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else (self.base_dir / p)

    def redact(self, text: str) -> str:
        """Replace every secret value in text with ***."""
        from ..redact import redact

        return redact(text, self.secrets)

    def fingerprint(self, *paths: tuple[Any, ...]) -> str:
        """A stable hash of parts of the raw config, secrets replaced by their `${VAR}` text."""
        parts = [_get(self.raw, p) for p in paths]
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(self.redact(text).encode()).hexdigest()[:16]


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def configs_dir() -> Path:
    """$ETL_CONFIGS_DIR, default configs/ at the project root (the working directory)."""
    return Path(os.environ.get("ETL_CONFIGS_DIR", "configs"))


def discover(directory: Path) -> list[Path]:
    """Config files in a directory; names starting with `_` or `.` are ignored."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix in CONFIG_SUFFIXES and not p.name.startswith(("_", "."))
    )


def load_pipeline(path: Path, env: Mapping[str, str] | None = None) -> LoadedPipeline:
    """Load and validate one config file; raise ConfigValidationError with every problem."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigValidationError([ConfigError(shown, 1, 1, f"cannot read config: {exc}")]) from exc
    loaded = load_yaml(text, shown, env)
    errors = list(loaded.errors)
    if loaded.data is not None and not isinstance(loaded.data, dict):
        errors.append(ConfigError(shown, 1, 1, "expected a mapping with pipeline, sources and targets"))
    if loaded.data is None or not isinstance(loaded.data, dict):
        raise _failure(errors, loaded)
    errors += [_at(loaded, shown, list(p), msg) for p, msg in reference_errors(loaded.data) if p not in loaded.unresolved]
    try:
        config = PipelineConfig.model_validate(loaded.data)
    except ValidationError as exc:
        located = (_locate(loaded, shown, err) for err in exc.errors())
        raise _failure(errors + [e for e in located if e is not None], loaded) from None
    errors += [_at(loaded, shown, list(p), msg) for p, msg in unsupported_features(config)]
    if errors:
        raise _failure(errors, loaded)
    return LoadedPipeline(config=config, file=path.resolve(), secrets=frozenset(loaded.secrets), raw=_raw_with_placeholders(loaded))


def _failure(errors: list[ConfigError], loaded: LoadedYaml) -> ConfigValidationError:
    """The errors, with any value that came from the environment masked (messages quote values)."""
    from ..redact import redact

    return ConfigValidationError([replace(e, message=redact(e.message, loaded.secrets)) for e in errors])


def _raw_with_placeholders(loaded: LoadedYaml) -> Any:
    """The data with every env-derived string put back as its `${VAR}` text."""
    data = json.loads(json.dumps(loaded.data, default=str))
    for path, original in loaded.secret_paths.items():
        target = data
        for part in path[:-1]:
            target = target[part]
        if path:
            target[path[-1]] = original
    return data


def _locate(loaded: LoadedYaml, file: str, err: Any) -> ConfigError | None:
    """A pydantic error at its YAML position; None where interpolation already reported it."""
    path = list(err["loc"])
    if err["type"] == "missing":
        path = path[:-1]
    error = _at(loaded, file, path, expected_message(err), key=err["type"] == "extra_forbidden")
    return None if _real_path(loaded.data, path) in loaded.unresolved else error


def _real_path(data: Any, loc: list[Any]) -> tuple[Any, ...]:
    """A pydantic location (which may hold union tags and aliases) as a path in the YAML data."""
    real: list[Any] = []
    for part in loc:
        if part == "with_":
            part = "with"
        if isinstance(data, dict) and part in data:
            data = data[part]
            real.append(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
            real.append(part)
        # otherwise a union tag or a validator name: skip it
    return tuple(real)


def _at(loaded: LoadedYaml, file: str, loc: list[Any], message: str, key: bool = False) -> ConfigError:
    """A ConfigError at the position of a (model or YAML) location."""
    where = _real_path(loaded.data, loc)
    pos = (loaded.key_positions.get(where) if key else None) or loaded.positions.get(where) or (1, 1)
    return ConfigError(file, pos[0], pos[1], message, human_path(where))


def load_all(directory: Path | None = None, env: Mapping[str, str] | None = None) -> tuple[list[LoadedPipeline], list[ConfigError]]:
    """Every valid pipeline in the directory, and the errors of the broken files."""
    directory = configs_dir() if directory is None else directory
    pipelines: list[LoadedPipeline] = []
    errors: list[ConfigError] = []
    names: dict[str, Path] = {}
    for path in discover(directory):
        try:
            loaded = load_pipeline(path, env)
        except ConfigValidationError as exc:
            errors.extend(exc.errors)
            continue
        name = loaded.config.pipeline
        if name in names:
            errors.append(ConfigError(display_path(path), 1, 1, f"pipeline '{name}' is already defined in {display_path(names[name])}", "pipeline"))
            continue
        names[name] = path
        pipelines.append(loaded)
    return pipelines, errors
