"""Each `on_failure` mode through a real Dagster job with real targets (SQLite and PostgreSQL), on
palmerpenguins' penguins.csv (11 rows without sex, 2 without any measurement, 2 over 6000 g)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from etl_assets.definitions import load_definitions
from etl_assets.targets.sql import read_table
from tests.support.pipelines import Project, Run, project  # noqa: F401 - fixture

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]

PIPELINE = """\
pipeline: penguins
connections:
  wh:
    type: sql
    url: ${{WH_URL}}
sources:
  - name: raw_penguins
    type: file
    path: {csv}
    checks:
      on_failure: {mode}
{checks}
transforms:
  - name: heavy
    input: raw_penguins
    steps:
      - filter: "body_mass_g > 4500"
{heavy_checks}targets:
  - name: penguins_table
    input: raw_penguins
    type: sql
    connection: wh
    table: penguins
    mode: append
  - name: heavy_table
    input: heavy
    type: sql
    connection: wh
    table: heavy_penguins
    mode: replace
"""

RULES = """\
      row_count: {min: 100}
      columns:
        sex: {nullable: false, isin: [male, female]}
        body_mass_g: {type: integer, nullable: false, le: 6000}
"""

CLEAN_RULES = """\
      row_count: {min: 100, max: 1000}
      columns:
        species: {nullable: false, isin: [Adelie, Chinstrap, Gentoo]}
"""


@pytest.fixture(params=["sqlite_url", "pg_url"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = request.getfixturevalue(request.param)
    monkeypatch.setenv("WH_URL", url)
    return url


def write(project: Project, csv: Path, mode: str, checks: str = RULES, text: str = PIPELINE, heavy_checks: str = "") -> None:
    project.write("penguins", text.format(csv=csv, mode=mode, checks=checks, heavy_checks=heavy_checks))


def check_results(run: Run) -> dict[str, dg.AssetCheckEvaluation]:
    """`<asset>:<check>` -> the check's evaluation in this run."""
    out = {}
    for event in run.result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            out[f"{evaluation.asset_key.path[-1]}:{evaluation.check_name}"] = evaluation
    return out


def meta(evaluation: dg.AssetCheckEvaluation) -> dict[str, object]:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def expected_reasons(frame: pd.DataFrame) -> dict[int, str]:
    """What pandas says each defective row must carry (row position -> reasons)."""
    out: dict[int, str] = {}
    for i, row in frame.iterrows():
        reasons = []
        if pd.isna(row.sex):
            reasons.append("sex not null (value null)")
        if pd.isna(row.body_mass_g):
            reasons.append("body_mass_g not null (value null)")
        elif row.body_mass_g > 6000:
            reasons.append(f"body_mass_g le 6000 (value {int(row.body_mass_g)})")
        if reasons:
            out[int(i)] = "; ".join(reasons)
    return out


def test_quarantine_moves_exactly_the_defective_rows_with_all_their_reasons(project: Project, penguins_csv: Path, db_url: str) -> None:
    frame = pd.read_csv(penguins_csv)
    expected = expected_reasons(frame)
    assert len(expected) == 13
    anomalies = "    checks:\n      on_failure: quarantine\n      anomalies: [{column: flipper_length_mm, method: zscore, threshold: 2}]\n"
    write(project, penguins_csv, "quarantine", heavy_checks=anomalies)
    run = project.run("penguins")
    assert run.success, run.failures()

    target = read_table(db_url, "penguins")
    everything = read_table(db_url, "penguins_quarantine")
    assert len(target) == 344 - 13 == 331
    assert set(everything.columns) == {"asset", "run_id", "reasons", "row", "quarantined_at"}
    quarantine = everything[everything["asset"] == "penguins/raw_penguins"]
    assert len(quarantine) == 13
    assert set(quarantine["run_id"]) == {run.result.run_id}
    rows = [json.loads(r) for r in quarantine["row"]]
    by_row = {(r["species"], r["island"], r["bill_length_mm"], r["year"], r["sex"], r["body_mass_g"]): reason for r, reason in zip(rows, quarantine["reasons"])}
    for i, reason in expected.items():
        original = frame.loc[i]
        key = tuple(None if pd.isna(v) else v for v in (original.species, original.island, original.bill_length_mm, original.year, original.sex, original.body_mass_g))
        assert by_row[key] == reason
    both = [r for r in quarantine["reasons"] if r == "sex not null (value null); body_mass_g not null (value null)"]
    assert len(both) == 2
    assert target["sex"].notna().all() and (target["body_mass_g"] <= 6000).all()
    assert str(target["body_mass_g"].dtype) == "Int64"

    source = run.metadata("penguins", "raw_penguins")
    assert (source["rows_in"], source["dagster/row_count"], source["rows_quarantined"]) == (344, 331, 13)
    assert source["rows_in"] == source["dagster/row_count"] + source["rows_quarantined"]
    assert "penguins_quarantine" in source["quarantine"]
    heavy_in = frame.drop(index=list(expected)).query("body_mass_g > 4500")
    z = (heavy_in.flipper_length_mm - heavy_in.flipper_length_mm.mean()).abs() / heavy_in.flipper_length_mm.std(ddof=0)
    outliers = everything[everything["asset"] == "penguins/heavy"]
    assert len(outliers) == int((z > 2).sum()) > 0
    assert all(r.startswith("flipper_length_mm zscore > 2 (value ") for r in outliers["reasons"])
    assert len(read_table(db_url, "heavy_penguins")) == len(heavy_in) - len(outliers)
    assert check_results(run)["heavy:anomalies"].severity == dg.AssetCheckSeverity.WARN

    results = check_results(run)
    columns, row_count = results["raw_penguins:columns"], results["raw_penguins:row_count"]
    assert (columns.passed, columns.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert row_count.passed
    m = meta(columns)
    assert (m["failing_rows"], m["quarantined_rows"], m["passed_share"]) == (13, 13, round(331 / 344, 6))
    sample = str(m["sample"]).splitlines()
    assert [c.strip() for c in sample[0].split("|")[1:4]] == ["row", "failed", "species"]
    assert len(sample) == 2 + 10 and "sex not null (value null)" in m["sample"]


def test_quarantine_still_fails_the_run_on_a_table_level_failure(project: Project, penguins_csv: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_URL", sqlite_url)
    write(project, penguins_csv, "quarantine", RULES.replace("row_count: {min: 100}", "row_count: {max: 300}"))
    run = project.run("penguins")
    assert not run.success
    assert "blocking asset check failed" in "\n".join(run.failures())
    results = check_results(run)
    assert (results["raw_penguins:row_count"].passed, results["raw_penguins:row_count"].severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert meta(results["raw_penguins:row_count"])["table_failures"] == "- 331 rows, more than the maximum 300"
    assert run.materialized() == {"raw_penguins"}
    assert not (project.configs / "quarantine").exists()
    with pytest.raises(Exception, match="does not exist"):
        read_table(sqlite_url, "penguins_quarantine")


def test_fail_blocks_downstream_and_leaves_the_preloaded_target_untouched(project: Project, penguins_csv: Path, db_url: str) -> None:
    write(project, penguins_csv, "fail", CLEAN_RULES)
    first = project.run("penguins")
    assert first.success, first.failures()
    assert check_results(first)["raw_penguins:columns"].passed
    before = read_table(db_url, "penguins")
    assert len(before) == 344

    write(project, penguins_csv, "fail")
    run = project.run("penguins")
    assert not run.success
    assert run.materialized() == {"raw_penguins"}
    failure = "\n".join(run.failures())
    assert "blocking asset check failed with ERROR severity" in failure and "penguins/raw_penguins: columns" in failure
    columns = check_results(run)["raw_penguins:columns"]
    assert (columns.passed, columns.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert meta(columns)["failing_rows"] == 13
    pd.testing.assert_frame_equal(read_table(db_url, "penguins"), before)
    assert len(read_table(db_url, "heavy_penguins")) == len(pd.read_csv(penguins_csv).query("body_mass_g > 4500"))


def test_warn_reports_a_warning_and_lets_every_row_flow_on(project: Project, penguins_csv: Path, db_url: str) -> None:
    write(project, penguins_csv, "warn")
    run = project.run("penguins")
    assert run.success, run.failures()
    columns = check_results(run)["raw_penguins:columns"]
    assert (columns.passed, columns.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert meta(columns)["failing_rows"] == 13
    assert len(read_table(db_url, "penguins")) == 344
    assert {"penguins_table", "heavy_table"} <= run.materialized()


EXPECTATIONS = """\
      expectations:
        - expect_column_values_to_be_between: {{column: flipper_length_mm, min_value: {low}, max_value: 235}}
        - expect_column_values_to_not_be_null: {{column: sex}}
        - expect_table_row_count_to_be_between: {{min_value: 300}}
"""


def test_gx_expectations_pass_and_fail_through_the_job(project: Project, penguins_csv: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_URL", sqlite_url)
    frame = pd.read_csv(penguins_csv)
    write(project, penguins_csv, "fail", EXPECTATIONS.format(low=170).replace("        - expect_column_values_to_not_be_null: {column: sex}\n", ""))
    run = project.run("penguins")
    assert run.success, run.failures()
    assert check_results(run)["raw_penguins:expectations"].passed

    write(project, penguins_csv, "quarantine", EXPECTATIONS.format(low=180))
    run = project.run("penguins")
    assert run.success, run.failures()
    defective = frame.sex.isna() | (frame.flipper_length_mm < 180)
    quarantine = read_table(sqlite_url, "penguins_quarantine")
    assert len(quarantine) == int(defective.sum())
    assert len(read_table(sqlite_url, "penguins")) == 344 + int((~defective).sum())  # appended to the first run's rows
    low = quarantine[quarantine.reasons.str.contains("min_value=180")]
    assert len(low) == int((frame.flipper_length_mm < 180).sum())
    assert all(r.startswith("expect_column_values_to_be_between(column=flipper_length_mm, min_value=180, max_value=235) (value 1") for r in low.reasons)
    expectation = meta(check_results(run)["raw_penguins:expectations"])
    assert expectation["failing_rows"] == int(defective.sum())


FILE_ONLY = """\
pipeline: penguins
sources:
  - name: raw_penguins
    type: file
    path: {csv}
transforms:
  - name: measured
    input: raw_penguins
    steps:
      - select: [species, island, sex, body_mass_g]
    checks:
      on_failure: {mode}
{checks}
targets:
  - name: export
    input: measured
    type: file
    path: ../out/measured.csv
"""


def test_without_a_sql_connection_quarantine_goes_to_jsonl_beside_the_config(project: Project, penguins_csv: Path) -> None:
    write(project, penguins_csv, "quarantine", RULES, FILE_ONLY)
    run = project.run("penguins")
    assert run.success, run.failures()
    path = project.configs / "quarantine" / "penguins" / "measured" / f"{run.result.run_id}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 13
    assert {r["asset"] for r in records} == {"penguins/measured"}
    assert set(json.loads(records[0]["row"])) == {"species", "island", "sex", "body_mass_g"}
    assert len(pd.read_csv(project.root / "out" / "measured.csv")) == 331


def test_strict_filter_drops_unexpected_columns_before_the_load(project: Project, penguins_csv: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_URL", sqlite_url)
    write(project, penguins_csv, "fail", "      strict: filter\n      columns: {species: {}, island: {}, body_mass_g: {}, year: {type: integer}}\n")
    run = project.run("penguins")
    assert run.success, run.failures()
    assert list(read_table(sqlite_url, "penguins").columns) == ["species", "island", "body_mass_g", "year"]


def test_definitions_show_each_check_block_on_its_asset(project: Project, penguins_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_URL", "sqlite:///unused.db")
    write(project, penguins_csv, "quarantine", RULES + "      anomalies: [{column: flipper_length_mm, method: iqr}]\n")
    defs = load_definitions(project.configs)
    graph = defs.get_repository_def().asset_graph
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {("penguins/raw_penguins", "row_count"), ("penguins/raw_penguins", "columns"), ("penguins/raw_penguins", "anomalies")}
    specs = {s.name: s for s in defs.resolve_assets_def(dg.AssetKey(["penguins", "raw_penguins"])).check_specs}
    assert all(s.blocking for s in specs.values())
    assert specs["columns"].description == "pandera rules on sex, body_mass_g (on failure: quarantine)"
    assert "penguins__wh" in defs.resolve_assets_def(dg.AssetKey(["penguins", "raw_penguins"])).required_resource_keys

    write(project, penguins_csv, "warn", CLEAN_RULES)
    specs = {s.name: s for s in load_definitions(project.configs).resolve_assets_def(dg.AssetKey(["penguins", "raw_penguins"])).check_specs}
    assert sorted(specs) == ["columns", "row_count"] and not any(s.blocking for s in specs.values())


def test_dagster_job_execute_exits_non_zero_on_a_blocking_failure(project: Project, penguins_csv: Path, sqlite_url: str) -> None:
    home = project.root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(ETL_CONFIGS_DIR=str(project.configs), ETL_DATA_DIR=str(project.data), DAGSTER_HOME=str(home), WH_URL=sqlite_url)

    def execute() -> subprocess.CompletedProcess[str]:
        cmd = [str(BIN / "dagster"), "job", "execute", "-m", "etl_assets", "-j", "penguins"]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    write(project, penguins_csv, "fail")
    failed = execute()
    assert failed.returncode != 0, failed.stdout[-2000:]
    assert "blocking asset check failed" in failed.stdout + failed.stderr
    with pytest.raises(Exception, match="does not exist"):
        read_table(sqlite_url, "penguins")

    write(project, penguins_csv, "fail", CLEAN_RULES)
    passed = execute()
    assert passed.returncode == 0, (passed.stdout + passed.stderr)[-3000:]
    assert len(read_table(sqlite_url, "penguins")) == 344
