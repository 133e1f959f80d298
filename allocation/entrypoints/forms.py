"""Web forms that become commands.

Their fields apply the input rules of ``allocation.entrypoints.inputs``, the JSON API's
own, with the same words, so a form never builds a command the API would refuse. Django
still parses the text boxes (a whole number, a date) and strips outer spaces, as a person
expects. The rules about stock and orders stay in the domain: whatever the bus refuses
comes back through ``show_command_error``, next to the field it is about (the admin's
forms use it too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst

from allocation.domain import commands
from allocation.entrypoints import inputs
from orders_read.selectors import orders, stock

MAX_LINES = 20


def rule_validator(rule: Callable[[Any], object]) -> Callable[[Any], None]:
    """An input rule as a field validator: "Must be greater than or equal to 1."."""

    def validate(value: Any) -> None:
        try:
            rule(value)
        except inputs.BadInput as error:
            # Not "invalid": a field replaces the message of a code it knows by its own.
            raise ValidationError(f"{capfirst(str(error))}.", code="input_rule") from None

    return validate


def text_field(label: str, rule: Callable[[object], str] = inputs.identifier) -> forms.CharField:
    """A reference or SKU (``inputs.identifier``), or an order id (``inputs.order_id``)."""
    return forms.CharField(
        label=label,
        validators=[rule_validator(rule)],
        widget=forms.TextInput(attrs={"maxlength": inputs.MAX_TEXT}),
    )


def qty_field(label: str = "Quantity", rule: inputs.Count = inputs.quantity) -> forms.IntegerField:
    """A quantity (``inputs.quantity``, or ``inputs.new_quantity`` for a change)."""
    return forms.IntegerField(
        label=label,
        validators=[rule_validator(rule)],
        widget=forms.NumberInput(attrs={"min": rule.minimum, "max": rule.maximum}),
    )


def show_command_error(
    form: forms.BaseForm, error: Exception, names: Mapping[str, str] | None = None
) -> None:
    """The bus's refusal next to the field it is about (``inputs.field_of``).

    ``names`` renames command fields to the form's, where they differ (the admin's forms
    have the model's names); a refusal about a field the form lacks is the form's own.
    """
    field = inputs.field_of(error)
    if field is not None and names:
        field = names.get(field, field)
    form.add_error(field if field in form.fields else None, str(error))


class CommandForm(forms.Form):
    """A form whose valid data is one command, and which can show the bus's refusal."""

    def command(self) -> commands.Command:
        raise NotImplementedError

    def add_command_error(self, error: Exception) -> None:
        show_command_error(self, error)


class AddBatchForm(CommandForm):
    ref = text_field("Batch reference")
    sku = text_field("SKU")
    qty = qty_field()
    eta = forms.DateField(
        label="ETA",
        required=False,
        help_text="Leave empty for stock already in the warehouse.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def command(self) -> commands.CreateBatch:
        data = self.cleaned_data
        return commands.CreateBatch(data["ref"], data["sku"], data["qty"], data["eta"])


class ChangeBatchQuantityForm(CommandForm):
    ref = text_field("Batch reference")
    qty = qty_field("New quantity", inputs.new_quantity)

    def command(self) -> commands.ChangeBatchQuantity:
        return commands.ChangeBatchQuantity(self.cleaned_data["ref"], self.cleaned_data["qty"])


class DeallocateForm(CommandForm):
    orderid = text_field("Order id", inputs.order_id)
    sku = text_field("SKU")

    def command(self) -> commands.Deallocate:
        return commands.Deallocate(self.cleaned_data["orderid"], self.cleaned_data["sku"])


class OrderForm(forms.Form):
    orderid = text_field("Order id", inputs.order_id)


class LineForm(CommandForm):
    sku = text_field("SKU")
    qty = qty_field()


if TYPE_CHECKING:
    LineFormSetBase = forms.BaseFormSet[LineForm]
else:
    LineFormSetBase = forms.BaseFormSet  # not subscriptable at runtime


class BaseLineFormSet(LineFormSetBase):
    def clean(self) -> None:
        if any(self.errors):
            return
        skus = [f.cleaned_data["sku"] for f in self.forms if f.cleaned_data]
        if not skus:
            raise ValidationError("An order needs at least one line.")
        if len(set(skus)) < len(skus):
            raise ValidationError("Each SKU may appear only once in an order.")


LineFormSet = forms.formset_factory(
    LineForm,
    formset=BaseLineFormSet,
    extra=3,
    max_num=MAX_LINES,
    validate_max=True,
    absolute_max=MAX_LINES,  # no more forms built than allowed, whatever TOTAL_FORMS says
)


class PlaceOrderForm:
    """An order id and its lines: one ``Allocate`` command per line.

    Each SKU is its own aggregate, so the lines cannot be placed in one transaction.
    What can fail is therefore checked against the read model before anything is sent
    (unknown SKU, a line the order already has with another quantity); if the bus still
    refuses a line (a race), the lines before it stay placed, and sending the same form
    again is safe because an identical line is never placed twice.
    """

    def __init__(self, data: Any = None, initial: dict[str, Any] | None = None) -> None:
        self.order = OrderForm(data, initial=initial)
        self.lines = LineFormSet(data, prefix="lines")

    def is_valid(self) -> bool:
        order_valid = self.order.is_valid()
        if not (self.lines.is_valid() and order_valid):
            return False
        filled = [f for f in self.lines.forms if f.cleaned_data]
        known = stock.known_skus(f.cleaned_data["sku"] for f in filled)
        existing = orders.line_quantities(self.order.cleaned_data["orderid"])
        for form in filled:
            sku, qty = form.cleaned_data["sku"], form.cleaned_data["qty"]
            if sku not in known:
                form.add_error("sku", f"Invalid sku {sku}")
            elif existing.get(sku, qty) != qty:
                form.add_error(
                    "qty", f"The order already has {existing[sku]} of {sku}; cannot change it"
                )
        return all(form.is_valid() for form in filled)

    def partly_placed(self, placed: list[str]) -> None:
        if placed:
            self.order.add_error(
                None,
                f"These lines were placed before the error: {', '.join(placed)}."
                " Sending the order again will not place them twice.",
            )

    def commands(self) -> list[tuple[LineForm, commands.Allocate]]:
        orderid = self.order.cleaned_data["orderid"]
        return [
            (f, commands.Allocate(orderid, f.cleaned_data["sku"], f.cleaned_data["qty"]))
            for f in self.lines.forms
            if f.cleaned_data
        ]
