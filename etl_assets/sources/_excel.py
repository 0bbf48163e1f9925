"""Excel workbooks through pandas.read_excel (openpyxl), one sheet read whole."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import pyarrow as pa

from ._common import Scan, Spool, check_columns, check_names, numbered_names, option, str_list
from .errors import SourceError

if TYPE_CHECKING:
    import pandas as pd


def _name(value: Any) -> str:
    """A header cell as a column name (2020.0 -> "2020", empty -> "")."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _array(series: pd.Series) -> pa.Array:
    """A column as pandas typed it; a column mixing kinds of values (e.g. numbers and text) as text."""
    import pandas as pd

    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if pd.isna(v) else str(v) for v in series], pa.string())


class ExcelReader:
    null_type = pa.float64()

    def __init__(self, path: Path, options: Mapping[str, Any], chunk_rows: int):
        self.path = path
        self.sheet: str | int = option(options, "sheet", (str, int), 0, path)
        self.header = option(options, "header", bool, True, path)
        self.skip_rows = option(options, "skip_rows", int, 0, path)
        self.columns = str_list(options, "columns", path)

    def scan(self, keep: bool) -> Scan:
        table = self._table()
        if not keep:
            return Scan(table.schema)
        spool = Spool()
        spool.add(table)
        return Scan(table.schema, spool)

    def read(self, schema: pa.Schema) -> Iterator[pa.Table]:
        yield self._table()

    def _table(self) -> pa.Table:
        import pandas as pd

        try:
            with pd.ExcelFile(self.path) as book:
                self._check_sheet(book.sheet_names)
                frame = book.parse(self.sheet, header=0 if self.header else None, skiprows=self.skip_rows)
                names = self._names(book, frame.shape[1])
        except ImportError as exc:
            raise SourceError(f"reading this workbook needs a package that is not installed: {exc}", path=self.path) from None
        except (ValueError, OSError, KeyError) as exc:
            raise SourceError(f"cannot read the workbook: {exc}", path=self.path) from None
        check_names(names, self.path)
        check_columns(self.columns, names, self.path)
        table = pa.table({name: _array(frame.iloc[:, i]) for i, name in enumerate(names)})
        return table.select(self.columns) if self.columns else table

    def _check_sheet(self, sheets: list[str]) -> None:
        known = self.sheet in sheets if isinstance(self.sheet, str) else 0 <= self.sheet < len(sheets)
        if not known:
            raise SourceError(f"options.sheet: no sheet {self.sheet!r}; the workbook has {', '.join(sheets)}", path=self.path)

    def _names(self, book: pd.ExcelFile, width: int) -> list[str]:
        """The header row as written (pandas would rename duplicates and blanks)."""
        if not self.header:
            return numbered_names(width)
        row = book.parse(self.sheet, header=None, skiprows=self.skip_rows, nrows=1)
        cells = list(row.iloc[0]) if len(row) else []
        return [_name(v) for v in cells] + [""] * (width - len(cells))
