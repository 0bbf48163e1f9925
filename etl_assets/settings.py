"""Numeric settings read from the environment once, at import."""
from __future__ import annotations

import os


def int_setting(name: str, default: int, what: str) -> int:
    """$`name` as an int (`default` when unset); any other text stops with an error naming it."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be {what}, not {value!r}") from None
