"""What every entrypoint (JSON API, forms, management commands) shares.

Parsing of untrusted input into commands, and the one mapping from errors to the
answer a client gets: a rule or input problem is the client's to fix, a conflict is
for them to retry or reconsider.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from allocation.domain.model import AllocationError, LineConflict
from allocation.service_layer.messagebus import TooMuchContention

MAX_TEXT = 255
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadInput(AllocationError):
    """Input that does not even make a command (missing field, wrong type, ...)."""


CONFLICTS: tuple[type[Exception], ...] = (LineConflict, TooMuchContention)
CLIENT_ERRORS: tuple[type[Exception], ...] = (AllocationError, TooMuchContention)


def text(data: dict[str, Any], name: str) -> str:
    value = _required(data, name)
    if not isinstance(value, str):
        raise BadInput(f"Field '{name}' must be a non-empty string")
    return identifier(value, f"Field '{name}'")


def identifier(value: str, what: str) -> str:
    """A reference, SKU or order id: printable, trimmed, at most MAX_TEXT characters."""
    if not value.strip():
        raise BadInput(f"{what} must be a non-empty string")
    if len(value) > MAX_TEXT or value != value.strip():
        raise BadInput(f"{what} must be at most {MAX_TEXT} characters, no outer spaces")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise BadInput(f"{what} must not contain control characters")
    return value


def quantity(data: dict[str, Any], name: str, minimum: int = 1) -> int:
    value = _required(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"Field '{name}' must be an integer")
    if value < minimum:
        raise BadInput(f"Field '{name}' must be at least {minimum}")
    if value > 2**31 - 1:
        raise BadInput(f"Field '{name}' is too large")
    return value


def optional_date(data: dict[str, Any], name: str) -> date | None:
    value = data.get(name)
    if value is None:
        return None
    problem = BadInput(f"Field '{name}' must be a date YYYY-MM-DD or null")
    # fromisoformat alone would also take "20240131" or "2024-W05-3".
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise problem
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise problem from None


def _required(data: dict[str, Any], name: str) -> Any:
    if name not in data:
        raise BadInput(f"Missing field '{name}'")
    return data[name]
