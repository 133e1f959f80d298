"""Web forms that become commands.

Field validation mirrors ``allocation.entrypoints.inputs`` (non-empty text of at most 255
characters, positive 32-bit quantities), so a form never builds a command the JSON API
would refuse. The rules themselves stay in the domain: whatever the bus rejects comes
back through ``add_command_error`` and is shown next to the field it is about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from allocation.domain import commands
from allocation.domain.model import (
    DuplicateBatch,
    InvalidQuantity,
    LineConflict,
    UnknownBatch,
)
from allocation.entrypoints.inputs import MAX_TEXT
from allocation.service_layer.handlers import InvalidSku
from orders_read.selectors import orders, stock

MAX_QTY = 2**31 - 1
MAX_LINES = 20


def text_field(label: str, **kwargs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=MAX_TEXT, **kwargs)


def qty_field(label: str = "Quantity", minimum: int = 1, **kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=minimum, max_value=MAX_QTY, **kwargs)


class CommandForm(forms.Form):
    """A form whose valid data is one command, and which can show the bus's refusal."""

    error_fields: ClassVar[dict[type[Exception], str]] = {}

    def command(self) -> commands.Command:
        raise NotImplementedError

    def add_command_error(self, error: Exception) -> None:
        field = next((f for t, f in self.error_fields.items() if isinstance(error, t)), None)
        self.add_error(field, str(error))


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
    error_fields = {DuplicateBatch: "ref", InvalidQuantity: "qty"}

    def command(self) -> commands.CreateBatch:
        data = self.cleaned_data
        return commands.CreateBatch(data["ref"], data["sku"], data["qty"], data["eta"])


class ChangeBatchQuantityForm(CommandForm):
    ref = text_field("Batch reference")
    qty = qty_field("New quantity", minimum=0)
    error_fields = {UnknownBatch: "ref", InvalidQuantity: "qty"}

    def command(self) -> commands.ChangeBatchQuantity:
        return commands.ChangeBatchQuantity(self.cleaned_data["ref"], self.cleaned_data["qty"])


class DeallocateForm(CommandForm):
    orderid = text_field("Order id")
    sku = text_field("SKU")
    error_fields = {InvalidSku: "sku"}

    def command(self) -> commands.Deallocate:
        return commands.Deallocate(self.cleaned_data["orderid"], self.cleaned_data["sku"])


class OrderForm(forms.Form):
    orderid = text_field("Order id")


class LineForm(CommandForm):
    sku = text_field("SKU")
    qty = qty_field()
    error_fields = {InvalidSku: "sku", LineConflict: "qty", InvalidQuantity: "qty"}


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
    LineForm, formset=BaseLineFormSet, extra=3, max_num=MAX_LINES, validate_max=True
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
