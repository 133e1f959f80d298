"""Parsing untrusted input (allocation.entrypoints) and serialising events."""

import json
from datetime import date

import pytest

from allocation.domain import events
from allocation.domain.model import AllocationError, LineConflict, UnknownBatch
from allocation.entrypoints.inputs import (
    CLIENT_ERRORS,
    CONFLICTS,
    MAX_TEXT,
    BadInput,
    optional_date,
    quantity,
    text,
)
from allocation.service_layer.handlers import InvalidSku
from allocation.service_layer.messagebus import TooMuchContention

# -- text -----------------------------------------------------------------------------------


def test_text_returns_the_value():
    assert text({"sku": "RED-CHAIR"}, "sku") == "RED-CHAIR"


def test_text_accepts_inner_spaces_and_unicode():
    assert text({"ref": "batch 1 · été"}, "ref") == "batch 1 · été"


def test_text_missing_field():
    with pytest.raises(BadInput, match="Missing field 'sku'"):
        text({"ref": "x"}, "sku")


@pytest.mark.parametrize("value", [None, 42, 4.2, True, ["a"], {"a": 1}])
def test_text_wrong_type(value):
    with pytest.raises(BadInput, match="Field 'sku' must be a non-empty string"):
        text({"sku": value}, "sku")


@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_text_must_not_be_empty(value):
    with pytest.raises(BadInput, match="Field 'sku' must be a non-empty string"):
        text({"sku": value}, "sku")


def test_text_at_the_maximum_length_is_accepted():
    assert text({"sku": "x" * MAX_TEXT}, "sku") == "x" * MAX_TEXT


def test_text_too_long():
    assert MAX_TEXT == 255
    with pytest.raises(BadInput, match="Field 'sku' must be at most 255 characters"):
        text({"sku": "x" * (MAX_TEXT + 1)}, "sku")


@pytest.mark.parametrize("value", [" RED-CHAIR", "RED-CHAIR ", " RED-CHAIR ", "RED-CHAIR\n"])
def test_text_outer_spaces(value):
    with pytest.raises(BadInput, match="no outer spaces"):
        text({"sku": value}, "sku")


# -- quantity -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 10, 2**31 - 1])
def test_quantity_returns_the_value(value):
    assert quantity({"qty": value}, "qty") == value


def test_quantity_missing_field():
    with pytest.raises(BadInput, match="Missing field 'qty'"):
        quantity({}, "qty")


@pytest.mark.parametrize(
    "value",
    [True, False, 1.0, 2.5, "3", None, [1], {"qty": 1}],
    ids=["true", "false", "float-integral", "float", "string", "null", "list", "dict"],
)
def test_quantity_wrong_type(value):
    with pytest.raises(BadInput, match="Field 'qty' must be an integer"):
        quantity({"qty": value}, "qty")


@pytest.mark.parametrize("value", [0, -1, -(2**40)])
def test_quantity_below_the_default_minimum_of_one(value):
    with pytest.raises(BadInput, match="Field 'qty' must be at least 1"):
        quantity({"qty": value}, "qty")


def test_quantity_with_a_minimum_of_zero():
    assert quantity({"qty": 0}, "qty", minimum=0) == 0
    with pytest.raises(BadInput, match="Field 'qty' must be at least 0"):
        quantity({"qty": -1}, "qty", minimum=0)


def test_quantity_too_large():
    with pytest.raises(BadInput, match="Field 'qty' is too large"):
        quantity({"qty": 2**31}, "qty")


# -- optional_date --------------------------------------------------------------------------


def test_optional_date_parses_yyyy_mm_dd():
    assert optional_date({"eta": "2024-01-31"}, "eta") == date(2024, 1, 31)
    assert optional_date({"eta": "2024-02-29"}, "eta") == date(2024, 2, 29)


def test_optional_date_missing_or_null_is_none():
    assert optional_date({}, "eta") is None
    assert optional_date({"eta": None}, "eta") is None


@pytest.mark.parametrize(
    "value",
    ["", "tomorrow", "31/01/2024", "2024-1-31", "2024-02-30", "2023-02-29", "2024-13-01"],
)
def test_optional_date_rejects_malformed_strings(value):
    with pytest.raises(BadInput, match=r"Field 'eta' must be a date YYYY-MM-DD or null"):
        optional_date({"eta": value}, "eta")


@pytest.mark.parametrize("value", [20240131, 2024.0, True, ["2024-01-31"], {"y": 2024}])
def test_optional_date_rejects_other_types(value):
    with pytest.raises(BadInput, match=r"Field 'eta' must be a date YYYY-MM-DD or null"):
        optional_date({"eta": value}, "eta")


@pytest.mark.parametrize(
    "value",
    ["20240131", "2024-W05-3", "2024-1-31", "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0663\u0661"],
)
def test_optional_date_rejects_other_iso_forms(value):
    with pytest.raises(BadInput):
        optional_date({"eta": value}, "eta")


def test_optional_date_error_does_not_chain_the_value_error():
    with pytest.raises(BadInput) as caught:
        optional_date({"eta": "2024-02-30"}, "eta")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# -- error classes --------------------------------------------------------------------------


def test_bad_input_is_a_client_error():
    assert issubclass(BadInput, AllocationError)
    assert isinstance(BadInput("x"), CLIENT_ERRORS)


@pytest.mark.parametrize("error", [InvalidSku, UnknownBatch, LineConflict, TooMuchContention])
def test_rule_violations_and_contention_are_client_errors(error):
    assert isinstance(error("x"), CLIENT_ERRORS)


def test_conflicts_are_line_conflicts_and_contention_only():
    assert isinstance(LineConflict("x"), CONFLICTS)
    assert isinstance(TooMuchContention("x"), CONFLICTS)
    assert not isinstance(InvalidSku("x"), CONFLICTS)
    assert not isinstance(BadInput("x"), CONFLICTS)


# -- events to and from dicts ---------------------------------------------------------------

EVERY_EVENT = [
    events.BatchCreated(sku="LAMP", version=1, ref="b1", qty=5, eta=date(2024, 6, 30)),
    events.BatchCreated(sku="LAMP", version=2, ref="b2", qty=5, eta=None),
    events.BatchQuantityChanged(sku="LAMP", version=3, ref="b1", qty=0),
    events.Allocated(sku="LAMP", version=4, orderid="o1", qty=2, batchref="b1"),
    events.Deallocated(sku="LAMP", version=5, orderid="o1", qty=2, batchref="b1"),
    events.OutOfStock(sku="LAMP", version=6, orderid="o2", qty=9),
    events.BackorderCancelled(sku="LAMP", version=7, orderid="o2", qty=9),
]


def test_every_concrete_event_type_is_covered():
    concrete = {name for name in events.Event.registry if name != "LineEvent"}
    assert concrete == {e.name for e in EVERY_EVENT}


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: f"{e.name}-v{e.version}")
def test_event_round_trips_through_a_dict(event):
    data = event.to_dict()
    restored = events.Event.from_dict(event.name, data)
    assert restored == event
    assert type(restored) is type(event)


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: f"{e.name}-v{e.version}")
def test_event_round_trips_through_json(event):
    wire = json.dumps(event.to_dict())
    assert events.Event.from_dict(event.name, json.loads(wire)) == event


def test_to_dict_holds_every_field_and_dates_as_iso_strings():
    assert EVERY_EVENT[0].to_dict() == {
        "sku": "LAMP",
        "version": 1,
        "ref": "b1",
        "qty": 5,
        "eta": "2024-06-30",
    }
    assert EVERY_EVENT[1].to_dict()["eta"] is None
    assert EVERY_EVENT[3].to_dict() == {
        "sku": "LAMP",
        "version": 4,
        "orderid": "o1",
        "qty": 2,
        "batchref": "b1",
    }


def test_from_dict_restores_dates():
    restored = events.Event.from_dict(
        "BatchCreated", {"sku": "LAMP", "version": 1, "ref": "b1", "qty": 5, "eta": "2024-06-30"}
    )
    assert isinstance(restored, events.BatchCreated)
    assert restored.eta == date(2024, 6, 30)


def test_from_dict_ignores_unknown_keys():
    data = {**EVERY_EVENT[3].to_dict(), "name": "Allocated", "extra": 1}
    assert events.Event.from_dict("Allocated", data) == EVERY_EVENT[3]


def test_from_dict_of_an_unknown_event_name_fails():
    with pytest.raises(KeyError):
        events.Event.from_dict("Exploded", {"sku": "LAMP", "version": 1})


def test_event_name_is_its_class_name():
    assert [e.name for e in EVERY_EVENT] == [type(e).__name__ for e in EVERY_EVENT]
