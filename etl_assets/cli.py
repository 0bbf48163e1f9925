"""The `etl` command: validate, list and run pipelines."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from .config import ConfigValidationError, configs_dir, discover, load_all, load_pipeline
from .gateway.commands import add_gateway_commands


def cmd_validate(paths: Sequence[str]) -> int:
    """Print every error as file:line:col: message; 0 when all files are valid."""
    files: list[Path] = []
    for p in paths or [str(configs_dir())]:
        path = Path(p)
        files.extend(discover(path) if path.is_dir() else [path])
    if not files:
        print(f"no config files found in {', '.join(paths) or configs_dir()}", file=sys.stderr)
        return 1
    failed = 0
    for file in files:
        try:
            loaded = load_pipeline(file)
        except ConfigValidationError as exc:
            failed += 1
            for err in exc.errors:
                print(err)
            continue
        print(f"{file}: ok (pipeline {loaded.config.pipeline})")
    print(f"{len(files) - failed} valid, {failed} invalid", file=sys.stderr)
    return 1 if failed else 0


def cmd_list() -> int:
    """Each pipeline with its assets."""
    pipelines, errors = load_all()
    for loaded in pipelines:
        cfg = loaded.config
        print(f"{cfg.pipeline}  ({loaded.file.name})")
        for section in ("sources", "transforms", "targets"):
            for item in getattr(cfg, section):
                kind = f"{section[:-1]}: {item.type}" if hasattr(item, "type") else "transform"
                reads = cfg.upstream_of(item)
                arrow = f" <- {', '.join(reads)}" if reads else ""
                print(f"  {cfg.pipeline}/{item.name}  [{kind}]{arrow}")
    for err in errors:
        print(err, file=sys.stderr)
    return 1 if errors else 0


def cmd_run(pipeline: str, select: Sequence[str], partition: str | None, exits_after: bool = False) -> int:
    """Run a pipeline (or some of its assets) in this process and print a summary per asset."""
    from .head_start import begin

    configs = load_all()  # read once: the head start and the definitions share them
    head = begin(pipeline, select, partition, configs[0])  # before Dagster is imported: see `head_start`
    from .run import run_pipeline

    ensure_local_dagster_home()
    return run_pipeline(pipeline, select, partition, exits_after=exits_after, run_id=head.run_id if head else None, configs=configs)


LOCAL_INSTANCE_YAML = """\
# Local Dagster instance (written by etl / scripts/dev): SQLite storage in this folder.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
telemetry:
  enabled: false
"""


def ensure_local_dagster_home() -> Path:
    """Without DAGSTER_HOME, keep Dagster's storage (SQLite) in ./.dagster_home; returns DAGSTER_HOME."""
    if not os.environ.get("DAGSTER_HOME"):
        home = Path(".dagster_home").absolute()
        home.mkdir(exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists() or not config.read_text().strip():
            config.write_text(LOCAL_INSTANCE_YAML)
        os.environ["DAGSTER_HOME"] = str(home)
    return Path(os.environ["DAGSTER_HOME"])


def main(argv: Sequence[str] | None = None, exits_after: bool = False) -> int:
    """The `etl` command; `exits_after`: this process ends with the command (see `console`)."""
    parser = argparse.ArgumentParser(prog="etl", description="YAML-configured ETL pipelines on Dagster")
    sub = parser.add_subparsers(dest="command", required=True)
    p_validate = sub.add_parser("validate", help="check config files (default: the configs directory)")
    p_validate.add_argument("paths", nargs="*")
    sub.add_parser("list", help="print each pipeline with its assets")
    p_run = sub.add_parser("run", help="run a pipeline through Dagster in this process")
    p_run.add_argument("pipeline")
    p_run.add_argument("--select", nargs="+", default=[], metavar="ASSET", help="asset names (or <pipeline>/<asset>)")
    p_run.add_argument("--partition", help="partition key, for partitioned pipelines")
    add_gateway_commands(sub)
    args = parser.parse_args(argv)
    if hasattr(args, "handler"):  # serve, user add|list|remove
        return args.handler(args)
    started = time.monotonic()
    if args.command == "validate":
        return cmd_validate(args.paths)
    if args.command == "list":
        return cmd_list()
    code = cmd_run(args.pipeline, args.select, args.partition, exits_after)
    print(f"finished in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return code


if __name__ == "__main__":
    from .console import main as console

    console()
