"""The error every source reader raises for bad input."""
from __future__ import annotations

from pathlib import Path

from ..config.errors import display_path


class SourceError(Exception):
    """Bad source data or options. The message names the file (and line where known) and what was
    expected, e.g. ``data/x.csv:57: expected 19 fields, found 21``."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None, column: int | None = None):
        where = display_path(path) if path is not None else ""
        if where and line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line


class Rescan(Exception):
    """A file streamed with the types of its first block needs wider types further on: the chunks
    already handed out are void; read the file again with whole-file types (`read_files(stream=False)`)."""
