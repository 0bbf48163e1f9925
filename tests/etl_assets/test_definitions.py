"""The factory: generated asset keys, dependencies, groups, jobs and code versions of the demo configs."""
from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from etl_assets.definitions import load_definitions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A copy of the demo configs (and their data) that a test may edit."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path / "configs"


def graph(defs: dg.Definitions) -> dict[str, list[str]]:
    """asset key -> sorted upstream keys, as user strings."""
    return {n.key.to_user_string(): sorted(k.to_user_string() for k in n.parent_keys) for n in nodes(defs)}


def nodes(defs: dg.Definitions) -> list:
    return list(defs.get_repository_def().asset_graph.asset_nodes)


def code_versions(defs: dg.Definitions) -> dict[str, str | None]:
    return {n.key.to_user_string(): n.code_version for n in nodes(defs)}


def test_demo_configs_generate_the_expected_assets_and_lineage(configs: Path) -> None:
    defs = load_definitions(configs)
    assert graph(defs) == {
        "flights/raw_flights": [],
        "flights/airlines": [],
        "flights/delayed_flights": ["flights/airlines", "flights/raw_flights"],
        "flights/carrier_delays": ["flights/delayed_flights"],
        "flights/delayed_flights_table": ["flights/delayed_flights"],
        "flights/carrier_delays_table": ["flights/carrier_delays"],
        "flights/carrier_delays_export": ["flights/carrier_delays"],
        "penguins/raw_penguins": [],
        "penguins/measured_penguins": ["penguins/raw_penguins"],
        "penguins/species_summary": ["penguins/measured_penguins"],
        "penguins/penguins_table": ["penguins/measured_penguins"],
        "penguins/species_summary_table": ["penguins/species_summary"],
    }


def test_groups_and_jobs_are_named_after_the_pipeline(configs: Path) -> None:
    defs = load_definitions(configs)
    groups = {n.key.to_user_string(): n.group_name for n in nodes(defs)}
    assert {g for k, g in groups.items() if k.startswith("flights/")} == {"flights"}
    assert {g for k, g in groups.items() if k.startswith("penguins/")} == {"penguins"}
    job = defs.resolve_job_def("flights")
    assert sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys) == sorted(
        k for k in groups if k.startswith("flights/")
    )
    assert defs.resolve_job_def("penguins").name == "penguins"


def test_every_asset_has_a_code_version_and_they_differ(configs: Path) -> None:
    versions = code_versions(load_definitions(configs))
    assert all(versions.values())
    assert len(set(versions.values())) == len(versions)


def test_editing_one_transform_changes_exactly_its_code_version(configs: Path) -> None:
    before = code_versions(load_definitions(configs))
    path = configs / "flights.yaml"
    path.write_text(path.read_text().replace('filter: "dep_delay > 0"', 'filter: "dep_delay > 5"'))
    after = code_versions(load_definitions(configs))
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["flights/delayed_flights"]


def test_editing_a_connection_changes_the_targets_that_use_it(configs: Path) -> None:
    before = code_versions(load_definitions(configs))
    path = configs / "penguins.yaml"
    path.write_text(path.read_text().replace("sqlite:///../warehouse.db", "sqlite:///../other.db"))
    after = code_versions(load_definitions(configs))
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["penguins/penguins_table", "penguins/species_summary_table"]


def test_a_broken_config_does_not_take_the_others_down(configs: Path) -> None:
    (configs / "broken.yaml").write_text("pipeline: broken\nsources: []\ntargets: [\n")
    defs = load_definitions(configs)
    keys = set(graph(defs))
    assert "flights/raw_flights" in keys and "penguins/raw_penguins" in keys
    assert "etl_config_errors/broken" in keys
    spec = defs.get_repository_def().asset_graph.get(dg.AssetKey(["etl_config_errors", "broken"]))
    assert "broken.yaml:4:1: invalid YAML" in (spec.description or "")


def test_demo_checks_show_as_asset_checks_on_their_asset(configs: Path) -> None:
    graph_ = load_definitions(configs).get_repository_def().asset_graph
    checks = sorted((k.asset_key.to_user_string(), k.name) for k in graph_.asset_check_keys)
    assert checks == [("penguins/measured_penguins", "columns"), ("penguins/measured_penguins", "row_count")]


def test_loading_the_definitions_does_not_import_pandas(configs: Path) -> None:
    """Code servers, sensors and `etl validate` load every pipeline: pandas (~0.5 s) is imported
    only by the steps and checks that use it, when they run."""
    import os
    import subprocess
    import sys

    code = "import sys, etl_assets; etl_assets.defs.resolve_all_job_defs(); print(sorted(m for m in ('pandas', 'pandera', 'great_expectations') if m in sys.modules))"
    env = {**os.environ, "ETL_CONFIGS_DIR": str(configs)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
