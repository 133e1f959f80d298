"""Web forms for the commands. They write only through the message bus.

Viewing a form and posting it need the command's permission: anonymous users are sent
to log in, logged-in users without it get a 403. A success redirects to the page that
shows the result; that page waits for the read model to catch up with the write
(``allocation.entrypoints.read_views``), so the user sees what they just did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from allocation.bootstrap import bootstrap, write_positions
from allocation.entrypoints import actors, inputs, outcomes
from allocation.entrypoints.forms import (
    AddBatchForm,
    ChangeBatchQuantityForm,
    CommandForm,
    DeallocateForm,
    PlaceOrderForm,
    SkuInput,
)
from allocation.service_layer.handlers import PreviewOutdated
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
                result = bootstrap().handle(form.command(), actors.of_request(request))
            except inputs.CLIENT_ERRORS as error:
                form.add_command_error(error)
            else:
                return redirect(succeeded(form, result))
    else:
        form = form_class(initial=initial_from_query(request, form_class.base_fields))
    context = {"form": form, "title": title} | sku_suggestions(form)
    return render(request, FORM_TEMPLATE, context)


def sku_suggestions(form: forms.Form) -> dict[str, Any]:
    """The known SKUs for the form's SKU boxes (``SkuInput``), as the page's context
    (``templates/includes/sku_datalist.html``); nothing for a form without one."""
    if any(isinstance(field.widget, SkuInput) for field in form.fields.values()):
        return {"sku_suggestions": stock.sku_suggestions()}
    return {}


@needs("allocation.create_batch")
def add_batch(request: HttpRequest) -> HttpResponse:
    def succeeded(form: AddBatchForm, result: None) -> str:
        data = form.cleaned_data
        messages.success(request, f"Batch {data['ref']} added: {data['qty']} x {data['sku']}.")
        return reverse("sku-detail", args=[data["sku"]])

    return command_page(request, AddBatchForm, "Add a batch", succeeded)


@needs("allocation.change_batch_quantity")
def change_batch_quantity(request: HttpRequest) -> HttpResponse:
    """Two steps: the numbers, then what the change would do (the bus's preview) with a
    Confirm button. The confirmation carries the preview's fingerprint: a change that
    would now do something else is not made, and its new preview is shown instead."""
    context: dict[str, Any] = {"title": "Change a batch's quantity"}
    if request.method == "POST":
        form = ChangeBatchQuantityForm(request.POST)
        if form.is_valid():
            bus = bootstrap()
            try:
                if form.confirmed():
                    change = bus.handle(form.command(), actors.of_request(request))
                    messages.success(request, outcomes.quantity_changed(change))
                    return redirect("sku-detail", change.sku)
                context["preview"] = bus.preview(form.command())
            except PreviewOutdated as error:
                context |= {"preview": error.change, "outdated": str(error)}
            except inputs.CLIENT_ERRORS as error:
                form.add_command_error(error)
    else:
        form = ChangeBatchQuantityForm(initial=initial_from_query(request, ["ref", "qty"]))
        if request.GET.get("ref"):
            context["current"] = stock.batch(request.GET["ref"], write_positions())
    return render(request, "allocation/change_quantity.html", context | {"form": form})


@needs("allocation.deallocate_line")
def deallocate(request: HttpRequest) -> HttpResponse:
    """Two steps: which line (this form, or an order page's Cancel line link), then the
    question naming it and what its freed units would do (the bus's preview), whose
    button cancels it. A GET never cancels anything."""
    context: dict[str, Any] = {"title": "Cancel an order line"}
    if request.method == "POST" or {"orderid", "sku"} <= set(request.GET):
        form = DeallocateForm(request.POST if request.method == "POST" else request.GET)
    else:
        form = DeallocateForm(initial=initial_from_query(request, ["orderid", "sku"]))
    if form.is_bound and form.is_valid():
        bus = bootstrap()
        try:
            if request.method == "POST" and form.cleaned_data["confirmed"]:
                cancelled = bus.handle(form.command(), actors.of_request(request))
                messages.success(request, outcomes.line_cancelled(cancelled))
                return redirect("order-detail", cancelled.line.orderid)
            context["preview"] = bus.preview(form.command())
        except inputs.CLIENT_ERRORS as error:
            form.add_command_error(error)
    if "preview" not in context:  # the form, whose SKU box suggests the known SKUs
        context |= sku_suggestions(form)
    return render(request, "allocation/cancel_line.html", context | {"form": form})


@needs("allocation.allocate_line")
def place_order(request: HttpRequest) -> HttpResponse:
    """One ``Allocate`` per line once every line passed the checks; see
    ``PlaceOrderForm`` for why that is safe enough."""
    if request.method != "POST":
        form = PlaceOrderForm(initial=initial_from_query(request, ["orderid"]))
    elif (form := PlaceOrderForm(request.POST)).is_valid():
        bus, actor = bootstrap(), actors.of_request(request)
        placed: dict[str, str | None] = {}
        for line_form, command in form.commands():
            try:
                placed[command.sku] = bus.handle(command, actor)
            except inputs.CLIENT_ERRORS as error:
                line_form.add_command_error(error)
        if form.lines.is_valid():
            messages.success(request, form.placed(placed))
            return redirect("order-detail", form.order.cleaned_data["orderid"])
        form.partly_placed(placed)
    context = {"form": form, "title": "Place an order", "sku_suggestions": stock.sku_suggestions()}
    return render(request, "allocation/place_order.html", context)
