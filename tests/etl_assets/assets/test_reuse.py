"""A re-run over unchanged files reuses the stored table (etl_assets/assets/reuse.py); any change
to the files, the config or the stored table makes the source read again."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from etl_assets.checks.profile import Profiler
from etl_assets.targets.sql import read_table
from tests.support.pipelines import Project, Run, file_to_sql, project  # noqa: F401 - fixture

REUSED = "the files have not changed since the last materialization"


def pipeline(csv: Path, url: str, options: str = "", checks: str = "") -> str:
    return file_to_sql("re", csv, url, table="t", mode="replace", source_extra=options + checks)


def reused(run: Run) -> bool:
    return any(REUSED in (m or "") for m in run.logs)


def stored(project: Project) -> Path:
    return project.data / "re" / "raw" / "all.arrow"


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_is(project: Project, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = project.root / "in.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    project.write("re", pipeline(csv, sqlite_url))
    first = project.run("re")
    assert first.success and not reused(first)
    inode = stored(project).stat().st_ino

    profiled: list[int] = []
    with monkeypatch.context() as patch:
        patch.setattr(Profiler, "add", lambda self, table: profiled.append(table.num_rows))
        again = project.run("re")
    assert again.success and reused(again)
    assert profiled == []  # the profile was carried over, not computed again
    assert stored(project).stat().st_ino == inode
    assert again.metadata("re", "raw")["profile"] == first.metadata("re", "raw")["profile"]
    assert again.metadata("re", "raw")["dagster/row_count"] == 2
    assert len(read_table(sqlite_url, "t")) == 2

    csv.write_text("a,b\n1,x\n2,y\n3,z\n")
    changed = project.run("re")
    assert changed.success and not reused(changed)
    assert len(read_table(sqlite_url, "t")) == 3


def test_same_size_and_old_mtime_still_counts_as_changed(project: Project, sqlite_url: str) -> None:
    csv = project.root / "in.csv"
    csv.write_text("a\n1\n")
    project.write("re", pipeline(csv, sqlite_url))
    assert project.run("re").success
    st = csv.stat()
    csv.write_text("a\n7\n")  # same size
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns))  # modification time set back; the change time is not
    run = project.run("re")
    assert run.success and not reused(run)
    assert read_table(sqlite_url, "t")["a"].tolist() == [7]


def test_a_config_change_or_a_touched_stored_table_reads_again(project: Project, sqlite_url: str) -> None:
    csv = project.root / "in.csv"
    csv.write_text("a;b\n1;x\n")
    project.write("re", pipeline(csv, sqlite_url))
    assert project.run("re").success
    project.write("re", pipeline(csv, sqlite_url, options="    options: {delimiter: ';'}\n"))
    run = project.run("re")
    assert run.success and not reused(run)
    assert project.table("re", "raw").column_names == ["a", "b"]
    assert reused(project.run("re"))
    os.utime(stored(project))  # the stored table is not the file that materialization wrote
    assert not reused(project.run("re"))


def test_a_materialization_whose_checks_removed_rows_is_not_reused(project: Project, sqlite_url: str) -> None:
    csv = project.root / "in.csv"
    csv.write_text("a\n1\n-5\n")
    checks = "    checks:\n      on_failure: quarantine\n      columns:\n        a: {ge: 0}\n"
    project.write("re", pipeline(csv, sqlite_url, checks=checks))
    assert project.run("re").success
    run = project.run("re")
    assert run.success and not reused(run)
    assert run.metadata("re", "raw")["rows_quarantined"] == 1
