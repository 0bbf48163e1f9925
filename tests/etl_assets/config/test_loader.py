"""Config files -> models: positions of errors, interpolation, secrets, discovery."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from etl_assets.config import ConfigValidationError, load_all, load_pipeline
from etl_assets.config.models import FileSource, SqlTarget

VALID = """\
pipeline: flights
connections:
  warehouse:
    type: sql
    url: ${WH_URL:-sqlite:///wh.db}
sources:
  - name: raw_flights
    type: file
    path: data/flights.csv
transforms:
  - name: clean
    input: raw_flights
    steps:
      - filter: "dep_delay > 0"
      - join: {with: raw_flights, on: [carrier], how: left}
targets:
  - name: flights_table
    input: clean
    type: sql
    connection: warehouse
    table: flights
    mode: append
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigValidationError) as info:
        load_pipeline(path, env or {})
    return [str(e) for e in info.value.errors]


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_pipeline(write(tmp_path, VALID), {})
    cfg = loaded.config
    assert cfg.pipeline == "flights"
    assert isinstance(cfg.sources[0], FileSource)
    assert isinstance(cfg.targets[0], SqlTarget)
    assert cfg.connections["warehouse"].url == "sqlite:///wh.db"
    assert cfg.upstream_of(cfg.transforms[0]) == ["raw_flights"]
    assert loaded.resolve_path("data/x.csv") == tmp_path / "data/x.csv"
    assert loaded.secrets == frozenset()


def test_join_on_key_is_not_a_yaml_boolean(tmp_path: Path) -> None:
    cfg = load_pipeline(write(tmp_path, VALID), {}).config
    assert cfg.transforms[0].steps[1].join.on == ["carrier"]


def test_contract_example_message_points_at_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("mode: append", "mode: upsert"))
    line = VALID.splitlines().index("    mode: append") + 1
    assert errors_of(path) == [f"{path}:{line}:11: targets[0].mode: 'upsert' is not one of append, replace, merge, dedupe"]


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("    path: data/flights.csv", "    path: data/flights.csv\n    formt: csv")
    text = text.replace("mode: append", "mode: upsert").replace("input: clean", "input: nowhere")
    text = text.replace("      - filter:", "      - bogus: 1\n      - filter:")
    errors = errors_of(write(tmp_path, text))
    joined = "\n".join(errors)
    assert len(errors) == 4, joined
    assert ":10:5: sources[0].formt: unknown key 'formt'" in joined
    assert "transforms[0].steps[0]: a step is a one-key mapping whose key is one of select" in joined
    assert "targets[0].input: 'nowhere' is not a source or transform of this pipeline" in joined
    assert "targets[0].mode: 'upsert' is not one of" in joined


def test_unset_variable_names_variable_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("${WH_URL:-sqlite:///wh.db}", "${WH_URL}"))
    assert errors_of(path) == [f"{path}:5:10: connections.warehouse.url: environment variable WH_URL is not set (use ${{WH_URL:-default}} for a default)"]


def test_values_from_environment_are_secrets_and_kept_out_of_the_raw_config(tmp_path: Path) -> None:
    loaded = load_pipeline(write(tmp_path, VALID), {"WH_URL": "postgresql://u:hunter22@db/x"})
    assert loaded.config.connections["warehouse"].url == "postgresql://u:hunter22@db/x"
    assert "postgresql://u:hunter22@db/x" in loaded.secrets
    assert loaded.raw["connections"]["warehouse"]["url"] == "${WH_URL:-sqlite:///wh.db}"
    assert loaded.redact("cannot connect to postgresql://u:hunter22@db/x") == "cannot connect to ***"


def test_code_version_fingerprint_ignores_secret_values(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    a = load_pipeline(path, {"WH_URL": "postgresql://u:one@db/x"})
    b = load_pipeline(path, {"WH_URL": "postgresql://u:two@db/x"})
    assert a.fingerprint(("connections", "warehouse")) == b.fingerprint(("connections", "warehouse"))
    assert a.fingerprint(("sources", 0)) != a.fingerprint(("targets", 0))


@pytest.mark.parametrize(
    "change, expected",
    [
        (("name: clean", "name: raw_flights"), "transforms[0].name: duplicate name 'raw_flights' (first used at sources[0])"),
        (("pipeline: flights", "pipeline: Flights-1"), "pipeline: 'Flights-1' does not match ^[a-z][a-z0-9_]{0,62}$"),
        (("type: file", "type: ftp"), "sources[0]: type 'ftp' is not one of file, sftp, api, sql"),
        (("connection: warehouse", "connection: nope"), "targets[0].connection: connection 'nope' is not defined (known: warehouse)"),
        (("input: raw_flights", "input: clean"), "transforms[0].input: 'clean' refers to itself"),
        (("on: [carrier]", "on: [carrier], extra: 1"), "transforms[0].steps[1].join.extra: unknown key 'extra'"),
        (("mode: append", "mode: merge"), "targets[0]: mode merge needs primary_key"),
        (("      - filter: \"dep_delay > 0\"", "      - aggregate: {by: [a], metrics: {n: \"total(x)\"}}"),
         "transforms[0].steps[0].aggregate.metrics: 'total(x)' is not fn(column) with fn one of count"),
    ],
)
def test_single_mistakes_have_clear_messages(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    errors = errors_of(write(tmp_path, VALID.replace(*change, 1)))
    assert any(expected in e for e in errors), errors


def test_missing_required_key_points_at_its_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("    table: flights\n", ""))
    (err,) = errors_of(path)
    assert err == f"{path}:17:5: targets[0]: required key 'table' is missing"


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = write(tmp_path, "pipeline: x\nsources: [\n")
    (err,) = errors_of(path)
    assert err.startswith(f"{path}:3:1: invalid YAML")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("pipeline: flights", "pipeline: !!python/object/apply:os.system ['echo hi']"))
    (err,) = errors_of(path)
    assert ":1:11: pipeline: unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system" in err


def test_discovery_skips_underscore_and_dot_files_and_a_broken_file_does_not_stop_others(tmp_path: Path) -> None:
    write(tmp_path, VALID, "flights.yaml")
    write(tmp_path, VALID.replace("pipeline: flights", "pipeline: other"), "other.yml")
    write(tmp_path, "pipeline: [", "broken.yaml")
    write(tmp_path, "not: valid", "_draft.yaml")
    write(tmp_path, "not: valid", ".hidden.yaml")
    pipelines, errors = load_all(tmp_path, {})
    assert sorted(p.config.pipeline for p in pipelines) == ["flights", "other"]
    assert len(errors) == 1 and "broken.yaml" in errors[0].file


def test_two_files_with_the_same_pipeline_name_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    pipelines, errors = load_all(tmp_path, {})
    assert [p.file.name for p in pipelines] == ["a.yaml"]
    assert "pipeline 'flights' is already defined in" in errors[0].message


def test_error_messages_never_show_a_value_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("mode: append", "mode: ${LOAD_MODE}"))
    errors = errors_of(path, {"LOAD_MODE": "upsert-s3cr3t"})
    assert errors == [f"{path}:22:11: targets[0].mode: '***' is not one of append, replace, merge, dedupe"]
