"""Read a YAML file with a safe loader, keeping the position of every value.

`${VAR}` and `${VAR:-default}` are interpolated in string scalars; the values that came
from the environment are collected as secrets.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from .errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Position = tuple[int, int]
PathKey = tuple[Any, ...]


@dataclass
class LoadedYaml:
    """Plain data plus where each path came from."""

    data: Any
    positions: dict[PathKey, Position] = field(default_factory=dict)
    key_positions: dict[PathKey, Position] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    secret_paths: dict[PathKey, str] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    unresolved: set[PathKey] = field(default_factory=set)


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str], list[str], list[str]]:
    """Replace `${VAR}` forms; return (value, secret values, missing vars, env var names used)."""
    secrets: list[str] = []
    missing: list[str] = []
    used: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            secrets.append(env[name])
            used.append(name)
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _VAR.sub(repl, text), secrets, missing, used


def load_yaml(text: str, file: str, env: Mapping[str, str] | None = None) -> LoadedYaml:
    """Parse YAML text into plain data with positions; interpolation errors are collected."""
    env = os.environ if env is None else env
    out = LoadedYaml(data=None)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:  # syntax errors carry a mark
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        out.errors.append(ConfigError(file, line, col, f"invalid YAML: {problem}"))
        return out
    if node is None:
        out.errors.append(ConfigError(file, 1, 1, "the file is empty; expected a pipeline mapping"))
        return out
    out.data = _convert(node, (), out, file, env)
    return out


def _pos(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")}


def _convert(node: yaml.Node, path: PathKey, out: LoadedYaml, file: str, env: Mapping[str, str]) -> Any:
    out.positions[path] = _pos(node)
    if node.tag not in _PLAIN_TAGS:
        line, col = _pos(node)
        out.errors.append(ConfigError(file, line, col, f"unsupported YAML tag {node.tag} (only plain data is allowed)", _human(path)))
        out.unresolved.add(path)
        return None
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in result:
                line, col = _pos(key_node)
                out.errors.append(ConfigError(file, line, col, f"duplicate key '{key}'", _human(path)))
            out.key_positions[path + (key,)] = _pos(key_node)
            result[key] = _convert(value_node, path + (key,), out, file, env)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, path + (i,), out, file, env) for i, v in enumerate(node.value)]
    value = _scalar(node)
    if isinstance(value, str) and "${" in value:
        value, secrets, missing, used = interpolate(value, env)
        line, col = _pos(node)
        if missing:
            out.unresolved.add(path)
        for name in missing:
            out.errors.append(
                ConfigError(file, line, col, f"environment variable {name} is not set (use ${{{name}:-default}} for a default)", _human(path))
            )
        out.secrets.update(s for s in secrets if s)
        if used:
            out.secret_paths[path] = node.value
    return value


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `on:` and `yes` stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CONSTRUCTOR = _Loader("")


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "expected a scalar here", node.start_mark)
    return _CONSTRUCTOR.construct_object(node, deep=True)


def _human(path: PathKey) -> str:
    """('targets', 0, 'mode') -> 'targets[0].mode'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


human_path = _human
