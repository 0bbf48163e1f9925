"""Turn pydantic errors into messages that say what was expected."""
from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def expected_message(err: ErrorDetails) -> str:
    """A user-facing message for one pydantic error."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "literal_error":
        options = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"{_fmt(value)} is not one of {options}"
    if kind == "union_tag_invalid":
        options = ctx.get("expected_tags", "").replace("'", "")
        return f"type {_fmt(ctx.get('tag'))} is not one of {options}"
    if kind == "union_tag_not_found":
        return f"missing key '{ctx.get('discriminator', 'type').strip(chr(39))}'"
    if kind == "extra_forbidden":
        return f"unknown key {_fmt(err['loc'][-1])}"
    if kind == "missing":
        return f"required key {_fmt(err['loc'][-1])} is missing"
    if kind == "string_pattern_mismatch":
        return f"{_fmt(value)} does not match {ctx.get('pattern')}"
    if kind in ("string_type", "int_type", "int_parsing", "float_type", "float_parsing", "bool_type", "bool_parsing", "list_type", "dict_type", "model_type"):
        wanted = {
            "string_type": "a string",
            "int_type": "an integer",
            "int_parsing": "an integer",
            "float_type": "a number",
            "float_parsing": "a number",
            "bool_type": "true or false",
            "bool_parsing": "true or false",
            "list_type": "a list",
            "dict_type": "a mapping",
            "model_type": "a mapping",
        }[kind]
        return f"expected {wanted}, got {_fmt(value)}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    return err["msg"]
