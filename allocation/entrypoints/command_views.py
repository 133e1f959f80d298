"""Web forms for the commands. They write only through the message bus.

Viewing a form and posting it need the command's permission: anonymous users are sent
to log in, logged-in users without it get a 403. A success redirects to the page that
shows the result; that page waits for the read model to catch up with the write
(``allocation.entrypoints.read_views``), so the user sees what they just did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from allocation.bootstrap import bootstrap, write_positions
from allocation.entrypoints import inputs
from allocation.entrypoints.forms import (
    AddBatchForm,
    ChangeBatchQuantityForm,
    CommandForm,
    DeallocateForm,
    PlaceOrderForm,
    SkuInput,
)
from orders_read.selectors import stock

F = TypeVar("F", bound=CommandForm)
View = Callable[..., HttpResponse]
FORM_TEMPLATE = "allocation/command_form.html"


def needs(permission: str) -> Callable[[View], View]:
    """Anonymous users go to the login page; users without the permission get a 403."""

    def decorate(view: View) -> View:
        checked = permission_required(permission, raise_exception=True)(view)
        return login_required(require_http_methods(["GET", "POST"])(checked))

    return decorate


def initial_from_query(request: HttpRequest, names: Iterable[str]) -> dict[str, str]:
    """Links from other pages prefill a form (``?ref=B1``); nothing is sent on GET."""
    return {name: request.GET[name] for name in names if name in request.GET}


def command_page(
    request: HttpRequest,
    form_class: type[F],
    title: str,
    succeeded: Callable[[F, Any], str],
) -> HttpResponse:
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                result = bootstrap().handle(form.command())
            except inputs.CLIENT_ERRORS as error:
                form.add_command_error(error)
            else:
                return redirect(succeeded(form, result))
    else:
        form = form_class(initial=initial_from_query(request, form_class.base_fields))
    context: dict[str, Any] = {"form": form, "title": title}
    if any(isinstance(field.widget, SkuInput) for field in form.fields.values()):
        context["sku_suggestions"] = stock.sku_suggestions()
    return render(request, FORM_TEMPLATE, context)


@needs("allocation.create_batch")
def add_batch(request: HttpRequest) -> HttpResponse:
    def succeeded(form: AddBatchForm, result: None) -> str:
        data = form.cleaned_data
        messages.success(request, f"Batch {data['ref']} added: {data['qty']} x {data['sku']}.")
        return reverse("sku-detail", args=[data["sku"]])

    return command_page(request, AddBatchForm, "Add a batch", succeeded)


@needs("allocation.change_batch_quantity")
def change_batch_quantity(request: HttpRequest) -> HttpResponse:
    def succeeded(form: ChangeBatchQuantityForm, result: None) -> str:
        ref, qty = form.cleaned_data["ref"], form.cleaned_data["qty"]
        messages.success(request, f"Batch {ref} now holds {qty} units.")
        sku = stock.sku_of_batch(ref, write_positions())
        if sku is None:
            messages.info(request, "The change is still being processed: refresh in a moment.")
            return reverse("stock")
        return reverse("sku-detail", args=[sku])

    return command_page(request, ChangeBatchQuantityForm, "Change a batch's quantity", succeeded)


@needs("allocation.deallocate_line")
def deallocate(request: HttpRequest) -> HttpResponse:
    def succeeded(form: DeallocateForm, result: None) -> str:
        orderid, sku = form.cleaned_data["orderid"], form.cleaned_data["sku"]
        messages.success(request, f"The {sku} line of order {orderid} was cancelled.")
        return reverse("order-detail", args=[orderid])

    return command_page(request, DeallocateForm, "Cancel an order line", succeeded)


@needs("allocation.allocate_line")
def place_order(request: HttpRequest) -> HttpResponse:
    """One ``Allocate`` per line once every line passed the checks; see
    ``PlaceOrderForm`` for why that is safe enough."""
    if request.method != "POST":
        form = PlaceOrderForm(initial=initial_from_query(request, ["orderid"]))
    elif (form := PlaceOrderForm(request.POST)).is_valid():
        bus = bootstrap()
        placed: dict[str, str | None] = {}
        for line_form, command in form.commands():
            try:
                placed[command.sku] = bus.handle(command)
            except inputs.CLIENT_ERRORS as error:
                line_form.add_command_error(error)
        if form.lines.is_valid():
            messages.success(request, form.placed(placed))
            return redirect("order-detail", form.order.cleaned_data["orderid"])
        form.partly_placed(placed)
    context = {"form": form, "title": "Place an order", "sku_suggestions": stock.sku_suggestions()}
    return render(request, "allocation/place_order.html", context)
