"""SQL sources end to end through Dagster, against real PostgreSQL, MariaDB and SQLite databases:
full reads, incremental reads across runs (each run a fresh load of the configs and a reopened
Dagster instance), and failed loads that are delivered exactly once by the next run."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl_assets.tables import TableWriter
from tests.support.pipelines import Project, project  # noqa: F401 - fixture

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
T0 = dt.datetime(2024, 3, 1, 8, 0, 0)


def execute(url: str, *statements: str, params: list[dict] | None = None) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement), params or [{}])
    engine.dispose()


def rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return out


def create_orders(url: str) -> None:
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(50), amount NUMERIC(10, 2), "
        "paid BOOLEAN, ordered_on DATE, updated_at TIMESTAMP NULL)",
    )


def add_orders(url: str, ids: range) -> None:
    execute(
        url,
        "INSERT INTO orders VALUES (:id, :customer, :amount, :paid, :ordered_on, :updated_at)",
        params=[
            {
                "id": i,
                "customer": f"c{i % 3}",
                "amount": f"{i}.25",
                "paid": i % 2 == 0,
                "ordered_on": dt.date(2024, 3, i % 28 + 1),
                "updated_at": T0 + dt.timedelta(minutes=i),
            }
            for i in ids
        ],
    )


def orders_at(url: str, ids: range, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source database ($SOURCE_URL): table `orders` with these ids."""
    create_orders(url)
    add_orders(url, ids)
    monkeypatch.setenv("SOURCE_URL", url)


def pipeline(project: Project, source: str, targets: str, name: str = "shop", transforms: str = "") -> None:
    """configs/<name>.yaml: connections `src` ($SOURCE_URL), `dwh` ($TARGET_URL), `dwh2` ($TARGET2_URL)."""
    text = f"""\
pipeline: {name}
connections:
  src: {{type: sql, url: "${{SOURCE_URL}}", timeout_seconds: 5}}
  dwh: {{type: sql, url: "${{TARGET_URL}}", timeout_seconds: 5}}
  dwh2: {{type: sql, url: "${{TARGET2_URL:-sqlite:///other.db}}", timeout_seconds: 5}}
sources:
  - name: orders
    type: sql
    connection: src
{textwrap.indent(textwrap.dedent(source).strip(), "    ")}
{"transforms:" if transforms else ""}
{textwrap.indent(textwrap.dedent(transforms).strip(), "  ")}
targets:
{textwrap.indent(textwrap.dedent(targets).strip(), "  ")}
"""
    project.write(name, text)


APPEND_TARGET = """
- name: orders_table
  input: orders
  type: sql
  connection: dwh
  table: orders_copy
  mode: append
"""


@pytest.fixture
def target_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'dwh.db'}"
    monkeypatch.setenv("TARGET_URL", url)
    return url


def test_full_read_of_a_table_keeps_values_and_types(any_db_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(any_db_url, range(1, 6), monkeypatch)
    pipeline(project, "table: orders", APPEND_TARGET)
    run = project.run("shop")
    assert run.success, run.failures()
    table = project.table("shop", "orders").to_pylist()
    assert [r["id"] for r in table] == [1, 2, 3, 4, 5]
    assert table[0]["customer"] == "c1"
    assert [r["paid"] for r in table] == [False, True, False, True, False] or [r["paid"] for r in table] == [0, 1, 0, 1, 0]
    if any_db_url.startswith("sqlite"):  # SQLite has no decimal, date or time types
        assert (table[0]["amount"], table[0]["ordered_on"], table[0]["updated_at"]) == (1.25, "2024-03-02", "2024-03-01 08:01:00")
    else:
        assert (table[0]["amount"], table[0]["ordered_on"]) == (Decimal("1.25"), dt.date(2024, 3, 2))
        assert table[0]["updated_at"] == T0 + dt.timedelta(minutes=1)
    meta = run.metadata("shop", "orders")
    assert meta["dagster/row_count"] == 5 and meta["bytes"] > 0 and meta["read"] == "orders"
    assert "password" not in meta["database"]
    assert rows(target_url, "SELECT COUNT(*) FROM orders_copy") == [(5,)]


def test_a_query_is_read_in_chunks_through_a_server_side_cursor(pg_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    execute(pg_url, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 25000) g")
    monkeypatch.setenv("SOURCE_URL", pg_url)
    pipeline(project, "query: SELECT id, h FROM big WHERE id % 2 = 0;\nchunk_rows: 1000", APPEND_TARGET.replace("orders_copy", "big_copy"))
    written: list[int] = []
    write = TableWriter.write
    monkeypatch.setattr(TableWriter, "write", lambda self, chunk: (written.append(len(chunk)), write(self, chunk))[1])
    run = project.run("shop", select=["orders"])
    assert run.success, run.failures()
    assert written == [1000] * 12 + [500]  # one chunk of 1000 rows at a time: never read whole
    assert project.table("shop", "orders").num_rows == 12500


def test_schema_qualified_mixed_case_table_names_are_quoted(pg_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    execute(pg_url, 'CREATE SCHEMA "Sales"', 'CREATE TABLE "Sales"."Order Lines" (id INT, "Qty" INT)', """INSERT INTO "Sales"."Order Lines" VALUES (1, 2), (2, 5)""")
    monkeypatch.setenv("SOURCE_URL", pg_url)
    pipeline(project, "table: Sales.Order Lines", APPEND_TARGET)
    run = project.run("shop", select=["orders"])
    assert run.success, run.failures()
    assert project.table("shop", "orders").to_pylist() == [{"id": 1, "Qty": 2}, {"id": 2, "Qty": 5}]


def test_incremental_reads_only_new_rows_and_delivers_each_once(any_db_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(any_db_url, range(1, 4), monkeypatch)
    pipeline(project, "table: orders\nincremental: {cursor: updated_at}", APPEND_TARGET)

    first = project.run("shop")
    assert first.success, first.failures()
    assert first.metadata("shop", "orders")["dagster/row_count"] == 3

    add_orders(any_db_url, range(4, 6))
    second = project.run("shop")
    assert second.success, second.failures()
    assert [r["id"] for r in project.table("shop", "orders").to_pylist()] == [4, 5]

    third = project.run("shop")  # nothing new
    assert third.success, third.failures()
    assert third.metadata("shop", "orders")["dagster/row_count"] == 0
    assert rows(target_url, "SELECT id FROM orders_copy ORDER BY id") == [(i,) for i in range(1, 6)]


def test_a_failed_load_is_delivered_exactly_once_by_the_next_run(pg_url: str, mysql_url: str, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(pg_url, range(1, 4), monkeypatch)
    monkeypatch.setenv("TARGET_URL", UNREACHABLE)
    pipeline(project, "query: SELECT id, customer, updated_at FROM orders\nincremental: {cursor: id}", APPEND_TARGET)

    failed = project.run("shop")
    assert not failed.success
    assert "orders" in failed.materialized() and "orders_table" not in failed.materialized()

    add_orders(pg_url, range(4, 6))
    monkeypatch.setenv("TARGET_URL", mysql_url)  # the target is back
    fixed = project.run("shop")
    assert fixed.success, fixed.failures()
    assert fixed.metadata("shop", "orders")["dagster/row_count"] == 5

    again = project.run("shop")
    assert again.success and again.metadata("shop", "orders")["dagster/row_count"] == 0
    assert rows(mysql_url, "SELECT id FROM orders_copy ORDER BY id") == [(i,) for i in range(1, 6)]


def test_a_load_failing_on_bad_data_then_fixed_is_delivered_once(mysql_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(mysql_url, range(1, 4), monkeypatch)
    execute(target_url, "CREATE TABLE orders_copy (id INTEGER, customer INTEGER NOT NULL CHECK (typeof(customer) = 'integer'))")
    pipeline(project, "query: SELECT id, customer FROM orders\nincremental: {cursor: id}", APPEND_TARGET)
    failed = project.run("shop")
    assert not failed.success and "orders_table" not in failed.materialized()
    assert "customer" in failed.failures()[0]

    execute(target_url, "DROP TABLE orders_copy")
    add_orders(mysql_url, range(4, 5))
    fixed = project.run("shop")
    assert fixed.success, fixed.failures()
    assert rows(target_url, "SELECT id, customer FROM orders_copy ORDER BY id") == [(1, "c1"), (2, "c2"), (3, "c0"), (4, "c1")]


def test_when_one_of_two_targets_fails_neither_skips_nor_duplicates(pg_url: str, project: Project, target_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(pg_url, range(1, 4), monkeypatch)
    monkeypatch.setenv("TARGET2_URL", UNREACHABLE)
    second_target = APPEND_TARGET.replace("orders_table", "orders_backup").replace("dwh", "dwh2").replace("input: orders", "input: priced")
    priced = """
    - name: priced
      input: orders
      steps:
        - derive: {gross: "id * 2"}
    """
    pipeline(project, "table: orders\nincremental: {cursor: updated_at}", APPEND_TARGET + second_target, transforms=priced)

    first = project.run("shop")
    assert not first.success
    assert {"orders", "priced", "orders_table"} <= first.materialized() and "orders_backup" not in first.materialized()

    add_orders(pg_url, range(4, 6))
    backup_url = f"sqlite:///{tmp_path / 'backup.db'}"
    monkeypatch.setenv("TARGET2_URL", backup_url)
    second = project.run("shop")
    assert second.success, second.failures()
    assert second.metadata("shop", "orders")["dagster/row_count"] == 5  # re-read for the backup
    assert second.metadata("shop", "orders_table")["dagster/row_count"] == 2  # only what it lacked
    assert rows(target_url, "SELECT id FROM orders_copy ORDER BY id") == [(i,) for i in range(1, 6)]
    assert rows(backup_url, "SELECT id, gross FROM orders_copy ORDER BY id") == [(i, 2 * i) for i in range(1, 6)]

    add_orders(pg_url, range(6, 7))
    third = project.run("shop")
    assert third.success and third.metadata("shop", "orders")["dagster/row_count"] == 1
    assert rows(target_url, "SELECT COUNT(*) FROM orders_copy") == [(6,)]
    assert rows(backup_url, "SELECT COUNT(*) FROM orders_copy") == [(6,)]


def test_a_source_only_run_does_not_advance_the_cursor(sqlite_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(sqlite_url, range(1, 3), monkeypatch)
    pipeline(project, "table: orders\nincremental: {cursor: id, initial_value: 0}", APPEND_TARGET)
    assert project.run("shop", select=["orders"]).success  # read, never loaded
    add_orders(sqlite_url, range(3, 4))
    assert project.run("shop", select=["orders"]).success
    assert [r["id"] for r in project.table("shop", "orders").to_pylist()] == [1, 2, 3]
    assert project.run("shop", select=["orders_table"]).success  # loads what the source holds
    assert project.run("shop").success  # nothing new
    assert rows(target_url, "SELECT id FROM orders_copy ORDER BY id") == [(1,), (2,), (3,)]


def test_initial_value_and_a_missing_cursor_column(sqlite_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(sqlite_url, range(1, 6), monkeypatch)
    pipeline(project, "table: orders\nincremental: {cursor: id, initial_value: 3}", APPEND_TARGET)
    assert project.run("shop").success
    assert rows(target_url, "SELECT id FROM orders_copy ORDER BY id") == [(4,), (5,)]

    pipeline(project, "query: SELECT id AS order_id FROM orders\nincremental: {cursor: id}", APPEND_TARGET, name="other")
    run = project.run("other")
    assert not run.success
    assert "incremental.cursor: the result has no column 'id' (it has order_id)" in run.failures()[0]


def test_partition_placeholders_select_the_partitions_rows(pg_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    orders_at(pg_url, range(1, 6), monkeypatch)  # ordered_on 2024-03-02 .. 2024-03-06
    query = "query: SELECT id, ordered_on FROM orders WHERE ordered_on >= {partition_start} AND ordered_on < '{partition_end}'"
    pipeline(project, query, APPEND_TARGET)
    path = project.configs / "shop.yaml"
    path.write_text(path.read_text() + "partitions: {type: daily, start: '2024-03-01', column: ordered_on}\n")
    run = project.run("shop", partition="2024-03-03")
    assert run.success, run.failures()
    assert rows(target_url, "SELECT id FROM orders_copy") == [(2,)]


def test_state_survives_separate_processes(sqlite_url: str, project: Project, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`etl run` twice, each a new process with the same DAGSTER_HOME."""
    orders_at(sqlite_url, range(1, 4), monkeypatch)
    pipeline(project, "table: orders\nincremental: {cursor: id}", APPEND_TARGET)
    project.home.mkdir(parents=True)
    env = {**os.environ, "DAGSTER_HOME": str(project.home), "ETL_CONFIGS_DIR": str(project.configs)}
    etl = [sys.executable, "-c", "import sys; from etl_assets.cli import main; sys.exit(main())", "run", "shop"]
    first = subprocess.run(etl, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    add_orders(sqlite_url, range(4, 6))
    second = subprocess.run(etl, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert rows(target_url, "SELECT id FROM orders_copy ORDER BY id") == [(i,) for i in range(1, 6)]
    assert [r["id"] for r in project.table("shop", "orders").to_pylist()] == [4, 5]
