"""The JSON API under /api, on django-ninja: the book's contract (README, "Interfaces").

One ``NinjaAPI``: the commands here, the reads in ``allocation.entrypoints.read_api``.
Each command and each answer has its schema, from which django-ninja validates the body
(with the input rules of ``allocation.entrypoints.inputs``) and writes the OpenAPI
document (/api/openapi.json, browsable at /api/docs). Errors: ``api_errors``.

Paths, statuses and bodies are the book's, byte for byte: ``POST /api/allocate`` answers
202 ``{"status", "batchref"}`` also when the line has to wait for stock, and 400
``{"message": "Invalid sku X"}`` for an unknown SKU.

With ``API_REQUIRE_TOKEN`` (production) a command needs ``Authorization: Bearer <token>``
of a user holding the command's permission, and with ``API_READS_REQUIRE_AUTH`` a read
a token or a session allowed to view orders (``api_auth``). CSRF does not apply
(django-ninja exempts its views): token clients and the book's clients post without it,
as they always did.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Literal

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Status
from ninja.openapi.views import openapi_json
from pydantic import BaseModel, Field

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints import api_errors, read_api
from allocation.entrypoints.actors import of_api_call
from allocation.entrypoints.api_auth import Token
from allocation.entrypoints.api_errors import COMMAND_ERRORS, answers
from allocation.entrypoints.inputs import Eta, NewQuantity, OrderId, Quantity, Reference, Sku

View = Callable[..., HttpResponse]


def staff_unless_debug(view: View) -> View:
    """The docs page is open in development; in production only logged-in staff see it.

    The OpenAPI document itself stays public (django-ninja hands both views to this
    decorator): it holds no data, only the contract the README already publishes, and
    token clients, which have no session to log in with, need it to generate a client.
    """
    if getattr(view, "func", None) is openapi_json:
        return view
    for_staff = staff_member_required(view)

    @wraps(view)
    def docs(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return (view if settings.DEBUG else for_staff)(request, *args, **kwargs)

    return docs


DESCRIPTION = """Allocates order lines to batches of stock.

Every error is `{"message": ...}`. In production (`API_REQUIRE_TOKEN`) the commands need
`Authorization: Bearer <token>` of a user with the command's permission; the reads
(`API_READS_REQUIRE_AUTH`) a token or a logged-in session of a user who may view orders
(`orders_read.view_orderview`).
Reads wait briefly for the read model to reflect the caller's writes and say in
`X-Read-Model-Stale` whether they do.
"""


class JsonApi(NinjaAPI):
    def get_content_type(self) -> str:
        """``application/json``, as the API always answered (JSON is UTF-8 by definition)."""
        return "application/json"


api = JsonApi(
    title="Allocation",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_decorator=staff_unless_debug,
)
api_errors.install(api)


# -- schemas ------------------------------------------------------------------------------


class AddBatch(BaseModel):
    ref: Reference
    sku: Sku
    qty: Quantity
    eta: Eta = None


class BatchAdded(BaseModel):
    ref: str


class Allocate(BaseModel):
    orderid: OrderId
    sku: Sku
    qty: Quantity


class Allocation(BaseModel):
    status: Literal["allocated", "waiting"]
    batchref: str | None = Field(description="null while the line waits for stock")


class Deallocate(BaseModel):
    orderid: OrderId
    sku: Sku


class Deallocated(BaseModel):
    status: Literal["deallocated"]


class ChangeBatchQuantity(BaseModel):
    ref: Reference
    qty: NewQuantity


class QuantityChanged(BaseModel):
    status: Literal["changed"]


# -- commands -----------------------------------------------------------------------------


@api.post(
    "/add_batch",
    url_name="add-batch",
    auth=Token("allocation.create_batch"),
    **answers({201: BatchAdded}, COMMAND_ERRORS),
)
def add_batch(request: HttpRequest, body: AddBatch) -> Status[BatchAdded]:
    """A batch of stock: in the warehouse (`eta` null) or arriving on `eta`."""
    command = commands.CreateBatch(body.ref, body.sku, body.qty, body.eta)
    bootstrap().handle(command, of_api_call(request))
    return Status(201, BatchAdded(ref=body.ref))


@api.post(
    "/allocate",
    url_name="allocate",
    auth=Token("allocation.allocate_line"),
    **answers({202: Allocation}, COMMAND_ERRORS),
)
def allocate(request: HttpRequest, body: Allocate) -> Status[Allocation]:
    """An order line to the preferred batch; when none can take it the line waits (still 202).

    Sending an identical line again changes nothing and answers the same batch.
    """
    command = commands.Allocate(body.orderid, body.sku, body.qty)
    batchref = bootstrap().handle(command, of_api_call(request))
    status: Literal["allocated", "waiting"] = "allocated" if batchref else "waiting"
    return Status(202, Allocation(status=status, batchref=batchref))


@api.post(
    "/deallocate",
    url_name="deallocate",
    auth=Token("allocation.deallocate_line"),
    **answers({200: Deallocated}, COMMAND_ERRORS),
)
def deallocate(request: HttpRequest, body: Deallocate) -> Deallocated:
    """Cancel an order's line for a SKU, allocated or waiting."""
    bootstrap().handle(commands.Deallocate(body.orderid, body.sku), of_api_call(request))
    return Deallocated(status="deallocated")


@api.post(
    "/change_batch_quantity",
    url_name="change-quantity",
    auth=Token("allocation.change_batch_quantity"),
    **answers({200: QuantityChanged}, COMMAND_ERRORS),
)
def change_batch_quantity(request: HttpRequest, body: ChangeBatchQuantity) -> QuantityChanged:
    """Set a batch's purchased quantity; lines that no longer fit are reallocated or wait."""
    bootstrap().handle(commands.ChangeBatchQuantity(body.ref, body.qty), of_api_call(request))
    return QuantityChanged(status="changed")


api.add_router("", read_api.router)
