"""Local file sources: paths, formats, and readers compared with what pandas reads."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_assets.sources import _common, _csv
from etl_assets.sources.errors import Rescan
from etl_assets.sources.files import SourceError, detect_format, expand_paths, read_file_frames, read_files
from etl_assets.tables import to_pandas


# --- helpers ---------------------------------------------------------------------------------------


def read(path: Path | list[Path], fmt: str | None = None, chunk_rows: int = 100_000, **options: object) -> pa.Table:
    """All chunks of a read, checked to share one schema and to respect chunk_rows, and to equal
    (data or error) a streamed read, whole and cut into tiny pieces (see `streamed`)."""
    paths = path if isinstance(path, list) else [path]
    try:
        chunks = list(read_files(paths, fmt, options, chunk_rows))
    except SourceError as exc:
        for piece_bytes in (_csv.SEGMENT_BYTES, 61):
            with pytest.raises(SourceError) as info:
                streamed(paths, fmt, options, chunk_rows, piece_bytes)
            assert str(info.value) == str(exc)
        raise
    assert chunks, "read_files yields at least one table"
    for chunk in chunks:
        assert chunk.schema == chunks[0].schema
        assert chunk.num_rows <= chunk_rows
    table = pa.concat_tables(chunks)
    for piece_bytes in (_csv.SEGMENT_BYTES, 61):
        assert streamed(paths, fmt, options, chunk_rows, piece_bytes).equals(table)
    return table


def streamed(paths: list[Path], fmt: str | None, options: dict, chunk_rows: int, piece_bytes: int) -> pa.Table:
    """What the source asset reads: `stream=True`, and on Rescan all over again without it."""
    old, _csv.SEGMENT_BYTES = _csv.SEGMENT_BYTES, piece_bytes
    try:
        try:
            chunks = list(read_files(paths, fmt, options, chunk_rows, stream=True))
        except Rescan:
            chunks = list(read_files(paths, fmt, options, chunk_rows))
    finally:
        _csv.SEGMENT_BYTES = old
    for chunk in chunks:
        assert chunk.num_rows <= chunk_rows
    return pa.concat_tables(chunks)


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64 (pandas turns integers with gaps into floats), everything else as
    objects with None for missing values."""
    columns = {}
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            columns[name] = s.astype("float64")
        else:
            columns[name] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(columns)


def assert_same_data(table: pa.Table, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(normalised(to_pandas(table)), normalised(expected), check_exact=True)


def pandas_csv(path: Path, **options: object) -> pd.DataFrame:
    """What pandas reads, with correctly rounded floats (its default parser can be 1 ulp off, pyarrow's is exact)."""
    return pd.read_csv(path, float_precision="round_trip", **options)  # type: ignore[call-overload]


def types(table: pa.Table) -> dict[str, str]:
    return {f.name: str(f.type) for f in table.schema}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def error(path: Path | list[Path], fmt: str | None = None, **options: object) -> str:
    with pytest.raises(SourceError) as info:
        read(path, fmt, **options)
    return str(info.value)


# --- paths and formats ---------------------------------------------------------------------------


def test_expand_single_file_relative_to_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "x\n1\n")
    assert expand_paths("a.csv", tmp_path) == [tmp_path / "a.csv"]


def test_expand_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "a.csv", "x\n1\n")
    assert expand_paths("~/a.csv", Path("/elsewhere")) == [tmp_path / "a.csv"]


def test_expand_glob_is_sorted_and_recursive(tmp_path: Path) -> None:
    for name in ["b.csv", "a.csv", "sub/c.csv", "sub/deeper/d.csv", "e.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path / name, "x\n1\n")
    assert expand_paths("*.csv", tmp_path) == [tmp_path / "a.csv", tmp_path / "b.csv"]
    assert expand_paths("[ab].csv", tmp_path) == [tmp_path / "a.csv", tmp_path / "b.csv"]
    assert expand_paths("?.txt", tmp_path) == [tmp_path / "e.txt"]
    assert expand_paths("**/*.csv", tmp_path) == sorted(
        [tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "sub/c.csv", tmp_path / "sub/deeper/d.csv"]
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: file not found$"):
        expand_paths("data/nope.csv", tmp_path)


def test_empty_glob_names_pattern_and_directory(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(SourceError) as info:
        expand_paths("data/flights_*.csv", tmp_path)
    assert "'data/flights_*.csv'" in str(info.value)
    assert str(tmp_path / "data") in str(info.value)
    with pytest.raises(SourceError, match="does not exist"):
        expand_paths("nodir/*.csv", tmp_path)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(SourceError, match="is a directory"):
        expand_paths("data", tmp_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"), ("a.TSV", "tsv"), ("a.tab", "tsv"), ("a.json", "json"), ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"), ("a.xlsx", "excel"), ("a.xls", "excel"), ("a.parquet", "parquet"),
        ("a.pq", "parquet"), ("a.txt", "txt"), ("a.log", "txt"), ("a.csv.gz", "csv"), ("a.tsv.bz2", "tsv"),
        ("a.jsonl.zst", "jsonl"), ("a.txt.xz", "txt"), ("flights.csv.zip", "csv"),
    ],
)  # fmt: skip
def test_detect_format_from_extension(name: str, expected: str) -> None:
    assert detect_format(Path(name), None) == expected


def test_detect_format_explicit_and_errors() -> None:
    assert detect_format(Path("data.dat"), "csv") == "csv"
    assert detect_format(Path("data.dat.gz"), "tsv") == "tsv"
    with pytest.raises(SourceError, match="cannot tell the format from the extension '.dat'"):
        detect_format(Path("data.dat"), None)
    with pytest.raises(SourceError, match="'xml' is not one of"):
        detect_format(Path("a.csv"), "xml")
    with pytest.raises(SourceError, match="parquet files cannot be read gzip-compressed"):
        detect_format(Path("a.parquet.gz"), None)


def test_unknown_option_is_an_error_but_other_formats_options_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "x\n1\n")
    assert "unknown option delimeter" in error(path, delimeter=";")
    assert read(path, sheet="Sheet1", records_path="x").num_rows == 1


# --- csv: equality with pandas ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["airlines.csv", "airports.csv", "weather.csv", "planes.csv"])
def test_csv_equals_pandas(flights_data_dir: Path, name: str) -> None:
    path = flights_data_dir / name
    assert_same_data(read(path), pandas_csv(path))


def test_csv_types_like_pandas_but_integers_keep_nulls(flights_data_dir: Path) -> None:
    table = read(flights_data_dir / "weather.csv")
    assert types(table) | {} == {
        "origin": "string", "year": "int64", "month": "int64", "day": "int64", "hour": "int64",
        "temp": "double", "dewp": "double", "humid": "double", "wind_dir": "int64", "wind_speed": "double",
        "wind_gust": "double", "precip": "double", "pressure": "double", "visib": "double", "time_hour": "string",
    }  # fmt: skip
    assert table.column("wind_dir").null_count > 0  # NA in an integer column: int64 with nulls


def test_zipped_flights_equal_pandas(flights_data_dir: Path) -> None:
    path = flights_data_dir / "flights.csv.zip"
    table = read(path)
    assert table.num_rows == 336_776
    assert types(table)["dep_time"] == "int64" and types(table)["time_hour"] == "string"
    assert_same_data(table, pandas_csv(path))


def test_tiny_chunks_give_the_same_data(flights_data_dir: Path) -> None:
    path = flights_data_dir / "airports.csv"
    chunks = list(read_files([path], None, {}, chunk_rows=7))
    assert {c.num_rows for c in chunks[:-1]} == {7}
    assert sum(c.num_rows for c in chunks) == len(pandas_csv(path))
    assert_same_data(pa.concat_tables(chunks), pandas_csv(path))


def test_spilled_data_is_the_same(flights_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "SPOOL_MEMORY_BYTES", 1)  # every block goes through the temp file
    path = flights_data_dir / "weather.csv"
    assert_same_data(read(path, chunk_rows=5000, block_size=100_000), pandas_csv(path))


def test_dates_and_times_stay_the_original_text(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.csv",
        "d,t,ts,tz\n2013-01-01,12:00:00,2013-01-01 06:00:00,2013-01-01T06:00:00Z\n2013-01-02,13:30:00,2013-01-02 07:00:00,\n",
    )
    table = read(path)
    assert types(table) == {"d": "string", "t": "string", "ts": "string", "tz": "string"}
    assert table.to_pylist()[0] == {"d": "2013-01-01", "t": "12:00:00", "ts": "2013-01-01 06:00:00", "tz": "2013-01-01T06:00:00Z"}
    assert_same_data(table, pandas_csv(path))


def test_pandas_null_values_and_booleans(tmp_path: Path) -> None:
    nulls = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "#N/A", "n/a", "<NA>", "None"]
    rows = "\n".join(f"{i},{v},{'true' if i % 2 else 'False'},x{i}" for i, v in enumerate(nulls))
    path = write(tmp_path / "n.csv", "i,v,b,s\n" + rows + "\n99,-,TRUE,NA\n")
    table = read(path)
    assert types(table) == {"i": "int64", "v": "string", "b": "bool", "s": "string"}
    assert table.column("v").to_pylist() == [None] * len(nulls) + ["-"]
    assert table.column("s").to_pylist()[-1] is None
    assert_same_data(table, pandas_csv(path))


def test_null_values_options(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "country,n\nNA,-\nDE,1\n")
    assert read(path).column("country").to_pylist() == [None, "DE"]
    table = read(path, null_values=["-"], default_null_values=False)
    assert table.column("country").to_pylist() == ["NA", "DE"]
    assert table.column("n").to_pylist() == [None, 1]


def test_integer_column_with_nulls_stays_integer(tmp_path: Path) -> None:
    table = read(write(tmp_path / "a.csv", "a,b\n1,\n,2\n3,4\n"))
    assert types(table) == {"a": "int64", "b": "int64"}
    assert table.column("a").to_pylist() == [1, None, 3]


def test_always_empty_column_is_float_like_pandas(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b\n1,\n2,\n")
    table = read(path)
    assert types(table) == {"a": "int64", "b": "double"}
    assert_same_data(table, pandas_csv(path))


def test_quoted_values_and_newlines_in_values(tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", 'a,b\n1,"x, ""y"""\n2,"multi\nline"\n')
    table = read(path)
    assert table.column("b").to_pylist() == ['x, "y"', "multi\nline"]
    assert_same_data(table, pandas_csv(path))


def test_delimiter_quotechar_skip_rows_and_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "report of today\nfoo\na;b\n1;'x;y'\n")
    assert read(path, delimiter=";", quotechar="'", skip_rows=2).to_pylist() == [{"a": 1, "b": "x;y"}]
    tsv = write(tmp_path / "a.tsv", "a\tb\n1\tx,y\n")
    assert read(tsv).to_pylist() == [{"a": 1, "b": "x,y"}]


def test_quoting_off_and_escapechar(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'a,b\n"1",x"y\n')
    assert read(path, quotechar=None).to_pylist() == [{"a": '"1"', "b": 'x"y'}]
    escaped = write(tmp_path / "e.csv", 'a,b\n1,"say \\"hi\\""\n')
    assert read(escaped, escapechar="\\").to_pylist() == [{"a": 1, "b": 'say "hi"'}]


def test_header_false_names_columns(tmp_path: Path) -> None:
    table = read(write(tmp_path / "a.csv", "1,x\n2,y\n"), header=False)
    assert table.to_pylist() == [{"column_1": 1, "column_2": "x"}, {"column_1": 2, "column_2": "y"}]


def test_columns_option_keeps_listed_columns_in_order(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b,c\n1,2,3\n")
    assert read(path, columns=["c", "a"]).to_pylist() == [{"c": 3, "a": 1}]
    assert "options.columns: no column 'z'" in error(path, columns=["z"])


def test_column_types(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        "id,amount,day,at,flag,other\n007,1.50,2024-01-31,2024-01-31 10:00:00,true,2024-01-31 10:00:00\n"
        "8,2,2024-02-01,2024-02-01T00:00:00,false,2024-01-31\n",
    )
    table = read(path, column_types={"id": "string", "amount": "decimal", "day": "date", "at": "datetime", "flag": "boolean"})
    assert types(table) == {
        "id": "string", "amount": "decimal128(38, 9)", "day": "date32[day]", "at": "timestamp[us]", "flag": "bool", "other": "string",
    }  # fmt: skip
    assert table.column("id").to_pylist() == ["007", "8"]
    aware = write(tmp_path / "tz.csv", "at\n2024-01-31T10:00:00+02:00\n2024-01-31T10:00:00Z\n")
    table = read(aware, column_types={"at": "datetime"})
    assert types(table) == {"at": "timestamp[us, tz=UTC]"}
    assert [v.hour for v in table.column("at").to_pylist()] == [8, 10]


def test_column_types_bad_value_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b\n1,2\n3,4\n5,x\n")
    assert error(path, column_types={"b": "integer"}).endswith("a.csv:4: column 'b': cannot read 'x' as integer (options.column_types)")
    assert "'number' is not one of" in error(path, column_types={"b": "number"})
    assert "options.column_types: no column 'z'" in error(path, column_types={"z": "integer"})


# --- csv: types over the whole file --------------------------------------------------------------


def test_integer_column_widened_to_text_by_a_late_value(tmp_path: Path) -> None:
    rows = [f"{i},{i % 7}" for i in range(100_000)] + ["x,1"] + [f"{i},2" for i in range(10)]
    path = write(tmp_path / "w.csv", "id,n\n" + "\n".join(rows) + "\n")
    table = read(path, block_size=64 << 10)
    assert types(table) == {"id": "string", "n": "int64"}
    assert table.column("id")[100_000].as_py() == "x"
    assert_same_data(table, pandas_csv(path))


def test_widening_int_to_float_and_bool_to_text_and_null_to_int(tmp_path: Path) -> None:
    rows = [f"{i},true,," for i in range(5000)] + ["2.5,1,7,2024-01-01"]
    path = write(tmp_path / "w.csv", "f,b,late,d\n" + "\n".join(rows) + "\n")
    table = read(path, block_size=4096, chunk_rows=1000)
    assert types(table) == {"f": "double", "b": "string", "late": "int64", "d": "string"}
    assert table.column("b").to_pylist()[-2:] == ["true", "1"]
    assert_same_data(table, pandas_csv(path))


def test_late_date_in_integer_column_is_text(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", "a\n" + "1\n" * 3000 + "2024-01-01\n")
    table = read(path, block_size=1024)
    assert types(table) == {"a": "string"}
    assert table.column("a").to_pylist()[-1] == "2024-01-01"


# --- csv: encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-8-sig", "UTF8"])
def test_bom_never_reaches_the_first_column_name(tmp_path: Path, encoding: str | None) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfid,name\n1,Z\xc3\xbcrich\n")
    table = read(path, **({"encoding": encoding} if encoding else {}))
    assert table.column_names == ["id", "name"]
    assert table.to_pylist() == [{"id": 1, "name": "Zürich"}]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_other_encodings_are_transcoded(tmp_path: Path, encoding: str) -> None:
    text = "city,price\nZürich,5\nSão Paulo,6\n" + ("Köln €,7\n" if encoding == "cp1252" else "")
    path = write(tmp_path / "enc.csv", text, encoding)
    table = read(path, encoding=encoding)
    assert table.column("city").to_pylist()[:2] == ["Zürich", "São Paulo"]
    assert_same_data(table, pandas_csv(path, encoding=encoding))


def test_undecodable_utf8_names_file_line_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n1,ok\n2,Z\xfcrich\n")
    assert error(path).endswith("bad.csv:3: cannot decode byte 0xfc as utf-8 (set options.encoding, e.g. latin-1 or cp1252)")


def test_undecodable_in_a_later_block(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n" + b"1,ok\n" * 2000 + b"2,Z\xfcrich\n")
    assert "bad.csv:2002: cannot decode byte 0xfc as utf-8" in error(path, block_size=1024)


def test_undecodable_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a\nx\n\x81\n")
    assert "bad.csv:3: cannot decode byte 0x81 as cp1252" in error(path, encoding="cp1252")


def test_unknown_encoding(tmp_path: Path) -> None:
    assert "unknown encoding 'klingon'" in error(write(tmp_path / "a.csv", "a\n1\n"), encoding="klingon")


# --- csv: malformed files ------------------------------------------------------------------------


def test_too_many_fields_names_the_editor_line(tmp_path: Path) -> None:
    lines = ["a,b,c"] + [f"{i},{i},{i}" for i in range(1, 55)] + ['1,"two\nlines",3', "1,2,3,4"]
    path = write(tmp_path / "x.csv", "\n".join(lines) + "\n")
    # line 1 header, 54 rows on lines 2-55, a two-line row on 56-57, the bad row on line 58
    assert error(path).endswith("x.csv:58: expected 3 fields, found 4")


def test_too_few_fields_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a,b,c\n1,2,3\n\n4,5\n")
    assert error(path).endswith("x.csv:4: expected 3 fields, found 2")


def test_malformed_row_in_a_later_block(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a,b\n" + "1,2\n" * 5000 + "1,2,3\n")
    assert error(path, block_size=1024).endswith("x.csv:5002: expected 2 fields, found 3")


def test_unterminated_quote_in_the_last_column(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", 'a,b\n1,2\n3,"4\n5,6\n7,8\n')
    assert error(path).endswith('x.csv:3: unterminated quoted field: the " opened on this line is never closed')


def test_unterminated_quote_in_a_middle_column(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", 'a,b,c\n1,2,3\n3,"4,5\n6,7,8\n')
    assert "x.csv:3: unterminated quoted field" in error(path)


def test_duplicate_and_empty_header_names(tmp_path: Path) -> None:
    assert "duplicate column names: a" in error(write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))
    assert "column 3 has an empty name" in error(write(tmp_path / "e.csv", "a,b,\n1,2,3\n"))


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    assert "the file is empty" in error(write(tmp_path / "e.csv", ""))
    chunks = list(read_files([write(tmp_path / "h.csv", "a,b")], None, {}))
    assert len(chunks) == 1 and chunks[0].num_rows == 0 and chunks[0].column_names == ["a", "b"]


# --- csv: several files --------------------------------------------------------------------------


def test_glob_of_several_files_concatenated_in_order(tmp_path: Path) -> None:
    write(tmp_path / "f_2.csv", "id,v\n3,c\n")
    write(tmp_path / "f_1.csv", "v,id\na,1\nb,2\n")  # other column order: the first file's order wins
    table = read(expand_paths("f_*.csv", tmp_path), chunk_rows=2)
    assert table.to_pylist() == [{"v": "a", "id": 1}, {"v": "b", "id": 2}, {"v": "c", "id": 3}]


def test_glob_types_are_unified_from_the_text(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "code,amount,note\n007,1,\n008,2,\n")
    write(tmp_path / "b.csv", "code,amount,note\nX9,2.5,\n010,3,hello\n")
    table = read(expand_paths("*.csv", tmp_path))
    assert types(table) == {"code": "string", "amount": "double", "note": "string"}
    assert table.column("code").to_pylist() == ["007", "008", "X9", "010"]  # re-read as text, not 7
    assert table.column("amount").to_pylist() == [1.0, 2.0, 2.5, 3.0]


def test_glob_with_a_missing_column_names_both_files(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,name\n1,x\n")
    write(tmp_path / "b.csv", "id\n2\n")
    message = error(expand_paths("*.csv", tmp_path))
    assert "b.csv: has no column 'name'" in message and "a.csv" in message


def test_glob_with_an_extra_column(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id\n1\n")
    write(tmp_path / "b.csv", "id,name\n2,x\n")
    assert "b.csv: has a column 'name'" in error(expand_paths("*.csv", tmp_path))


@pytest.mark.parametrize(("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_csv(flights_data_dir: Path, tmp_path: Path, suffix: str, opener: object) -> None:
    path = tmp_path / f"airports.csv{suffix}"
    with opener(path, "wb") as f:  # type: ignore[operator]
        f.write((flights_data_dir / "airports.csv").read_bytes())
    assert_same_data(read(path), pandas_csv(flights_data_dir / "airports.csv"))


def test_zstd_and_zip(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.zst"
    with pa.output_stream(str(path), compression="zstd") as f:
        f.write(b"a,b\n1,x\n")
    assert read(path).to_pylist() == [{"a": 1, "b": "x"}]
    archive = tmp_path / "two.csv.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("one.csv", "a\n1\n")
        z.writestr("two.csv", "a\n2\n")
    assert "exactly one file, found 2" in error(archive)


# --- json and jsonl ------------------------------------------------------------------------------


RECORDS = [
    {"id": 1, "name": "Ann", "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "tags": ["a", "b"]},
    {"id": 2, "name": None, "address": {"city": "Rome"}, "extra": True},
]


def test_nested_json_is_flattened(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RECORDS))
    table = read(path)
    assert table.column_names == ["id", "name", "address.city", "address.geo.lat", "tags", "extra"]
    assert types(table) == {
        "id": "int64", "name": "string", "address.city": "string", "address.geo.lat": "double", "tags": "string", "extra": "bool",
    }  # fmt: skip
    assert table.column("tags").to_pylist() == ['["a", "b"]', None]
    expected = pd.json_normalize(RECORDS, sep=".")
    expected["tags"] = expected["tags"].map(lambda v: json.dumps(v) if isinstance(v, list) else None)
    assert_same_data(table, expected[table.column_names])


def test_json_records_path(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"meta": {"n": 2}, "data": {"items": RECORDS}}))
    assert read(path, records_path="data.items").num_rows == 2
    assert "set options.records_path" in error(path)
    assert "options.records_path 'data.rows': no key 'rows' (found: items)" in error(path, records_path="data.rows")


def test_json_mixed_values_become_json_text(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"v": 1}, {"v": "a"}, {"v": 2.5}, {"v": True}, {"v": {"x": 1}}]))
    table = read(path)
    assert table.column("v").to_pylist() == ["1", "a", "2.5", "true", None]
    assert table.column("v.x").to_pylist() == [None, None, None, None, 1]


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"a": 1},\n  {"a": 2,}\n]')
    assert "bad.json:3:11: invalid JSON" in error(path)
    scalar = tmp_path / "s.json"
    scalar.write_text("[1, 2]")
    assert "record 0 is a number, expected an object" in error(scalar)


def test_jsonl_streams_in_chunks_with_one_schema(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [json.dumps({"i": i, "v": i}) for i in range(25)] + ["", json.dumps({"i": 25, "v": 0.5, "new": {"k": "x"}})]
    path.write_text("\n".join(lines) + "\n")
    table = read(path, chunk_rows=10)
    assert types(table) == {"i": "int64", "v": "double", "new.k": "string"}
    assert table.num_rows == 26 and table.column("new.k").to_pylist()[-1] == "x"


def test_jsonl_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n\n{"a": 3\n')
    assert "r.jsonl:4:8: invalid JSON" in error(path)
    path.write_text('{"a": 1}\n[1]\n')
    assert "r.jsonl:2: expected a JSON object, found an array" in error(path)


def test_glob_of_jsonl_files_unifies_types(tmp_path: Path) -> None:
    (tmp_path / "1.jsonl").write_text('{"a": 1, "b": null}\n')
    (tmp_path / "2.jsonl").write_text('{"b": 2, "a": 1.5}\n')
    table = read(expand_paths("*.jsonl", tmp_path))
    assert types(table) == {"a": "double", "b": "int64"} and table.to_pylist() == [{"a": 1.0, "b": None}, {"a": 1.5, "b": 2}]


def test_compressed_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"a": 1}\n{"a": 2}\n')
    assert read(path).column("a").to_pylist() == [1, 2]


# --- excel -----------------------------------------------------------------------------------------


def test_excel_sheet_by_name_and_index(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    first = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    second = pd.DataFrame({"id": [1, 2, 3], "price": [1.5, None, 3.0], "mixed": [1, "two", 3]})
    with pd.ExcelWriter(path) as writer:
        first.to_excel(writer, sheet_name="First", index=False)
        second.to_excel(writer, sheet_name="Prices", index=False)
    assert read(path).to_pylist() == first.to_dict("records")
    table = read(path, sheet="Prices", chunk_rows=2)
    assert types(table) == {"id": "int64", "price": "double", "mixed": "string"}
    assert table.column("mixed").to_pylist() == ["1", "two", "3"]
    assert_same_data(table.drop_columns(["mixed"]), pd.read_excel(path, sheet_name="Prices").drop(columns=["mixed"]))
    assert read(path, sheet=1).num_rows == 3
    assert "options.sheet: no sheet 'Nope'; the workbook has First, Prices" in error(path, sheet="Nope")


def test_excel_duplicate_header_and_header_false(tmp_path: Path) -> None:
    path = tmp_path / "dup.xlsx"
    pd.DataFrame([["a", "b", "a"], [1, 2, 3]]).to_excel(path, index=False, header=False)
    assert "duplicate column names: a" in error(path)
    table = read(path, header=False, skip_rows=1)
    assert table.to_pylist() == [{"column_1": 1, "column_2": 2, "column_3": 3}]


# --- parquet ----------------------------------------------------------------------------------------


def test_parquet_streams_batches(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    source = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
    pq.write_table(source, path, row_group_size=300)
    chunks = list(read_files([path], None, {}, chunk_rows=128))
    assert max(c.num_rows for c in chunks) == 128
    assert pa.concat_tables(chunks).equals(source)
    assert read(path, columns=["b"]).column_names == ["b"]


def test_parquet_files_with_different_integer_widths(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": pa.array([1], pa.int32())}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"a": pa.array([2.5], pa.float64())}), tmp_path / "2.parquet")
    table = read(expand_paths("*.parquet", tmp_path))
    assert types(table) == {"a": "double"} and table.column("a").to_pylist() == [1.0, 2.5]


def test_parquet_from_pandas_has_no_index_column(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"a": [1, 2]}, index=[5, 6]).to_parquet(path)
    assert read(path).column_names == ["a"]


def test_not_parquet(tmp_path: Path) -> None:
    assert "not a readable Parquet file" in error(write(tmp_path / "p.parquet", "nope"))


# --- txt ----------------------------------------------------------------------------------------------


def test_txt_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"first\r\n\nthird line, with comma\nlast")
    table = read(path, chunk_rows=2)
    assert types(table) == {"line": "string"}
    assert table.column("line").to_pylist() == ["first", "", "third line, with comma", "last"]
    path.write_bytes(b"one\ntwo\n")
    assert read(path).column("line").to_pylist() == ["one", "two"]


def test_txt_encoding_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfZ\xc3\xbcrich\n")
    assert read(path).column("line").to_pylist() == ["Zürich"]
    path.write_bytes("Zürich\n".encode("latin-1"))
    assert read(path, encoding="latin-1").column("line").to_pylist() == ["Zürich"]
    assert "a.txt:1: cannot decode byte 0xfc as utf-8" in error(path)


def test_read_file_frames_gives_pandas_chunks(tmp_path: Path) -> None:
    frames = list(read_file_frames([write(tmp_path / "a.csv", "a,b\n1,x\n,y\n")], None, {}, chunk_rows=1))
    assert [len(f) for f in frames] == [1, 1]
    assert str(frames[0]["a"].dtype) == "Int64"


def test_read_files_needs_files() -> None:
    with pytest.raises(SourceError, match="no files"):
        list(read_files([], None, {}))


def test_spool_temp_file_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "SPOOL_MEMORY_BYTES", 1)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    path = write(tmp_path / "a.csv", "a\n" + "1\n" * 1000)
    reader = read_files([path], None, {"block_size": 1000}, chunk_rows=10)
    next(reader)
    assert os.listdir(tmp_path / "tmp")
    reader.close()
    assert not os.listdir(tmp_path / "tmp")


# --- streaming (one pass, typed by the beginning of the file) -----------------------------------


def test_stream_cuts_pieces_only_at_newlines_outside_quotes() -> None:
    text = b'a,b\n1,"x\ny"\n2,"say ""hi""\n, ok"\n3,plain\n' * 5
    for size in (1, 7, 13, 64):
        old, _csv.SEGMENT_BYTES = _csv.SEGMENT_BYTES, size
        try:
            pieces = [bytes(p) for p in _csv._pieces(_common.TailStream(io.BytesIO(text)), '"')]
        finally:
            _csv.SEGMENT_BYTES = old
        assert b"".join(pieces) == text
        for piece in pieces:
            assert piece.endswith(b"\n") and piece.count(b'"') % 2 == 0


def test_last_record_end_with_and_without_quotes_in_the_buffer() -> None:
    assert _csv._last_record_end(b"a,b\n1,2\n3,", b'"') == 8  # no quote: the last newline
    assert _csv._last_record_end(b'a,b\n1,"x\ny', b'"') == 4  # the last newline is inside quotes
    assert _csv._last_record_end(b'1,"x\ny', b'"') == 0
    assert _csv._last_record_end(b"no newline", None) == 0


def test_stream_rescans_when_a_later_piece_needs_a_wider_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "late.csv", "n,s\n" + "".join(f"{i},v{i}\n" for i in range(50)) + "1.5,w\n")
    monkeypatch.setattr(_csv, "SEGMENT_BYTES", 64)
    got = []
    with pytest.raises(Rescan):
        for chunk in read_files([path], None, {}, 10, stream=True):
            got.append(chunk)
    assert got and all(c.schema.field("n").type == pa.int64() for c in got)  # chunks came before the widening
    assert read(path).schema.field("n").type == pa.float64()


def test_stream_rescans_before_any_chunk_when_the_beginning_cannot_type_a_column(tmp_path: Path) -> None:
    path = write(tmp_path / "empty_first.csv", "a,b\n1,\n2,\n")
    with pytest.raises(Rescan):
        next(read_files([path], None, {}, stream=True))
    assert types(read(path)) == {"a": "int64", "b": "double"}


def test_stream_uses_parallel_pieces(flights_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    original = _csv.CsvReader._parse_piece
    monkeypatch.setattr(_csv.CsvReader, "_parse_piece", lambda self, data, *a, **k: parsed.append(len(data)) or original(self, data, *a, **k))
    monkeypatch.setattr(_csv, "SEGMENT_BYTES", 1 << 16)
    path = flights_data_dir / "airports.csv"
    streamed_table = pa.concat_tables(list(read_files([path], None, {}, stream=True)))
    assert len(parsed) > 1 and max(parsed) < 2 * (1 << 16)
    assert streamed_table.equals(read(path))


def test_csv_null_values_are_pandas_defaults() -> None:
    """The CSV reader writes pandas' default NA strings out (so that parsing does not import
    pandas); they must stay pandas' own."""
    from pandas._libs.parsers import STR_NA_VALUES

    from etl_assets.sources._csv import PANDAS_NULL_VALUES

    assert sorted(PANDAS_NULL_VALUES) == sorted(STR_NA_VALUES)
