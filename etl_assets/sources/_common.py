"""Helpers shared by the file readers: opening (compressed) files, encodings, option values,
type widening, spooling and re-chunking."""
from __future__ import annotations

import codecs
import io
import lzma
import os
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, Protocol

import pyarrow as pa
import pyarrow.ipc as ipc

from ..settings import int_setting
from .errors import SourceError

SPOOL_MEMORY_BYTES = int_setting("ETL_SOURCE_SPOOL_BYTES", 16 << 20, "a whole number of bytes")
"""Data a reader holds in memory while it checks a whole file; beyond this it spills to a temp file
(uncompressed Arrow IPC, read back batch by batch), so a big file costs disk, not memory."""

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz", ".zip": "zip"}
_ARROW_CODECS = {"gzip", "bz2", "zstd"}


def compression(path: Path) -> str | None:
    """The compression of a file, from its last suffix."""
    return COMPRESSIONS.get(path.suffix.lower())


def open_binary(path: Path) -> BinaryIO:
    """The (decompressed) bytes of a file."""
    codec = compression(path)
    try:
        if codec in _ARROW_CODECS:
            return pa.input_stream(str(path), compression=codec)  # type: ignore[return-value]
        if codec == "xz":
            return lzma.open(path, "rb")  # type: ignore[return-value]
        if codec == "zip":
            return _zip_member(path)
        return open(path, "rb")
    except FileNotFoundError:
        raise SourceError("file not found", path=path) from None
    except OSError as exc:
        raise SourceError(f"cannot open: {exc}", path=path) from None


def _zip_member(path: Path) -> BinaryIO:
    """The only file in a zip archive (as pandas reads `x.csv.zip`)."""
    archive = zipfile.ZipFile(path)
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        raise SourceError(f"a zip archive must hold exactly one file, found {len(members)}", path=path)
    return archive.open(members[0])  # type: ignore[return-value]


def python_encoding(encoding: str, path: Path) -> str:
    """The Python codec name of `encoding`; utf-8 becomes utf-8-sig so a BOM never reaches the data."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise SourceError(f"options.encoding: unknown encoding {encoding!r}", path=path) from None
    return "utf-8-sig" if name == "utf-8" else name


def open_text(path: Path, encoding: str, newline: str | None = "") -> io.TextIOWrapper:
    """The decoded text of a file (see `python_encoding`)."""
    return io.TextIOWrapper(open_binary(path), encoding=python_encoding(encoding, path), newline=newline)


def decode_error(path: Path, encoding: str) -> SourceError:
    """A SourceError naming the first line of `path` that cannot be decoded with `encoding`."""
    decoder = codecs.getincrementaldecoder(python_encoding(encoding, path))()
    with open_binary(path) as raw:
        for line, data in enumerate(iter(raw.readline, b""), start=1):
            try:
                decoder.decode(data)
            except UnicodeDecodeError as exc:
                byte = exc.object[exc.start : exc.start + 1].hex()
                return SourceError(
                    f"cannot decode byte 0x{byte} as {encoding} (set options.encoding, e.g. latin-1 or cp1252)",
                    path=path,
                    line=line,
                )
    return SourceError(f"cannot be decoded as {encoding} (set options.encoding)", path=path)


class TailStream:
    """A binary stream that remembers its last bytes (to check how a file ends)."""

    def __init__(self, raw: BinaryIO, keep: int = 1 << 16):
        self._raw = raw
        self._keep = keep
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.tail = (self.tail + data[-self._keep :])[-self._keep :]
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> "TailStream":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# --- options -------------------------------------------------------------------------------------


def option(options: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any, path: Path) -> Any:
    """options[name] (missing or null: `default`), checked against `kind` (a bool is no int)."""
    value = options.get(name)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise SourceError(f"options.{name}: expected {expected}, got {value!r}", path=path)
    return value


_KIND_NAMES = {bool: "true or false", int: "an integer", str: "a string", list: "a list", dict: "a mapping"}


def str_list(options: Mapping[str, Any], name: str, path: Path) -> list[str] | None:
    """options[name] as a list of strings (a single string is a one-item list)."""
    value = option(options, name, (list, str), None, path)
    if isinstance(value, str):
        return [value]
    if value is not None and not all(isinstance(v, str) for v in value):
        raise SourceError(f"options.{name}: expected a list of strings, got {value!r}", path=path)
    return value


def char_option(options: Mapping[str, Any], name: str, default: str | None, path: Path) -> str | None:
    """A one-character option; null or false turns it off."""
    value = options.get(name, default)
    if value is None or value is False:
        return None
    if not isinstance(value, str) or len(value) != 1:
        raise SourceError(f"options.{name}: expected a single character, got {value!r}", path=path)
    return value


def check_columns(wanted: list[str] | None, names: list[str], path: Path, what: str = "options.columns") -> None:
    """Every name in `wanted` must be one of `names`."""
    missing = [c for c in wanted or [] if c not in names]
    if missing:
        raise SourceError(f"{what}: no column {', '.join(map(repr, missing))}; the file has {', '.join(names)}", path=path)


def check_names(names: list[str], path: Path) -> None:
    """Column names must be non-empty and unique."""
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise SourceError(f"column {position} has an empty name; every column needs a header", path=path)
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    if duplicates:
        raise SourceError(f"duplicate column names: {', '.join(duplicates)}", path=path)


def numbered_names(count: int) -> list[str]:
    """Names of the columns of a file without a header row: column_1 .. column_N."""
    return [f"column_{i}" for i in range(1, count + 1)]


# --- types ----------------------------------------------------------------------------------------


def join_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The narrowest type holding values of both: null < int64 < float64 < string, bool < string."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return pa.int64()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in (a, b)):
        return pa.float64()
    return pa.string()


def conform(data: pa.Table | pa.RecordBatch, schema: pa.Schema, path: Path) -> pa.Table:
    """`data` with the columns and types of `schema`."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    table = table.select(schema.names)
    if table.schema.equals(schema):
        return table
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(f"cannot convert the columns to the types of the other files: {exc}", path=path) from None


# --- readers ----------------------------------------------------------------------------------------


@dataclass
class Scan:
    """What a reader learned from a whole file: its final schema and, maybe, its data."""

    schema: pa.Schema
    data: "Spool | None" = None


class FileReader(Protocol):
    """One file of one format."""

    path: Path
    null_type: pa.DataType
    """Type of a column that is empty in every file (as pandas would type it)."""

    def scan(self, keep: bool) -> Scan:
        """Read the whole file to learn its schema; with `keep`, also hold its data."""

    def read(self, schema: pa.Schema) -> Iterator[pa.Table | pa.RecordBatch]:
        """Stream the file with the columns and types of `schema`."""


class Spool:
    """Chunks held in memory up to a budget (default SPOOL_MEMORY_BYTES), then in an Arrow IPC temp file."""

    def __init__(self, budget: int | None = None):
        self.budget = SPOOL_MEMORY_BYTES if budget is None else budget
        self._chunks: list[pa.Table | pa.RecordBatch] = []
        self._bytes = 0
        self._path: str | None = None
        self._writer: ipc.RecordBatchFileWriter | None = None

    def add(self, chunk: pa.Table | pa.RecordBatch) -> None:
        if self._writer is not None:
            self._writer.write(chunk)
            return
        self._chunks.append(chunk)
        self._bytes += chunk.nbytes
        if self._bytes > self.budget:
            self._spill()

    def _spill(self) -> None:
        fd, self._path = tempfile.mkstemp(prefix="etl-source-", suffix=".arrow")
        os.close(fd)
        self._writer = ipc.new_file(self._path, self._chunks[0].schema)
        for chunk in self._chunks:
            self._writer.write(chunk)
        self._chunks, self._bytes = [], 0

    def __iter__(self) -> Iterator[pa.Table | pa.RecordBatch]:
        if self._path is None:
            yield from self._chunks
            return
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        # Read (not memory-map) the batches: mapped pages would stay resident, growing RSS with the file.
        with pa.OSFile(self._path) as source:
            reader = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def close(self) -> None:
        """Drop the data (batches already handed out stay valid)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._path is not None:
            os.unlink(self._path)
            self._path = None
        self._chunks = []


def rechunk(chunks: Iterable[pa.Table | pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly `rows` rows (the last one may be shorter), without copying data."""
    pending: list[pa.Table] = []
    count = 0
    for chunk in chunks:
        table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_batches([chunk])
        start = 0
        while start < table.num_rows:
            take = min(rows - count, table.num_rows - start)
            pending.append(table.slice(start, take))
            count += take
            start += take
            if count == rows:
                yield pa.concat_tables(pending)
                pending, count = [], 0
    if count:
        yield pa.concat_tables(pending)
