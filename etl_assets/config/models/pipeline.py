"""The top-level pipeline model and its cross-reference rules."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from .assets import Source, SqlTarget, Target, Transform
from .automation import AlertsConfig, ExecutorConfig, PartitionsConfig, QuarantineConfig, ScheduleConfig, SlaConfig
from .common import Model, Name, RetryConfig
from .connections import Connection
from .steps import JoinStep, UnionStep


class PipelineConfig(Model):
    pipeline: Name
    description: str | None = None
    owners: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    connections: dict[Name, Connection] = Field(default_factory=dict)
    sources: list[Source] = Field(min_length=1)
    transforms: list[Transform] = Field(default_factory=list)
    targets: list[Target] = Field(min_length=1)
    schedule: ScheduleConfig | None = None
    partitions: PartitionsConfig | None = None
    retry: RetryConfig | None = None
    quarantine: QuarantineConfig | None = None
    alerts: AlertsConfig | None = None
    sla: SlaConfig | None = None
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)

    def asset_names(self) -> list[str]:
        return [a.name for a in (*self.sources, *self.transforms, *self.targets)]

    def upstream_of(self, asset: Any) -> list[str]:
        """Names of the assets this one reads, in order (input first)."""
        names: list[str] = []
        if hasattr(asset, "input"):
            names.append(asset.input)
        for step in getattr(asset, "steps", []):
            if isinstance(step, JoinStep):
                names.append(step.join.with_)
            elif isinstance(step, UnionStep):
                names.extend(step.union)
        return list(dict.fromkeys(names))

    def first_sql_connection(self) -> str | None:
        for target in self.targets:
            if isinstance(target, SqlTarget):
                return target.connection
        return None


_CONNECTION_KIND: dict[tuple[str, str], str] = {
    ("sources", "sftp"): "sftp",
    ("sources", "api"): "http",
    ("sources", "sql"): "sql",
    ("targets", "sql"): "sql",
}

YamlPath = tuple[Any, ...]


def _items(data: dict[str, Any], section: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(section)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _reads(item: dict[str, Any], section: str, i: int) -> list[tuple[YamlPath, str]]:
    """(path, name) of every asset an item reads: its input, joins and unions."""
    refs: list[tuple[YamlPath, str]] = []
    if isinstance(item.get("input"), str):
        refs.append(((section, i, "input"), item["input"]))
    steps = item.get("steps")
    for j, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict):
            continue
        join = step.get("join")
        if isinstance(join, dict) and isinstance(join.get("with"), str):
            refs.append(((section, i, "steps", j, "join", "with"), join["with"]))
        union = step.get("union")
        if isinstance(union, list):
            refs.extend(((section, i, "steps", j, "union", k), n) for k, n in enumerate(union) if isinstance(n, str))
    return refs


def reference_errors(data: Any) -> list[tuple[YamlPath, str]]:
    """Cross-item problems in raw config data: duplicate names, dangling references, cycles.

    Works on the raw mapping so these are reported together with schema errors.
    """
    if not isinstance(data, dict):
        return []
    errors: list[tuple[YamlPath, str]] = []
    seen: dict[str, YamlPath] = {}
    sections = ("sources", "transforms", "targets")
    names: dict[str, set[str]] = {s: set() for s in sections}
    for section in sections:
        for i, item in _items(data, section):
            name = item.get("name")
            if not isinstance(name, str):
                continue
            names[section].add(name)
            if name in seen:
                first = seen[name]
                errors.append(((section, i, "name"), f"duplicate name '{name}' (first used at {first[0]}[{first[1]}])"))
            else:
                seen[name] = (section, i)
    readable = names["sources"] | names["transforms"]
    graph: dict[str, list[str]] = {}
    for section in sections[1:]:
        for i, item in _items(data, section):
            refs = _reads(item, section, i)
            if section == "transforms" and isinstance(item.get("name"), str):
                graph[item["name"]] = [r for _, r in refs]
            for path, ref in refs:
                if ref == item.get("name"):
                    errors.append((path, f"'{ref}' refers to itself"))
                elif ref in names["targets"] and ref not in readable:
                    errors.append((path, f"'{ref}' is a target; only sources and transforms can be read"))
                elif ref not in readable:
                    known = ", ".join(sorted(readable)) or "none"
                    errors.append((path, f"'{ref}' is not a source or transform of this pipeline (known: {known})"))
    connections = data.get("connections") if isinstance(data.get("connections"), dict) else {}
    for section in ("sources", "targets"):
        for i, item in _items(data, section):
            wanted = _CONNECTION_KIND.get((section, item.get("type")))
            name = item.get("connection")
            if wanted is None or not isinstance(name, str):
                continue
            conn = connections.get(name)
            if not isinstance(conn, dict):
                known = ", ".join(sorted(connections)) or "none defined"
                errors.append(((section, i, "connection"), f"connection '{name}' is not defined (known: {known})"))
            elif conn.get("type") != wanted:
                errors.append(((section, i, "connection"), f"connection '{name}' is of type {conn.get('type')}, expected {wanted}"))
    quarantine = data.get("quarantine")
    if isinstance(quarantine, dict) and isinstance(quarantine.get("connection"), str):
        conn = connections.get(quarantine["connection"])
        if not isinstance(conn, dict) or conn.get("type") != "sql":
            errors.append((("quarantine", "connection"), f"connection '{quarantine['connection']}' is not a defined sql connection"))
    errors.extend(_cycle_errors(graph, data))
    return errors


def _cycle_errors(graph: dict[str, list[str]], data: dict[str, Any]) -> list[tuple[YamlPath, str]]:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if state.get(node) == 1:
            return trail[trail.index(node):] + [node]
        if state.get(node) == 2 or node not in graph:
            return None
        state[node] = 1
        for up in graph[node]:
            if up != node and (found := visit(up, trail + [node])):
                return found
        state[node] = 2
        return None

    for i, item in _items(data, "transforms"):
        name = item.get("name")
        if isinstance(name, str) and (cycle := visit(name, [])):
            return [(("transforms", i, "input"), "transforms form a cycle: " + " -> ".join(cycle))]
    return []
