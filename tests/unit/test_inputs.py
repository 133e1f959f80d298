"""The input rules every entrypoint shares (allocation.entrypoints.inputs), each
entrypoint's form of them, and serialising events."""

import argparse
import json
from datetime import date

import pytest
from django import forms
from pydantic import BaseModel, ValidationError

from allocation.domain import events
from allocation.domain.model import (
    AllocationError,
    DuplicateBatch,
    InvalidQuantity,
    LineConflict,
    UnknownBatch,
    UnknownLine,
)
from allocation.entrypoints import inputs
from allocation.entrypoints.forms import OrderForm, qty_field, text_field
from allocation.entrypoints.inputs import (
    CLIENT_ERRORS,
    CONFLICTS,
    MAX_QTY,
    MAX_TEXT,
    BadInput,
    Eta,
    NewQuantity,
    Quantity,
    Sku,
    describe,
    eta,
    field_of,
    identifier,
    iso_date,
    new_quantity,
    order_id,
    quantity,
)
from allocation.entrypoints.management.bus_command import argument
from allocation.service_layer.handlers import InvalidSku
from allocation.service_layer.messagebus import TooMuchContention

# -- identifier -----------------------------------------------------------------------------


def test_identifier_returns_the_value():
    assert identifier("RED-CHAIR") == "RED-CHAIR"


def test_identifier_accepts_inner_spaces_and_unicode():
    assert identifier("batch 1 · été") == "batch 1 · été"


@pytest.mark.parametrize("value", [None, 42, 4.2, True, ["a"], {"a": 1}])
def test_identifier_wrong_type(value):
    with pytest.raises(BadInput, match=r"^must be a non-empty string$"):
        identifier(value)


@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_identifier_must_not_be_empty(value):
    with pytest.raises(BadInput, match=r"^must be a non-empty string$"):
        identifier(value)


def test_identifier_at_the_maximum_length_is_accepted():
    assert identifier("x" * MAX_TEXT) == "x" * MAX_TEXT


def test_identifier_too_long():
    assert MAX_TEXT == 255
    with pytest.raises(BadInput, match=r"^must be at most 255 characters$"):
        identifier("x" * (MAX_TEXT + 1))


@pytest.mark.parametrize("value", [" RED-CHAIR", "RED-CHAIR ", " RED-CHAIR ", "RED-CHAIR\n"])
def test_identifier_outer_spaces(value):
    with pytest.raises(BadInput, match=r"^must have no outer spaces$"):
        identifier(value)


@pytest.mark.parametrize("value", ["a\x00b", "a\x01b", "a\nb", "a\x7fb", "a\x85b", "a\ud800b"])
def test_identifier_control_characters_and_lone_surrogates(value):
    with pytest.raises(BadInput, match=r"^must not contain control characters$"):
        identifier(value)


# -- order id -------------------------------------------------------------------------------


def test_an_order_id_is_an_identifier():
    assert order_id("order 1 · été") == "order 1 · été"
    with pytest.raises(BadInput, match=r"^must have no outer spaces$"):
        order_id(" o1")


@pytest.mark.parametrize("value", ["a/b", "/", "o1/"])
def test_an_order_id_has_no_slash(value):
    """It must read back as one path segment: /api/orders/<orderid>."""
    with pytest.raises(BadInput, match=r"^must not contain '/'$"):
        order_id(value)


# -- quantities -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 10, 2**31 - 1])
def test_quantity_returns_the_value(value):
    assert quantity(value) == value


@pytest.mark.parametrize(
    "value",
    [True, False, 1.0, 2.5, "3", None, [1], {"qty": 1}],
    ids=["true", "false", "float-integral", "float", "string", "null", "list", "dict"],
)
def test_quantity_wrong_type(value):
    with pytest.raises(BadInput, match=r"^must be an integer$"):
        quantity(value)


@pytest.mark.parametrize("value", [0, -1, -(2**40)])
def test_quantity_below_one(value):
    with pytest.raises(BadInput, match=r"^must be greater than or equal to 1$"):
        quantity(value)


def test_new_quantity_may_be_zero():
    assert new_quantity(0) == 0
    with pytest.raises(BadInput, match=r"^must be greater than or equal to 0$"):
        new_quantity(-1)


@pytest.mark.parametrize("rule", [quantity, new_quantity])
def test_quantity_too_large(rule):
    assert MAX_QTY == 2**31 - 1
    assert rule(MAX_QTY) == MAX_QTY
    with pytest.raises(BadInput, match=r"^must be less than or equal to 2147483647$"):
        rule(MAX_QTY + 1)


# -- eta ------------------------------------------------------------------------------------


def test_eta_parses_yyyy_mm_dd():
    assert eta("2024-01-31") == date(2024, 1, 31)
    assert eta("2024-02-29") == date(2024, 2, 29)


def test_eta_none_is_the_warehouse():
    assert eta(None) is None


@pytest.mark.parametrize(
    "value",
    ["", "tomorrow", "31/01/2024", "2024-1-31", "2024-02-30", "2023-02-29", "2024-13-01"],
)
def test_eta_rejects_malformed_strings(value):
    with pytest.raises(BadInput, match=r"^must be a date YYYY-MM-DD or null$"):
        eta(value)


@pytest.mark.parametrize("value", [20240131, 2024.0, True, ["2024-01-31"], {"y": 2024}])
def test_eta_rejects_other_types(value):
    with pytest.raises(BadInput, match=r"^must be a date YYYY-MM-DD or null$"):
        eta(value)


@pytest.mark.parametrize(
    "value",
    ["20240131", "2024-W05-3", "2024-1-31", "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0663\u0661"],
)
def test_eta_rejects_other_iso_forms(value):
    with pytest.raises(BadInput):
        eta(value)


def test_eta_error_does_not_chain_the_value_error():
    with pytest.raises(BadInput) as caught:
        eta("2024-02-30")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_date_alone_is_never_null():
    assert iso_date("2024-01-31") == date(2024, 1, 31)
    for value in (None, "2024-02-30", "20240131"):
        with pytest.raises(BadInput, match=r"^must be a date YYYY-MM-DD$"):
            iso_date(value)


# -- the rules as pydantic types (JSON API, Redis consumer) ---------------------------------


class Line(BaseModel):
    sku: Sku
    qty: Quantity
    new: NewQuantity = 0
    eta: Eta = None


def problem(data: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Line.model_validate(data)
    return describe(caught.value.errors()[0], "body")


def test_the_types_keep_valid_values():
    line = Line.model_validate({"sku": "LAMP", "qty": 2, "new": 0, "eta": "2031-01-02"})
    assert (line.sku, line.qty, line.new, line.eta) == ("LAMP", 2, 0, date(2031, 1, 2))
    assert Line.model_validate({"sku": "LAMP", "qty": 2}).eta is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"qty": 1}, "Missing field 'sku'"),
        ({"sku": 42, "qty": 1}, "Field 'sku' must be a non-empty string"),
        ({"sku": "x" * 256, "qty": 1}, "Field 'sku' must be at most 255 characters"),
        ({"sku": " LAMP", "qty": 1}, "Field 'sku' must have no outer spaces"),
        ({"sku": "LAMP", "qty": "3"}, "Field 'qty' must be an integer"),
        ({"sku": "LAMP", "qty": True}, "Field 'qty' must be an integer"),
        ({"sku": "LAMP", "qty": 0}, "Field 'qty' must be greater than or equal to 1"),
        ({"sku": "LAMP", "qty": 2**31}, "Field 'qty' must be less than or equal to 2147483647"),
        ({"sku": "LAMP", "qty": 1, "new": -1}, "Field 'new' must be greater than or equal to 0"),
        ({"sku": "LAMP", "qty": 1, "eta": "soon"}, "Field 'eta' must be a date YYYY-MM-DD or null"),
        ([1, 2], "The body must be a JSON object"),
        ("LAMP", "The body must be a JSON object"),
    ],
)
def test_the_types_say_what_the_rules_say(data, message):
    assert problem(data) == message


def test_the_first_problem_is_described():
    assert problem({"sku": "", "qty": 0}) == "Field 'sku' must be a non-empty string"


def test_json_that_does_not_parse_is_described():
    with pytest.raises(ValidationError) as caught:
        Line.model_validate_json(b"{not json")
    assert describe(caught.value.errors()[0], "message") == "The message is not valid JSON"


def test_a_parameter_is_described_as_such():
    error = {"type": "bad_input", "loc": ("orderid",), "msg": "must have no outer spaces"}
    assert describe(error, "path", subject="Parameter") == (
        "Parameter 'orderid' must have no outer spaces"
    )


def test_the_types_document_the_rules_in_json_schema():
    properties = Line.model_json_schema()["properties"]
    assert (properties["sku"]["minLength"], properties["sku"]["maxLength"]) == (1, MAX_TEXT)
    assert (properties["qty"]["minimum"], properties["qty"]["maximum"]) == (1, MAX_QTY)
    assert properties["new"]["minimum"] == 0
    assert {"type": "null"} in properties["eta"]["anyOf"]


# -- the rules in forms and management commands ---------------------------------------------


class LineForm(forms.Form):
    sku = text_field("SKU")
    qty = qty_field()
    new = qty_field("New", inputs.new_quantity)


def form_errors(**data: object) -> dict[str, list[str]]:
    form = LineForm({"sku": "LAMP", "qty": 1, "new": 0, **data})
    form.is_valid()
    return {field: [str(error) for error in errors] for field, errors in form.errors.items()}


def test_form_fields_say_what_the_rules_say():
    assert form_errors() == {}
    assert form_errors(sku="x" * 256) == {"sku": ["Must be at most 255 characters."]}
    assert form_errors(sku="a\x01b") == {"sku": ["Must not contain control characters."]}
    assert form_errors(qty=0) == {"qty": ["Must be greater than or equal to 1."]}
    assert form_errors(qty=2**31) == {"qty": ["Must be less than or equal to 2147483647."]}
    assert form_errors(new=-1) == {"new": ["Must be greater than or equal to 0."]}


def test_form_fields_parse_and_trim_text_boxes_as_django_does():
    assert form_errors(qty="many") == {"qty": ["Enter a whole number."]}
    assert form_errors(sku="   ") == {"sku": ["This field is required."]}
    form = LineForm({"sku": " LAMP ", "qty": "2", "new": "0"})
    assert form.is_valid()
    assert form.cleaned_data == {"sku": "LAMP", "qty": 2, "new": 0}


def test_the_order_form_refuses_a_slash_in_the_order_id():
    form = OrderForm({"orderid": "a/b"})
    assert not form.is_valid()
    assert form.errors["orderid"] == ["Must not contain '/'."]


def test_form_widgets_carry_the_rules_bounds():
    html = str(LineForm()["qty"]) + str(LineForm()["sku"])
    assert 'min="1"' in html
    assert f'max="{MAX_QTY}"' in html
    assert f'maxlength="{MAX_TEXT}"' in html


def test_command_arguments_apply_the_rules():
    assert argument(quantity, int)("5") == 5
    assert argument(identifier)("LAMP") == "LAMP"
    assert argument(iso_date)("2031-01-02") == date(2031, 1, 2)
    for convert, text, message in [
        (argument(quantity, int), "0", "must be greater than or equal to 1"),
        (argument(quantity, int), "ten", "must be an integer"),
        (argument(new_quantity, int), "-3", "must be greater than or equal to 0"),
        (argument(identifier), " padded", "must have no outer spaces"),
        (argument(order_id), "a/b", "must not contain '/'"),
        (argument(iso_date), "20310102", "must be a date YYYY-MM-DD"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{message}$"):
            convert(text)


# -- the bus's refusals ---------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (DuplicateBatch, "ref"),
        (UnknownBatch, "ref"),
        (InvalidQuantity, "qty"),
        (LineConflict, "qty"),
        (InvalidSku, "sku"),
        (UnknownLine, None),
        (TooMuchContention, None),
    ],
)
def test_each_refusal_is_about_one_command_field_or_the_whole_command(error, field):
    assert field_of(error("x")) == field


# -- events to and from dicts ---------------------------------------------------------------

EVERY_EVENT = [
    events.BatchCreated(sku="LAMP", version=1, ref="b1", qty=5, eta=date(2024, 6, 30)),
    events.BatchCreated(sku="LAMP", version=2, ref="b2", qty=5, eta=None),
    events.BatchQuantityChanged(sku="LAMP", version=3, ref="b1", qty=0),
    events.Allocated(sku="LAMP", version=4, orderid="o1", qty=2, batchref="b1", arrival=4),
    events.Deallocated(sku="LAMP", version=5, orderid="o1", qty=2, batchref="b1"),
    events.OutOfStock(sku="LAMP", version=6, orderid="o2", qty=9, arrival=4),
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
        "arrival": 4,
    }


def test_from_dict_restores_dates():
    restored = events.Event.from_dict(
        "BatchCreated", {"sku": "LAMP", "version": 1, "ref": "b1", "qty": 5, "eta": "2024-06-30"}
    )
    assert isinstance(restored, events.BatchCreated)
    assert restored.eta == date(2024, 6, 30)


def test_events_stored_before_they_carried_the_arrival_still_read():
    """Outbox rows and logged events from before the field: the read side falls back."""
    stored = {"sku": "LAMP", "version": 6, "orderid": "o2", "qty": 9}
    assert events.Event.from_dict("OutOfStock", stored) == events.OutOfStock(
        sku="LAMP", version=6, orderid="o2", qty=9, arrival=None
    )
    allocated = events.Event.from_dict("Allocated", {**stored, "batchref": "b1"})
    assert allocated == events.Allocated(
        sku="LAMP", version=6, orderid="o2", qty=9, batchref="b1", arrival=None
    )


def test_from_dict_ignores_unknown_keys():
    data = {**EVERY_EVENT[3].to_dict(), "name": "Allocated", "extra": 1}
    assert events.Event.from_dict("Allocated", data) == EVERY_EVENT[3]


def test_from_dict_of_an_unknown_event_name_fails():
    with pytest.raises(KeyError):
        events.Event.from_dict("Exploded", {"sku": "LAMP", "version": 1})


def test_event_name_is_its_class_name():
    assert [e.name for e in EVERY_EVENT] == [type(e).__name__ for e in EVERY_EVENT]
