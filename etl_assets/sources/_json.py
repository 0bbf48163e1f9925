"""JSON (an array of records, or records under `records_path`) and JSON Lines."""
from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pyarrow as pa

from ._common import Scan, Spool, check_columns, check_names, decode_error, join_types, open_text, option, str_list
from .errors import SourceError

_INT64 = range(-(2**63), 2**63)


def flatten(record: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested objects as `.`-joined keys (as pd.json_normalize(sep=".")); an empty object adds nothing."""
    out = {} if out is None else out
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flatten(value, f"{name}.", out)
        else:
            out[name] = value
    return out


def _kind(value: Any) -> pa.DataType:
    if value is None:
        return pa.null()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64() if value in _INT64 else pa.string()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()  # strings, and lists kept as JSON text


def _cell(value: Any, string: bool) -> Any:
    """A value for an Arrow column; in a string column non-strings become JSON text."""
    if value is None or not string or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class _Columns:
    """Column names in first-seen order, each with the type that holds all its values so far."""

    def __init__(self) -> None:
        self.types: dict[str, pa.DataType] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        for name, value in record.items():
            self.types[name] = join_types(self.types.get(name, pa.null()), _kind(value))

    def schema(self, columns: list[str] | None, path: Path) -> pa.Schema:
        names = list(self.types)
        check_names(names, path)
        check_columns(columns, names, path)
        return pa.schema([(name, self.types[name]) for name in columns or names])


def to_table(records: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Flat records as a table of `schema` (a missing key is null)."""
    arrays = []
    for name, kind in zip(schema.names, schema.types):
        string = pa.types.is_string(kind)
        arrays.append(pa.array([_cell(r.get(name), string) for r in records], type=kind))
    return pa.Table.from_arrays(arrays, schema=schema)


def _chunks(records: Iterable[dict[str, Any]], rows: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, rows)):
        yield chunk


class _JsonBase:
    null_type = pa.string()  # pandas keeps an always-null JSON field as None objects

    def __init__(self, path: Path, options: Mapping[str, Any], chunk_rows: int):
        self.path = path
        self.encoding = option(options, "encoding", str, "utf-8", path)
        self.columns = str_list(options, "columns", path)
        self.chunk_rows = chunk_rows

    def records(self) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def _schema(self, records: Iterable[dict[str, Any]]) -> pa.Schema:
        columns = _Columns()
        for record in records:
            columns.add(record)
        return columns.schema(self.columns, self.path)

    def read(self, schema: pa.Schema) -> Iterator[pa.Table]:
        for chunk in _chunks(self.records(), self.chunk_rows):
            yield to_table(chunk, schema)


class JsonReader(_JsonBase):
    """A JSON document read whole: an array of objects, or the records at `records_path`."""

    def __init__(self, path: Path, options: Mapping[str, Any], chunk_rows: int):
        super().__init__(path, options, chunk_rows)
        self.records_path = option(options, "records_path", str, None, path)

    def scan(self, keep: bool) -> Scan:
        records = list(self.records())
        schema = self._schema(records)
        if not keep:
            return Scan(schema)
        spool = Spool()
        for chunk in _chunks(records, self.chunk_rows):
            spool.add(to_table(chunk, schema))
        return Scan(schema, spool)

    def records(self) -> Iterator[dict[str, Any]]:
        try:
            with open_text(self.path, self.encoding, newline=None) as text:
                document = json.load(text)
        except UnicodeDecodeError:
            raise decode_error(self.path, self.encoding) from None
        except json.JSONDecodeError as exc:
            raise SourceError(f"invalid JSON: {exc.msg}", path=self.path, line=exc.lineno, column=exc.colno) from None
        for index, record in enumerate(self._records_in(document)):
            if not isinstance(record, dict):
                raise SourceError(f"record {index} is {_describe(record)}, expected an object", path=self.path)
            yield flatten(record)

    def _records_in(self, document: Any) -> list[Any]:
        if self.records_path is None:
            if isinstance(document, dict):
                lists = [k for k, v in document.items() if isinstance(v, list)]
                hint = f" (lists under: {', '.join(lists)})" if lists else ""
                raise SourceError(f"the top level is an object; set options.records_path to the key of the records{hint}", path=self.path)
            if not isinstance(document, list):
                raise SourceError(f"the top level is {_describe(document)}, expected an array of objects", path=self.path)
            return document
        found: Any = document
        for part in self.records_path.split("."):
            if not isinstance(found, dict) or part not in found:
                keys = ", ".join(found) if isinstance(found, dict) else _describe(found)
                raise SourceError(f"options.records_path {self.records_path!r}: no key {part!r} (found: {keys})", path=self.path)
            found = found[part]
        return [found] if isinstance(found, dict) else found if isinstance(found, list) else [found]


class JsonLinesReader(_JsonBase):
    """One JSON object per line, streamed (read twice: once for the schema, once for the data)."""

    def scan(self, keep: bool) -> Scan:
        return Scan(self._schema(self.records()))

    def records(self) -> Iterator[dict[str, Any]]:
        try:
            with open_text(self.path, self.encoding, newline="\n") as text:
                for line, data in enumerate(text, start=1):
                    if data.strip():
                        yield flatten(self._parse(data, line))
        except UnicodeDecodeError:
            raise decode_error(self.path, self.encoding) from None

    def _parse(self, data: str, line: int) -> dict[str, Any]:
        try:
            record = json.loads(data.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            raise SourceError(f"invalid JSON: {exc.msg}", path=self.path, line=line, column=exc.colno) from None
        if not isinstance(record, dict):
            raise SourceError(f"expected a JSON object, found {_describe(record)}", path=self.path, line=line)
        return record


def _describe(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
