"""CSV/TSV with pyarrow's streaming reader, typed like pandas.read_csv over the whole file."""
from __future__ import annotations

import csv
import io
import re
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

import pyarrow as pa
import pyarrow.csv as pacsv

from ._common import (
    Scan,
    Spool,
    TailStream,
    char_option,
    check_columns,
    check_names,
    decode_error,
    join_types,
    numbered_names,
    open_binary,
    open_text,
    option,
    python_encoding,
    str_list,
)
from .errors import Rescan, SourceError

BLOCK_SIZE = 2 << 20
"""Bytes pyarrow parses per block (in parallel). Small blocks keep the reader's read-ahead (several
blocks in flight) and so peak memory low, at no cost in speed (docs/benchmarks.md)."""

SEGMENT_BYTES = 1 << 20
"""Bytes of a file parsed as one piece when streaming (see `CsvReader.stream`)."""
PARSE_THREADS = 2
"""Pieces parsed at once; each parse runs without the GIL."""
_SEGMENT_ENCODINGS = {"utf-8", "utf-8-sig", "ascii", "iso8859-1", "cp1252"}
"""Encodings in which a newline or quote byte is always that character (safe to split on)."""

CONTRACT_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "decimal": pa.decimal128(38, 9),
}
_UTC = pa.timestamp("us", tz="UTC")
_TRUE, _FALSE = ["True", "TRUE", "true"], ["False", "FALSE", "false"]
_NO_TIMESTAMPS = ["%Q"]  # a strptime format that never matches: no timestamp inference (and no retry)
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (.+?): (.*)\Z", re.S)
PANDAS_NULL_VALUES = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
"""pandas' default NA strings (`pandas._libs.parsers.STR_NA_VALUES`, which a test compares):
written out, so that reading a CSV file does not import pandas (~0.25 s)."""
_VALUE = re.compile(r".*'(.*)'\Z", re.S)
_INFERRED = {str(t): t for t in (pa.null(), pa.int64(), pa.float64(), pa.bool_(), pa.string())}


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str
    quotechar: str | None
    escapechar: str | None
    encoding: str
    header: bool
    skip_rows: int
    null_values: list[str]
    columns: list[str] | None
    column_types: dict[str, str]
    block_size: int

    @classmethod
    def parse(cls, options: Mapping[str, Any], delimiter: str, path: Path) -> "CsvOptions":
        default_nulls = option(options, "default_null_values", bool, True, path)
        column_types = option(options, "column_types", dict, {}, path)
        for column, name in column_types.items():
            if name not in CONTRACT_TYPES:
                raise SourceError(f"options.column_types.{column}: {name!r} is not one of {', '.join(CONTRACT_TYPES)}", path=path)
        skip_rows = option(options, "skip_rows", int, 0, path)
        block_size = option(options, "block_size", int, BLOCK_SIZE, path)
        if skip_rows < 0 or block_size < 1:
            raise SourceError("options.skip_rows must be >= 0 and options.block_size >= 1", path=path)
        delimiter = char_option(options, "delimiter", delimiter, path)
        if delimiter is None:
            raise SourceError("options.delimiter: expected a single character", path=path)
        return cls(
            delimiter=delimiter,
            quotechar=char_option(options, "quotechar", '"', path),
            escapechar=char_option(options, "escapechar", None, path),
            encoding=option(options, "encoding", str, "utf-8", path),
            header=option(options, "header", bool, True, path),
            skip_rows=skip_rows,
            null_values=(list(PANDAS_NULL_VALUES) if default_nulls else []) + (str_list(options, "null_values", path) or []),
            columns=str_list(options, "columns", path),
            column_types=dict(column_types),
            block_size=block_size,
        )


class _Retype(Exception):
    """The file must be read again with these column types."""

    def __init__(self, types: dict[str, pa.DataType]):
        super().__init__(types)
        self.types = types


class CsvReader:
    """One CSV/TSV file. `scan` reads it whole once (restarting with a wider column type when a later
    block does not fit the types inferred from the first), so types equal whole-file inference."""

    null_type = pa.float64()  # pandas reads an always-empty column as float NaN
    delimiter = ","

    def __init__(self, path: Path, options: Mapping[str, Any], chunk_rows: int = 0):
        self.path = path
        self.opts = CsvOptions.parse(options, self.delimiter, path)
        first = list(islice(self._records(), 2))
        if not first:
            raise SourceError("the file is empty (no header row)" if self.opts.header else "the file is empty", path=path)
        self.names = first[0].fields if self.opts.header else numbered_names(len(first[0].fields))
        self.has_rows = len(first) > 1 or not self.opts.header
        check_names(self.names, path)
        check_columns(self.opts.columns, self.names, path)
        check_columns(list(self.opts.column_types), self.names, path, "options.column_types")
        self.wanted = self.opts.columns or self.names

    # --- reading with pyarrow ---

    def scan(self, keep: bool) -> Scan:
        types = {name: CONTRACT_TYPES[t] for name, t in self.opts.column_types.items()}
        while True:
            spool = Spool() if keep else None
            try:
                schema = self._read_all(types, spool)
                return Scan(schema, spool)
            except _Retype as retype:
                types.update(retype.types)
                if spool is not None:
                    spool.close()
            except BaseException:
                if spool is not None:
                    spool.close()
                raise

    def stream(self) -> Iterator[pa.Table | pa.RecordBatch]:
        """The file in one pass, typed by its beginning (declared `column_types` as declared).

        Raises Rescan before the first chunk when the beginning cannot decide a type (a column
        empty in all of it), and mid-file when a later part needs a wider type than the first (an
        integer column meeting 1.5): whole-file inference then gives other types than the chunks
        already handed out. Every other outcome equals `scan` + `read`.

        Where newlines can be found without parsing (no escape character, an encoding in which a
        newline byte is always a newline, no skipped rows), the file is cut into pieces of about
        SEGMENT_BYTES at newlines outside quotes (an even number of quote characters before the
        cut) and PARSE_THREADS pieces are parsed at once; else pyarrow's streaming reader is used."""
        if not self.has_rows:
            raise Rescan()
        types = {name: CONTRACT_TYPES[t] for name, t in self.opts.column_types.items()}
        o = self.opts
        pieces = o.escapechar is None and o.skip_rows == 0 and python_encoding(o.encoding, self.path) in _SEGMENT_ENCODINGS
        last: pa.Table | pa.RecordBatch | None = None
        with TailStream(open_binary(self.path)) as stream:
            try:
                chunks = self._parse_pieces(stream, types) if pieces else self._parse_blocks(stream, types)
                for chunk in chunks:
                    yield chunk
                    last = chunk if chunk.num_rows else last
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                error = self._translate(exc, types)
                raise (Rescan() if isinstance(error, _Retype) else error) from None
            except _Retype:
                raise Rescan() from None
        self._check_end(last, stream.tail)

    def _settle(self, schema: pa.Schema, types: dict[str, pa.DataType]) -> None:
        """The types of the file's beginning must be final: no dates, no all-empty columns."""
        self._check_inferred(schema, types)
        if any(pa.types.is_null(f.type) for f in schema):
            raise Rescan()

    def _parse_blocks(self, stream: TailStream, types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
        reader = self._open(stream, types, self.wanted)
        self._settle(reader.schema, types)
        yield from reader

    def _parse_pieces(self, stream: TailStream, types: dict[str, pa.DataType]) -> Iterator[pa.Table]:
        pieces = _pieces(stream, self.opts.quotechar)
        first = self._parse_piece(next(pieces), types, first=True)
        self._settle(first.schema, types)
        types.update(zip(first.schema.names, first.schema.types))
        yield first
        with ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="etl-csv") as pool:
            pending: deque[Future[pa.Table]] = deque()
            try:
                for piece in pieces:
                    pending.append(pool.submit(self._parse_piece, piece, types))
                    if len(pending) > PARSE_THREADS:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def _parse_piece(self, data: memoryview, types: dict[str, pa.DataType], first: bool = False) -> pa.Table:
        read = pacsv.ReadOptions(
            use_threads=False,
            block_size=max(len(data), 1),
            column_names=[] if first and self.opts.header else self.names,
            encoding=self._arrow_encoding(),
        )
        return pacsv.read_csv(pa.BufferReader(pa.py_buffer(data)), read_options=read, parse_options=self._parse_options(), convert_options=self._convert(types, self.wanted))

    def read(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        if not self.has_rows:
            return
        types = dict(zip(schema.names, schema.types))
        with open_binary(self.path) as raw:
            try:
                yield from self._open(raw, types, schema.names)
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                error = self._translate(exc, types)
                if isinstance(error, _Retype):
                    error = SourceError("the file changed while it was read; run again", path=self.path)
                raise error from None

    def _read_all(self, types: dict[str, pa.DataType], spool: Spool | None) -> pa.Schema:
        """Read every block with `types` (others inferred); the final schema, or _Retype."""
        if not self.has_rows:
            return pa.schema([(name, types.get(name, pa.null())) for name in self.wanted])
        last: pa.RecordBatch | None = None
        with TailStream(open_binary(self.path)) as stream:
            try:
                reader = self._open(stream, types, self.wanted)
                self._check_inferred(reader.schema, types)
                for batch in reader:
                    if spool is not None:
                        spool.add(batch)
                    last = batch if batch.num_rows else last
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise self._translate(exc, types) from None
        self._check_end(last, stream.tail)
        return reader.schema

    def _open(self, stream: Any, types: dict[str, pa.DataType], include: list[str]) -> pacsv.CSVStreamingReader:
        o = self.opts
        read = pacsv.ReadOptions(
            use_threads=True,
            block_size=o.block_size,
            skip_rows=o.skip_rows,
            column_names=[] if o.header else self.names,
            encoding=self._arrow_encoding(),
        )
        return pacsv.open_csv(stream, read_options=read, parse_options=self._parse_options(), convert_options=self._convert(types, include))

    def _arrow_encoding(self) -> str:
        encoding = python_encoding(self.opts.encoding, self.path)
        return "utf8" if encoding == "utf-8-sig" else encoding

    def _parse_options(self) -> pacsv.ParseOptions:
        o = self.opts
        return pacsv.ParseOptions(delimiter=o.delimiter, quote_char=o.quotechar or False, escape_char=o.escapechar or False, newlines_in_values=True)

    def _convert(self, types: dict[str, pa.DataType], include: list[str]) -> pacsv.ConvertOptions:
        return pacsv.ConvertOptions(
            column_types=types,
            include_columns=include,
            null_values=self.opts.null_values,
            true_values=_TRUE,
            false_values=_FALSE,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            timestamp_parsers=[] if "datetime" in self.opts.column_types.values() else _NO_TIMESTAMPS,
        )

    # --- errors and retyping ---

    def _check_inferred(self, schema: pa.Schema, types: dict[str, pa.DataType]) -> None:
        """pandas reads dates and times as text, and text that is not valid is a decode error."""
        if any(pa.types.is_binary(f.type) for f in schema):
            raise decode_error(self.path, self.opts.encoding)
        text = {f.name: pa.string() for f in schema if f.name not in types and pa.types.is_temporal(f.type)}
        if text:
            raise _Retype(text)

    def _translate(self, exc: Exception, types: dict[str, pa.DataType]) -> Exception:
        """A pyarrow error as a _Retype (a column needs a wider type) or a SourceError."""
        message = str(exc)
        if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in message:
            return decode_error(self.path, self.opts.encoding)
        if message.startswith("CSV parse error"):
            return self._shape_error(message)
        match = _CONVERSION.match(message)
        if not match:
            return SourceError(message, path=self.path)
        column, target, detail = self.names[int(match[1])], match[2], match[3]
        value_match = _VALUE.match(detail)
        value = value_match[1] if value_match else None
        if column in self.opts.column_types:
            return self._declared_type_error(column, types[column], detail, value)
        if value is None:
            return _Retype({column: pa.string()})
        current = types.get(column, _INFERRED.get(target, pa.string()))
        return _Retype({column: join_types(current, self._kind(value))})

    def _declared_type_error(self, column: str, current: pa.DataType, detail: str, value: str | None) -> Exception:
        if current == CONTRACT_TYPES["datetime"] and "expected no zone offset" in detail:
            return _Retype({column: _UTC})  # timezone-aware values are kept in UTC
        wanted = self.opts.column_types[column]
        if current == _UTC and "expected a zone offset" in detail:
            problem = f"{value!r} has no timezone but other values of the column have one"
        else:
            problem = f"cannot read {value!r} as {wanted}" if value is not None else f"cannot read a value as {wanted}: {detail}"
        return SourceError(f"column {column!r}: {problem} (options.column_types)", path=self.path, line=self._line_of(column, value))

    def _kind(self, value: str) -> pa.DataType:
        """The type pyarrow infers for `value` alone (dates and times as text)."""
        data = ('v\n"' + value.replace('"', '""') + '"\n').encode("utf-8", "surrogateescape")
        parse = pacsv.ParseOptions(newlines_in_values=True)
        kind = pacsv.read_csv(io.BytesIO(data), parse_options=parse, convert_options=self._convert({}, [])).schema[0].type
        if pa.types.is_binary(kind):
            raise decode_error(self.path, self.opts.encoding)
        return pa.string() if pa.types.is_temporal(kind) else kind

    def _check_end(self, last: pa.RecordBatch | None, tail: bytes) -> None:
        """pyarrow takes an unterminated quote in the last column as a value running to the end of
        the file (silently swallowing the rows after it); pandas reports it."""
        q = self.opts.quotechar
        if last is None or q is None or self.names[-1] not in last.schema.names:
            return
        value = last.column(self.names[-1])[-1].as_py()
        if not isinstance(value, str):
            return
        encoding = python_encoding(self.opts.encoding, self.path).removesuffix("-sig")  # no BOM in front
        try:
            raw = (q + value.replace(q, q + q)).encode(encoding)
        except UnicodeEncodeError:
            return
        if tail.endswith(raw) or (len(raw) > len(tail) and "\n" in value and raw.endswith(tail)):
            last_line = None
            for record in self._records():
                last_line = record.line
            raise self._unterminated(last_line)

    # --- locating problems with the csv module (only after an error) ---

    def _records(self) -> Iterator[_Record]:
        """Each non-blank record after skip_rows, the header included."""
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        o = self.opts
        quotes = 0

        def lines(text: io.TextIOWrapper) -> Iterator[str]:
            nonlocal quotes
            for line in text:
                if o.quotechar:
                    quotes += line.count(o.quotechar) - (line.count(o.escapechar + o.quotechar) if o.escapechar else 0)
                yield line

        try:
            with open_text(self.path, o.encoding) as text:
                for _ in range(o.skip_rows):
                    text.readline()
                reader = csv.reader(
                    lines(text),
                    delimiter=o.delimiter,
                    quotechar=o.quotechar or '"',
                    quoting=csv.QUOTE_MINIMAL if o.quotechar else csv.QUOTE_NONE,
                    escapechar=o.escapechar,
                    doublequote=True,
                    strict=False,
                )
                end = o.skip_rows
                for fields in reader:
                    start, end = end + 1, o.skip_rows + reader.line_num
                    if fields:
                        yield _Record(start, fields, quotes % 2 == 1)
                    quotes = 0
        except UnicodeDecodeError:
            raise decode_error(self.path, o.encoding) from None

    def _data_records(self) -> Iterator[_Record]:
        return islice(self._records(), 1 if self.opts.header else 0, None)

    def _shape_error(self, message: str) -> SourceError:
        expected = len(self.names)
        records = self._data_records()
        for record in records:
            found = len(record.fields)
            if found == expected:
                continue
            if record.unbalanced and next(records, None) is None:
                return self._unterminated(record.line, f" (expected {expected} fields, found {found} up to the end of the file)")
            return SourceError(f"expected {expected} fields, found {found}", path=self.path, line=record.line)
        return SourceError(message, path=self.path)

    def _unterminated(self, line: int | None, detail: str = "") -> SourceError:
        q = self.opts.quotechar
        return SourceError(f"unterminated quoted field: the {q} opened on this line is never closed{detail}", path=self.path, line=line)

    def _line_of(self, column: str, value: str | None) -> int | None:
        index = self.names.index(column)
        for record in self._data_records():
            if len(record.fields) > index and record.fields[index] == value:
                return record.line
        return None


def _pieces(stream: TailStream, quote: str | None) -> Iterator[memoryview]:
    """The stream's bytes in pieces of about SEGMENT_BYTES, each ending after a newline that is
    outside quotes (an even number of quote characters since the previous cut)."""
    q = quote.encode() if quote else None
    rest = b""
    while data := stream.read(SEGMENT_BYTES):
        buffer = rest + data if rest else data
        cut = _last_record_end(buffer, q)
        rest = buffer[cut:]
        if cut:
            yield memoryview(buffer)[:cut]
    if rest:
        yield memoryview(rest)


def _last_record_end(buffer: bytes, quote: bytes | None) -> int:
    """Position after the last newline of `buffer` with an even number of quotes before it (0: none)."""
    if quote is None or quote not in buffer:  # no quotes: every newline ends a record (memchr, not a count)
        return buffer.rfind(b"\n") + 1
    end = len(buffer)
    quotes = buffer.count(quote)
    while (newline := buffer.rfind(b"\n", 0, end)) >= 0:
        if (quotes - buffer.count(quote, newline + 1)) % 2 == 0:
            return newline + 1
        end = newline
    return 0


class _Record(NamedTuple):
    line: int
    """First line of the record (1-based, as in an editor)."""
    fields: list[str]
    unbalanced: bool
    """An odd number of quote characters: a quote is never closed."""


class TsvReader(CsvReader):
    delimiter = "\t"
