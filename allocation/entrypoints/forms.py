"""Web forms that become commands.

Their fields apply the input rules of ``allocation.entrypoints.inputs``, the JSON API's
own, with the same words, so a form never builds a command the API would refuse. Django
still parses the text boxes (a whole number, a date) and strips outer spaces, as a person
expects. The rules about stock and orders stay in the domain: whatever the bus refuses
comes back through ``show_command_error``, next to the field it is about (the admin's
forms use it too).

Before sending, Add batch and Place order check their input against what exists (the
read model, and the write side's positions for what it has not projected yet), so that
every problem shows in one answer, and they ask before what is easily done by mistake
(``Confirmation``): a SKU nobody has seen (a typo would become a new SKU), lines added to
an order that already exists. The admin's add batch form checks the same way, with the
same code (``check_new_batch``). The bus stays the judge: a refusal it still makes (a
race) shows as before. Change quantity and Cancel line ask differently, on a page of
their own that shows what the change would do (the bus's preview) before it is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst

from allocation.bootstrap import write_positions
from allocation.domain import commands
from allocation.entrypoints import inputs
from orders_read.selectors import orders, stock

MAX_LINES = 20
SKU_LIST = "known-skus"
"""The id of the page's list of known SKUs (``templates/includes/sku_datalist.html``)."""
NEW_SKU = "new_sku"
ADD_TO_ORDER = "add_to_order"
"""The names of the confirmation boxes."""


def rule_validator(rule: Callable[[Any], object]) -> Callable[[Any], None]:
    """An input rule as a field validator: "Must be greater than or equal to 1."."""

    def validate(value: Any) -> None:
        try:
            rule(value)
        except inputs.BadInput as error:
            # Not "invalid": a field replaces the message of a code it knows by its own.
            raise ValidationError(f"{capfirst(str(error))}.", code="input_rule") from None

    return validate


class SkuInput(forms.TextInput):
    """A SKU box: it suggests the known SKUs of the page's list (``SKU_LIST``), which the
    script narrows as one types; without the script, the list the page came with."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # autocomplete off: the browser's own memory of typed values would bury the list.
        known = {"list": SKU_LIST, "autocomplete": "off", "maxlength": inputs.MAX_TEXT}
        super().__init__(known | (attrs or {}))


def text_field(
    label: str,
    rule: Callable[[object], str] = inputs.identifier,
    widget: forms.Widget | None = None,
) -> forms.CharField:
    """A reference (``inputs.identifier``), or an order id (``inputs.order_id``)."""
    return forms.CharField(
        label=label,
        validators=[rule_validator(rule)],
        widget=widget or forms.TextInput(attrs={"maxlength": inputs.MAX_TEXT}),
    )


def sku_field(label: str = "SKU") -> forms.CharField:
    """A SKU (``inputs.identifier``), in a box that suggests the known ones."""
    return text_field(label, widget=SkuInput())


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


@dataclass(frozen=True)
class Confirmation:
    """A question a form asks before doing what is easily done by mistake, and the
    checkbox that answers it (``templates/includes/confirmation.html``).

    The box sends back the value it confirms, so a tick given for one SKU or order id
    never confirms another typed in its place. ``after`` is the field the question is
    about: the box follows it, and its error asks the question until the box is ticked.
    """

    name: str
    value: str
    label: str
    after: str
    given: bool

    @classmethod
    def ask(
        cls, data: Mapping[str, Any], name: str, value: str, label: str, after: str
    ) -> Confirmation:
        return cls(name, value, label, after, given=data.get(name) == value)


def did_you_mean(similar: list[str]) -> str:
    """The words "did you mean A or B?", for the known SKUs that look like one typed."""
    return f"did you mean {' or '.join(similar)}?"


class CommandForm(forms.Form):
    """A form whose valid data is one command, and which can show the bus's refusal."""

    confirmation: Confirmation | None = None

    def command(self) -> commands.Command:
        raise NotImplementedError

    def add_command_error(self, error: Exception) -> None:
        show_command_error(self, error)


class BatchForm(CommandForm):
    """A batch by the input rules (the CSV import checks its rows with them too)."""

    ref = text_field("Batch reference")
    sku = sku_field()
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


def check_new_batch(
    form: forms.BaseForm, ref: str = "ref", sku: str = "sku"
) -> Confirmation | None:
    """A new batch against what exists, before its command is sent: a reference already
    taken is said with the other problems, and a SKU nobody has seen needs its box
    ticked ("Create new SKU X"), its field's error asking until it is.

    One check for Add batch and the admin's add form (``ref`` and ``sku`` name the
    form's fields), so that both ask the same question. Returns the question asked about
    a new SKU, ticked or not; None for a known SKU (or none yet).
    """
    data = form.cleaned_data
    reference, new = data.get(ref), data.get(sku)
    if reference and stock.existing_batches([reference]):
        form.add_error(ref, f"Batch {reference} already exists")
    if not new or stock.known_skus([new], write_positions()):
        return None
    label = f"Create new SKU {new}"
    confirmation = Confirmation.ask(form.data, NEW_SKU, new, label, after=sku)
    if not confirmation.given:
        similar = stock.similar_skus([new]).get(new)
        spelling = f"the spelling ({did_you_mean(similar)})" if similar else "the spelling"
        form.add_error(sku, f"SKU {new} is new: check {spelling}, or tick '{label}' below.")
    return confirmation


class AddBatchForm(BatchForm):
    """Add batch: checked against what exists before it is sent (``check_new_batch``)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.confirmation = check_new_batch(self)
        return data


class ChangeBatchQuantityForm(CommandForm):
    """Sent twice: for a preview, then (from the preview's Confirm button) with the
    preview's fingerprint, so that the change made is the one shown."""

    ref = text_field("Batch reference")
    qty = qty_field("New quantity", inputs.new_quantity)
    previewed = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def confirmed(self) -> bool:
        return bool(self.cleaned_data["previewed"])

    def command(self) -> commands.ChangeBatchQuantity:
        data = self.cleaned_data
        return commands.ChangeBatchQuantity(data["ref"], data["qty"], data["previewed"] or None)


class DeallocateForm(CommandForm):
    """Sent twice: for the question naming the line, then with ``confirmed``."""

    orderid = text_field("Order id", inputs.order_id)
    sku = sku_field()
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def command(self) -> commands.Deallocate:
        return commands.Deallocate(self.cleaned_data["orderid"], self.cleaned_data["sku"])


class OrderForm(forms.Form):
    orderid = text_field("Order id", inputs.order_id)


class LineForm(CommandForm):
    sku = sku_field()
    qty = qty_field()


if TYPE_CHECKING:
    LineFormSetBase = forms.BaseFormSet[LineForm]
else:
    LineFormSetBase = forms.BaseFormSet  # not subscriptable at runtime


class BaseLineFormSet(LineFormSetBase):
    """The lines together: at least one, and one per SKU (a repeated SKU is marked on
    the later line). Checked whatever else is wrong, so every problem shows at once."""

    def clean(self) -> None:
        if not any(form.has_changed() for form in self.forms):
            raise ValidationError("An order needs at least one line.")
        first_line: dict[str, int] = {}
        for number, form in enumerate(self.forms, start=1):
            sku = form.cleaned_data.get("sku")
            if sku is None:
                continue
            if sku in first_line:
                form.add_error(
                    "sku", f"{sku} is on line {first_line[sku]} already: one line per SKU."
                )
            first_line.setdefault(sku, number)


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
    What can fail is therefore checked before anything is sent, all of it in one pass
    (each line by the input rules, a SKU twice, an unknown SKU, a line the order already
    has with another quantity), and lines added to an order that exists need the box
    "Add these lines to order X" ticked. If the bus still refuses a line (a race), the
    other lines are placed all the same and the form says which were (``partly_placed``);
    sending it again is safe, because an identical line is never placed twice.
    """

    def __init__(self, data: Any = None, initial: dict[str, Any] | None = None) -> None:
        self.order = OrderForm(data, initial=initial)
        self.lines = LineFormSet(data, prefix="lines")
        self.confirmation: Confirmation | None = None
        self.existing: dict[str, int] | None = None
        """The order's lines before this form's (None: a new order), once checked."""

    def is_valid(self) -> bool:
        self.order.is_valid()
        self.lines.is_valid()
        filled = [f for f in self.lines.forms if f.cleaned_data.get("sku")]
        skus = [f.cleaned_data["sku"] for f in filled]
        writes = write_positions()
        known = stock.known_skus(skus, writes)
        similar = stock.similar_skus(set(skus) - known)
        orderid = self.order.cleaned_data.get("orderid")
        self.existing = orders.order_lines(orderid, writes) if orderid else None
        existing = self.existing or {}
        for form, sku in zip(filled, skus, strict=True):
            qty = form.cleaned_data.get("qty")
            if sku not in known:
                look_alikes = similar.get(sku)
                hint = f": {did_you_mean(look_alikes)}" if look_alikes else ""
                form.add_error("sku", f"Invalid sku {sku}{hint}")
            elif qty is not None and existing.get(sku, qty) != qty:
                form.add_error(
                    "qty", f"The order already has {existing[sku]} of {sku}; cannot change it"
                )
        if orderid and self.existing is not None and set(skus) - set(existing):
            self._ask_to_add_to(orderid, self.existing)
        return self.order.is_valid() and self.lines.is_valid()

    def _ask_to_add_to(self, orderid: str, existing: dict[str, int]) -> None:
        self.confirmation = self._adding_to(orderid)
        if not self.confirmation.given:
            count = len(existing)
            has = f"{count} line{'s' if count != 1 else ''}" if count else "every line cancelled"
            self.order.add_error(
                "orderid",
                f"Order {orderid} already exists ({has}): add these lines to it? Tick"
                f" '{self.confirmation.label}' below.",
            )

    def _adding_to(self, orderid: str) -> Confirmation:
        label = f"Add these lines to order {orderid}"
        return Confirmation.ask(self.order.data, ADD_TO_ORDER, orderid, label, after="orderid")

    def commands(self) -> list[tuple[LineForm, commands.Allocate]]:
        orderid = self.order.cleaned_data["orderid"]
        return [
            (f, commands.Allocate(orderid, f.cleaned_data["sku"], f.cleaned_data["qty"]))
            for f in self.lines.forms
            if f.cleaned_data
        ]

    def placed(self, batchrefs: Mapping[str, str | None]) -> str:
        """What the lines sent became, ``{sku: batchref}`` (None: waiting), in words."""
        orderid = self.order.cleaned_data["orderid"]
        if self.existing is None:
            return f"Order {orderid} placed: {_lines(batchrefs)}."
        added = {sku: ref for sku, ref in batchrefs.items() if sku not in self.existing}
        if not added:
            return f"Order {orderid} already had these lines: nothing changed."
        return f"Added to order {orderid}: {_lines(added)}."

    def partly_placed(self, batchrefs: Mapping[str, str | None]) -> None:
        """The bus refused some lines (marked on them) after the checks: say what was
        placed, and have the form ready to be sent again (the order now exists, by the
        user's own doing: its box comes ticked)."""
        if not batchrefs:
            return
        orderid = self.order.cleaned_data["orderid"]
        self.order.add_error(
            None,
            f"Only some lines were placed: {_lines(batchrefs)}. The marked lines were not:"
            " correct them and send the order again (placed lines are not placed twice).",
        )
        self.confirmation = replace(self._adding_to(orderid), given=True)


def _lines(batchrefs: Mapping[str, str | None]) -> str:
    return ", ".join(
        f"{sku} → {ref}" if ref else f"{sku} waiting" for sku, ref in batchrefs.items()
    )
