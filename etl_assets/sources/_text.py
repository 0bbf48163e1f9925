"""Plain text: one record per line in a column `line`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

import pyarrow as pa

from ._common import Scan, decode_error, open_text, option

SCHEMA = pa.schema([("line", pa.string())])


class TextReader:
    """Lines split at \\n (a trailing \\r is removed); the newline ending the file does not start a
    record; an empty line is an empty string, never null."""

    null_type = pa.string()

    def __init__(self, path: Path, options: Mapping[str, Any], chunk_rows: int):
        self.path = path
        self.encoding = option(options, "encoding", str, "utf-8", path)
        self.chunk_rows = chunk_rows

    def scan(self, keep: bool) -> Scan:
        return Scan(SCHEMA)

    def read(self, schema: pa.Schema) -> Iterator[pa.Table]:
        lines: list[str] = []
        try:
            with open_text(self.path, self.encoding, newline="\n") as text:
                for line in text:
                    lines.append(line.removesuffix("\n").removesuffix("\r"))
                    if len(lines) == self.chunk_rows:
                        yield pa.table([pa.array(lines, pa.string())], schema=SCHEMA)
                        lines = []
        except UnicodeDecodeError:
            raise decode_error(self.path, self.encoding) from None
        if lines:
            yield pa.table([pa.array(lines, pa.string())], schema=SCHEMA)
