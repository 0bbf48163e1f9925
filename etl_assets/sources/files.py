"""Local file sources: find the files of a `path` (file or glob) and read them as chunked Arrow tables.

Formats come from `format` or the file extension: csv (.csv), tsv (.tsv .tab), json (.json),
jsonl (.jsonl .ndjson), excel (.xlsx .xlsm .xls; .xls needs the xlrd package), parquet (.parquet
.pq), txt (.txt .log). csv, tsv, json, jsonl and txt files may be compressed: .gz .bz2 .zst .xz, or
a .zip holding exactly one file (e.g. flights.csv.zip).

All files of a glob are read in sorted order and concatenated. They must have the same columns
(the order may differ; the first file's order is used); a column's type is the narrowest that holds
the values of every file (integer < float < string, boolean < string).

Options (`options:` of the source), per format:

csv / tsv (pyarrow streaming reader; the result equals pandas.read_csv on the whole file)
    delimiter            "," ("\\t" for tsv)
    quotechar            '"'; null turns quoting off
    escapechar           none (quotes inside quoted values are doubled: "")
    encoding             utf-8 (a BOM is dropped); any Python codec, e.g. latin-1, cp1252
    header               true; false names the columns column_1 .. column_N
    skip_rows            0: lines to skip before the header
    null_values          []: extra texts read as null, besides pandas' defaults
                         ("", NA, N/A, NULL, null, NaN, nan, #N/A, <NA>, None, ...)
    default_null_values  true; false: only `null_values` (and no empty field) are null
    columns              all: the columns to keep, in the order listed (pandas' usecols would
                         keep the file's order)
    column_types         {}: {column: string|integer|float|boolean|date|datetime|decimal}; other
                         columns are inferred like pandas: integer, float, boolean (True/true/TRUE,
                         False/false/FALSE), else string. Dates and times are never inferred: they
                         stay text. An integer column with empty fields stays integer (with nulls).
                         A column that is empty in every row is float (as in pandas). datetime
                         values with a zone offset are kept in UTC; decimal is decimal(38, 9).
    block_size           2 MiB: bytes parsed per block (memory use is a few blocks) by pyarrow's
                         streaming reader; a source asset reads a single file (without an
                         escape character, skipped rows or a multi-byte encoding) in 1 MiB
                         pieces parsed by two threads instead (see `read_files(stream=True)`)
json (read whole)
    records_path         where the records are when the top level is an object: a dot path
                         ("data.items"); the top level must otherwise be an array of objects
    encoding, columns    as for csv
jsonl (streamed; a blank line is skipped)
    encoding, columns    as for csv
    JSON records: nested objects become `.`-joined columns (address.city), lists stay JSON text,
    columns are in first-seen order; a field mixing kinds of values (e.g. 1 and "a") is text, with
    non-text values as JSON; a field null in every record is text.
excel (openpyxl via pandas.read_excel; one sheet read whole)
    sheet                first sheet: a sheet name, or a 0-based index
    header, skip_rows, columns   as for csv; types as pandas gives them (a column mixing numbers
                         and text is text)
parquet (streamed by record batches)
    columns              as for csv
txt (streamed)
    encoding             as for csv
    One record per line in the string column `line`; a trailing \\r is removed; the newline that
    ends the file does not start a record; an empty line is "" (not null).

An option name unknown to every format is an error; options of other formats are ignored.
Column names must be non-empty and unique. Errors are `SourceError`s naming the file and, where
known, the line: `data/x.csv:57: expected 19 fields, found 21`. A row with too few or too many
fields, or a quote that is never closed, is an error (pandas fills short rows; this never guesses).

Before yielding anything, each file is read whole once to learn its types (so a value late in a big
file widens the column instead of failing mid-load). A single file's data is kept meanwhile: in
memory up to $ETL_SOURCE_SPOOL_BYTES (256 MiB), beyond that in an Arrow temp file in $TMPDIR; the
files of a glob are read twice instead. Floats are parsed exactly (pandas' default parser can be one
ulp off; pandas.read_csv(float_precision="round_trip") gives the same values).
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, NamedTuple, Sequence

import pyarrow as pa

from ..config.errors import display_path
from ..tables import CHUNK_ROWS, to_pandas
from ._common import COMPRESSIONS, FileReader, Scan, conform, join_types, rechunk
from ._csv import CsvReader, TsvReader
from ._excel import ExcelReader
from ._json import JsonLinesReader, JsonReader
from ._parquet import ParquetReader
from ._text import TextReader
from .errors import Rescan, SourceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "SourceError", "Stamp", "detect_format", "expand_paths", "file_stamps", "read_file_frames", "read_files"]

EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
    ".log": "txt",
}
FORMATS = ("csv", "tsv", "json", "jsonl", "excel", "parquet", "txt")
_COMPRESSIBLE = {"csv", "tsv", "json", "jsonl", "txt"}
OPTIONS = {
    "delimiter", "quotechar", "escapechar", "encoding", "header", "skip_rows", "null_values",
    "default_null_values", "columns", "column_types", "block_size", "records_path", "sheet",
}  # fmt: skip
_GLOB_CHARS = set("*?[")


class Stamp(NamedTuple):
    """What tells a file apart from a changed one: its place and change stamps (`st_ctime_ns`
    changes on every write and cannot be set back)."""

    path: Path
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int


def file_stamps(paths: Sequence[Path]) -> list[Stamp]:
    out = []
    for path in paths:
        st = path.stat()
        out.append(Stamp(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return out


def expand_paths(pattern: str, base_dir: Path) -> list[Path]:
    """The files of a path or glob (*, ?, [..], ** recursive), sorted. A relative pattern is relative
    to `base_dir`; `~` is expanded. Nothing found is a SourceError, never an empty list."""
    path = Path(os.path.expanduser(pattern))
    if not path.is_absolute():
        path = base_dir / path
    if not _GLOB_CHARS & set(str(path)):
        if path.is_dir():
            raise SourceError(f"is a directory; to read its files use a glob such as {pattern.rstrip('/')}/*.csv", path=path)
        if not path.is_file():
            raise SourceError("file not found", path=path)
        return [path]
    matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if os.path.isfile(p))
    if not matches:
        searched = _glob_root(path)
        missing = "" if searched.is_dir() else ", which does not exist"
        raise SourceError(f"no file matches {pattern!r} (searched {searched}{missing})")
    return matches


def _glob_root(path: Path) -> Path:
    """The directory a glob searches: its longest leading part without wildcards."""
    parts = []
    for part in path.parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def detect_format(path: Path, fmt: str | None) -> str:
    """`fmt`, or the format of the file's extension (under a compression suffix such as .gz)."""
    codec = COMPRESSIONS.get(path.suffix.lower())
    inner = Path(path.stem) if codec else path
    if fmt is None:
        fmt = EXTENSIONS.get(inner.suffix.lower())
        if fmt is None:
            raise SourceError(
                f"cannot tell the format from the extension {inner.suffix or '(none)'!r}; set format: to one of {', '.join(FORMATS)}",
                path=path,
            )
    elif fmt not in FORMATS:
        raise SourceError(f"format {fmt!r} is not one of {', '.join(FORMATS)}", path=path)
    if codec and fmt not in _COMPRESSIBLE:
        raise SourceError(f"{fmt} files cannot be read {codec}-compressed", path=path)
    return fmt


def read_files(
    paths: list[Path], fmt: str | None, options: Mapping[str, Any], chunk_rows: int = CHUNK_ROWS, *, stream: bool = False
) -> Iterator[pa.Table]:
    """Read every file in order as tables of at most `chunk_rows` rows, all with one schema (at least
    one table, possibly empty). See the module docstring for formats, options and memory use.

    With `stream`, a single CSV/TSV file is read in one pass, typed by its first block, so the first
    chunks arrive while the rest is parsed; this raises `Rescan` (before any chunk or mid-file) when
    whole-file types would differ: the caller drops what it got and reads again without `stream`."""
    if not paths:
        raise SourceError("no files to read")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise SourceError(f"unknown option {', '.join(unknown)}; options are {', '.join(sorted(OPTIONS))}", path=paths[0])
    readers = [_reader(path, fmt, options, chunk_rows) for path in paths]
    if stream and len(readers) == 1 and isinstance(readers[0], CsvReader):
        empty = True
        for chunk in rechunk(readers[0].stream(), chunk_rows):
            empty = False
            yield chunk
        if empty:  # only blank lines: the whole-file path knows the types such a file gets
            raise Rescan()
        return
    scans: list[Scan] = []
    try:
        for reader in readers:
            scans.append(reader.scan(keep=len(readers) == 1))
        schema = _unify(readers, scans)
        empty = True
        for chunk in rechunk(_chunks(readers, scans, schema), chunk_rows):
            empty = False
            yield chunk
        if empty:
            yield schema.empty_table()
    finally:
        for scan in scans:
            if scan.data is not None:
                scan.data.close()


def read_file_frames(
    paths: list[Path], fmt: str | None, options: Mapping[str, Any], chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """`read_files` as pandas chunks (nullable Int64/boolean columns, see `tables.to_pandas`)."""
    for table in read_files(paths, fmt, options, chunk_rows):
        yield to_pandas(table)


_READERS: dict[str, Callable[[Path, Mapping[str, Any], int], FileReader]] = {
    "csv": CsvReader,
    "tsv": TsvReader,
    "json": JsonReader,
    "jsonl": JsonLinesReader,
    "excel": ExcelReader,
    "parquet": ParquetReader,
    "txt": TextReader,
}


def _reader(path: Path, fmt: str | None, options: Mapping[str, Any], chunk_rows: int) -> FileReader:
    return _READERS[detect_format(path, fmt)](path, options, chunk_rows)


def _unify(readers: list[FileReader], scans: list[Scan]) -> pa.Schema:
    """One schema for all files: the first file's column order, each type widened to fit every file;
    a column that is null everywhere gets the format's type for it."""
    first, names = display_path(readers[0].path), scans[0].schema.names
    types = dict(zip(names, scans[0].schema.types))
    for reader, scan in zip(readers[1:], scans[1:]):
        for name in names:
            if name not in scan.schema.names:
                raise SourceError(f"has no column {name!r}, which {first} has; all files must have the same columns", path=reader.path)
        for name, kind in zip(scan.schema.names, scan.schema.types):
            if name not in types:
                raise SourceError(f"has a column {name!r}, which {first} has not; all files must have the same columns", path=reader.path)
            types[name] = join_types(types[name], kind)
    null_type = readers[0].null_type
    return pa.schema([(name, null_type if pa.types.is_null(types[name]) else types[name]) for name in names])


def _chunks(readers: list[FileReader], scans: list[Scan], schema: pa.Schema) -> Iterator[pa.Table]:
    """Every file's data as `schema`: from what `scan` kept when its types fit, else read again."""
    for reader, scan in zip(readers, scans):
        kept = scan.data is not None and all(
            pa.types.is_null(kind) or kind == schema.field(name).type for name, kind in zip(scan.schema.names, scan.schema.types)
        )
        source = scan.data if kept else reader.read(schema)
        for chunk in source:  # type: ignore[union-attr]
            yield conform(chunk, schema, reader.path)
        if scan.data is not None:
            scan.data.close()
