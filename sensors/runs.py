"""The contract between a watch sensor and the source it triggers: run tags naming the files.

A sensor run carries `etl/watched_source` (the source's name) and `etl/files` (a JSON list of file
names relative to the source's watch root). That source then reads exactly those files instead of
its whole glob; every other source reads as usual. Names are relative so that a root that came from
an environment variable (a secret) never shows in a tag.
"""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Mapping

from .listing import split_glob, valid_name

SOURCE_TAG = "etl/watched_source"
FILES_TAG = "etl/files"


def files_tags(source: str, names: list[str]) -> dict[str, str]:
    return {SOURCE_TAG: source, FILES_TAG: json.dumps(names)}


def triggered_files(tags: Mapping[str, str], source: str) -> list[str] | None:
    """The file names a run was started for, when it was started by this source's sensor; else None."""
    if tags.get(SOURCE_TAG) != source or FILES_TAG not in tags:
        return None
    names = json.loads(tags[FILES_TAG])
    if not isinstance(names, list) or not all(isinstance(n, str) and valid_name(n) for n in names):
        raise ValueError(f"run tag {FILES_TAG} must be a JSON list of relative file names")
    return names


def watched_paths(pattern: Path, names: list[str]) -> list[Path]:
    """The local files of a sensor run: each name under the pattern's root, still matching it."""
    root, relative = split_glob(pattern.as_posix())
    paths = []
    for name in names:
        if not fnmatch.fnmatchcase(name, relative) and not fnmatch.fnmatchcase(name, relative.replace("**/", "")):
            raise ValueError(f"{name} (from run tag {FILES_TAG}) does not match the source's path")
        path = Path(root) / name
        if not path.is_file():
            raise FileNotFoundError(f"{name} started this run but is no longer there")
        paths.append(path)
    return paths
