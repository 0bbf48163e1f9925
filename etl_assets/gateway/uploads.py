"""Uploaded pipeline configs: validated exactly as `etl validate` does, then written atomically."""
from __future__ import annotations

import dataclasses
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import ConfigError, ConfigValidationError, discover, load_pipeline
from ..config.errors import display_path

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}\.ya?ml$")
PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class UploadRejected(Exception):
    """Nothing was written; `errors` are `file:line:col: message` lines."""

    def __init__(self, status: int, detail: str, errors: list[str]):
        super().__init__(detail)
        self.status = status
        self.errors = errors


@dataclass(frozen=True)
class WrittenConfig:
    pipeline: str
    path: Path
    content: str
    changed: bool


def write_config(directory: Path, content: str, file_name: str | None) -> WrittenConfig:
    """Validate the text as the config file it will become; write it there only when valid."""
    directory.mkdir(parents=True, exist_ok=True)
    declared = _declared_pipelines(directory)
    final = directory / _file_name(content, file_name, declared)
    shown = display_path(final)
    tmp = directory / f".upload-{uuid.uuid4().hex}.yaml"  # a dot name: never loaded by discover()
    try:
        tmp.write_text(content, encoding="utf-8")
        try:
            loaded = load_pipeline(tmp)
        except ConfigValidationError as exc:
            raise UploadRejected(422, "invalid pipeline config; nothing was written", [str(dataclasses.replace(e, file=shown)) for e in exc.errors]) from None
        name = loaded.config.pipeline
        conflict = _conflict(name, final, declared)
        if conflict:
            raise UploadRejected(409, "pipeline name conflict; nothing was written", [str(ConfigError(shown, 1, 1, conflict, "pipeline"))])
        changed = not final.exists() or final.read_text(encoding="utf-8-sig") != content
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return WrittenConfig(name, final, content, changed)


def _file_name(content: str, file_name: str | None, declared: dict[str, Path]) -> str:
    """The requested name, else the file that holds this pipeline now, else `<pipeline>.yaml`."""
    if file_name is not None:
        if not FILE_NAME.fullmatch(file_name):
            raise UploadRejected(422, "invalid file name", [f"{file_name}:1:1: file_name: expected a plain name like flights.yaml (letters, digits, _ and -)"])
        return file_name
    name = _declared_pipeline(content)
    if name in declared:
        return declared[name].name
    return f"{name}.yaml" if name and PIPELINE_NAME.fullmatch(name) else "upload.yaml"


def _conflict(name: str, final: Path, declared: dict[str, Path]) -> str | None:
    holder = declared.get(name)
    if holder is not None and holder.resolve() != final.resolve():
        return f"pipeline '{name}' is already defined in {display_path(holder)}"
    replaced = next((p for p, f in declared.items() if f.resolve() == final.resolve()), None)
    if replaced is not None and replaced != name:
        return f"{display_path(final)} holds pipeline '{replaced}'; upload pipeline '{name}' under another file name"
    return None


def _declared_pipelines(directory: Path) -> dict[str, Path]:
    """The `pipeline:` name each config file declares (valid or not)."""
    out: dict[str, Path] = {}
    for path in discover(directory):
        try:
            name = _declared_pipeline(path.read_text(encoding="utf-8-sig"))
        except OSError:
            continue
        if name:
            out.setdefault(name, path)
    return out


def _declared_pipeline(text: str) -> str | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    name = data.get("pipeline") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None
