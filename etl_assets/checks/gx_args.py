"""Config-time validation of `expectations` entries against the static GX catalog (no GX import)."""
from __future__ import annotations

import datetime as dt
import difflib
from typing import Any, Mapping

from .gx_catalog import EXPECTATIONS

_KIND_TEXT = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "date": "a date",
    "list": "a list",
    "mapping": "a mapping",
    "null": "null",
}


def _fits(value: Any, kind: Any) -> bool:
    if isinstance(kind, tuple):  # ("literal", options)
        return value in kind[1]
    if kind == "any":
        return True
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "date":
        return isinstance(value, (str, dt.date))
    if kind == "list":
        return isinstance(value, list)
    return kind == "mapping" and isinstance(value, dict)


def _describe(kinds: tuple[Any, ...]) -> str:
    parts = [("one of " + ", ".join(map(str, k[1]))) if isinstance(k, tuple) else _KIND_TEXT.get(k, k) for k in kinds]
    return " or ".join(parts)


def expectation_problems(name: str, kwargs: Mapping[str, Any]) -> list[str]:
    """What is wrong with one `{name: kwargs}` entry; empty when GX would accept it."""
    spec = EXPECTATIONS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, EXPECTATIONS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (see the Great Expectations gallery)"
        return [f"unknown expectation '{name}'{hint}"]
    allowed: dict[str, tuple[Any, ...]] = spec["kwargs"]
    problems = [f"{name}: missing required argument '{k}'" for k in spec["required"] if k not in kwargs]
    for key, value in kwargs.items():
        if key not in allowed:
            problems.append(f"{name}: unknown argument '{key}'; allowed: {', '.join(allowed)}")
        elif not any(_fits(value, kind) for kind in allowed[key]):
            problems.append(f"{name}: '{key}' must be {_describe(allowed[key])}, got {value!r}")
    return problems

