"""The one place that knows how to hide secrets."""
from __future__ import annotations

from typing import Iterable

MASK = "***"
MIN_SECRET_LENGTH = 3


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (longest first) in text with ***; very short values are left alone."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
