"""Input rules, defined once for every entrypoint, and what the bus's refusals are about.

A rule takes an untrusted value and returns it checked, or raises ``BadInput`` whose
message says what the value must be ("must be greater than or equal to 1"). Each
entrypoint only adds the subject and its own kind of error:

- the JSON API and the Redis consumer: the pydantic types below (``Reference``, ``Quantity``,
  ...), whose JSON schema documents the rule in the OpenAPI document, and
  ``describe`` for pydantic's errors ("Field 'qty' must be ...");
- the forms: ``allocation.entrypoints.forms.rule_validator``;
- the management commands: ``allocation.entrypoints.management.bus_command.argument``.

Turning text into a number or a date stays each transport's own (JSON has types, a form
field parses its text box, argparse its argument); the rules then see the same values.
The rules about stock and orders themselves stay in the domain: what the bus refuses
comes back as ``CLIENT_ERRORS``, and ``field_of`` says which command field it is about.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from allocation.domain.model import (
    AllocationError,
    DuplicateBatch,
    InvalidQuantity,
    LineConflict,
    UnknownBatch,
)
from allocation.service_layer.actor import MAX_NAME
from allocation.service_layer.handlers import InvalidSku
from allocation.service_layer.messagebus import TooMuchContention

T = TypeVar("T")

MAX_TEXT = 255
MAX_QTY = 2**31 - 1
"""The largest quantity PostgreSQL's ``integer`` columns hold."""
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadInput(AllocationError):
    """A value that breaks an input rule; the message says what it must be."""


# -- the rules ----------------------------------------------------------------------------


def identifier(value: object) -> str:
    """A reference, SKU or order id: a printable string, trimmed, at most MAX_TEXT long."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput("must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise BadInput(f"must be at most {MAX_TEXT} characters")
    if value != value.strip():
        raise BadInput("must have no outer spaces")
    # Control characters and lone surrogates: no database stores or compares them well.
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise BadInput("must not contain control characters")
    return value


def person(value: object) -> str:
    """Who runs a management command (``--as``): an identifier as long as a user name."""
    checked = identifier(value)
    if len(checked) > MAX_NAME:
        raise BadInput(f"must be at most {MAX_NAME} characters")
    return checked


def order_id(value: object) -> str:
    """An order id: an identifier without "/".

    The order is read back at ``/api/orders/<orderid>``, a single path segment: a "/"
    (or its encoding, which the server decodes before routing) would make it unreadable.
    """
    checked = identifier(value)
    if "/" in checked:
        raise BadInput("must not contain '/'")
    return checked


@dataclass(frozen=True)
class Count:
    """A whole number of units between ``minimum`` and ``MAX_QTY`` (a bool is not one)."""

    minimum: int
    maximum: int = MAX_QTY

    def __call__(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput("must be an integer")
        if value < self.minimum:
            raise BadInput(f"must be greater than or equal to {self.minimum}")
        if value > self.maximum:
            raise BadInput(f"must be less than or equal to {self.maximum}")
        return value


quantity = Count(minimum=1)
"""An order line's quantity, or a new batch's."""
new_quantity = Count(minimum=0)
"""A batch's quantity after a change: 0 empties it."""


def iso_date(value: object) -> date:
    """A date written ``YYYY-MM-DD``, and only so."""
    # fromisoformat alone would also take "20240131" or "2024-W05-3".
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        with suppress(ValueError):  # "2024-02-30"
            return date.fromisoformat(value)
    raise BadInput("must be a date YYYY-MM-DD")


def eta(value: object) -> date | None:
    """When a batch arrives: a date, or None (JSON null) for stock in the warehouse."""
    if value is None:
        return None
    try:
        return iso_date(value)
    except BadInput:
        raise BadInput("must be a date YYYY-MM-DD or null") from None


# -- the same rules as pydantic types (JSON API, Redis consumer) --------------------------


def _pydantic(rule: Callable[[object], T]) -> PlainValidator:
    """The rule as pydantic's only validator, its message kept word for word."""

    def validate(value: object) -> T:
        try:
            return rule(value)
        except BadInput as error:
            raise PydanticCustomError("bad_input", str(error)) from None

    return PlainValidator(validate)


_IDENTIFIER = _pydantic(identifier)


def _text_schema(
    what: str, example: str, pattern: str = r"^\S(.*\S)?$", rules: str = ""
) -> WithJsonSchema:
    """An identifier's schema: ``pattern`` for validators (no outer spaces; control
    characters are only described), ``rules`` in words for what a kind refuses besides."""
    return WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT,
            "pattern": pattern,
            "description": f"{what}: printable, at most {MAX_TEXT} characters, no outer"
            f" spaces{rules}.",
            "examples": [example],
        }
    )


def _count_schema(count: Count) -> WithJsonSchema:
    return WithJsonSchema(
        {"type": "integer", "minimum": count.minimum, "maximum": count.maximum, "examples": [10]}
    )


Reference = Annotated[str, _IDENTIFIER, _text_schema("A batch reference", "batch-001")]
Sku = Annotated[str, _IDENTIFIER, _text_schema("A SKU", "RED-CHAIR")]
OrderId = Annotated[
    str,
    _pydantic(order_id),
    _text_schema("An order id", "order-001", r"^[^\s/]([^/]*[^\s/])?$", ", no '/'"),
]
Quantity = Annotated[int, _pydantic(quantity), _count_schema(quantity)]
NewQuantity = Annotated[int, _pydantic(new_quantity), _count_schema(new_quantity)]
Eta = Annotated[
    date | None,
    _pydantic(eta),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
            "description": "YYYY-MM-DD, or null (or absent) for stock already in the warehouse.",
            "examples": ["2031-01-31", None],
        }
    ),
]


def describe(error: Mapping[str, Any], whole: str, subject: str = "Field") -> str:
    """One of pydantic's errors as a sentence, in the rules' words.

    ``loc`` is the path to the field in ``whole`` (the body, the message): empty when
    ``whole`` itself is not a JSON object.
    """
    if error["type"] == "json_invalid":
        return f"The {whole} is not valid JSON"
    if not error["loc"]:
        return f"The {whole} must be a JSON object"
    field = error["loc"][-1]
    if error["type"] == "missing":
        return f"Missing field '{field}'"
    return f"{subject} '{field}' {error['msg']}"


# -- the bus's refusals -------------------------------------------------------------------

CONFLICTS: tuple[type[Exception], ...] = (LineConflict, TooMuchContention)
"""For the client to retry or reconsider (HTTP 409)."""
CLIENT_ERRORS: tuple[type[Exception], ...] = (AllocationError, TooMuchContention)
"""Every refusal the caller can act on: the ``CONFLICTS``, and the rest (HTTP 400)."""

_FIELDS: dict[type[Exception], str] = {
    DuplicateBatch: "ref",
    UnknownBatch: "ref",
    InvalidQuantity: "qty",
    LineConflict: "qty",
    InvalidSku: "sku",
}


def field_of(error: Exception) -> str | None:
    """The command field a refusal is about (None: the command as a whole)."""
    return next((name for kind, name in _FIELDS.items() if isinstance(error, kind)), None)
