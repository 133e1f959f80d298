"""JSON command endpoints under /api (the book's contract, see ARCHITECTURE.md §4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from allocation import entrypoints
from allocation.bootstrap import bootstrap
from allocation.domain import commands

JsonView = Callable[[dict[str, Any]], JsonResponse]


def message(text: str, status: int) -> JsonResponse:
    return JsonResponse({"message": text}, status=status)


def json_command(view: JsonView) -> Callable[[HttpRequest], JsonResponse]:
    """POST-only JSON endpoint; bad input is a 400 and a conflict a 409, never a 500."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def endpoint(request: HttpRequest) -> JsonResponse:
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return message("Malformed JSON body", 400)
        if not isinstance(body, dict):
            return message("The body must be a JSON object", 400)
        try:
            return view(body)
        except entrypoints.CONFLICTS as error:
            return message(str(error), 409)
        except entrypoints.CLIENT_ERRORS as error:
            return message(str(error), 400)

    return endpoint


@json_command
def add_batch(body: dict[str, Any]) -> JsonResponse:
    command = commands.CreateBatch(
        ref=entrypoints.text(body, "ref"),
        sku=entrypoints.text(body, "sku"),
        qty=entrypoints.quantity(body, "qty"),
        eta=entrypoints.optional_date(body, "eta"),
    )
    bootstrap().handle(command)
    return JsonResponse({"ref": command.ref}, status=201)


@json_command
def allocate(body: dict[str, Any]) -> JsonResponse:
    command = commands.Allocate(
        orderid=entrypoints.text(body, "orderid"),
        sku=entrypoints.text(body, "sku"),
        qty=entrypoints.quantity(body, "qty"),
    )
    batchref = bootstrap().handle(command)
    status = "allocated" if batchref else "waiting"
    return JsonResponse({"status": status, "batchref": batchref}, status=202)


@json_command
def deallocate(body: dict[str, Any]) -> JsonResponse:
    command = commands.Deallocate(
        orderid=entrypoints.text(body, "orderid"), sku=entrypoints.text(body, "sku")
    )
    bootstrap().handle(command)
    return JsonResponse({"status": "deallocated"}, status=200)


@json_command
def change_batch_quantity(body: dict[str, Any]) -> JsonResponse:
    command = commands.ChangeBatchQuantity(
        ref=entrypoints.text(body, "ref"), qty=entrypoints.quantity(body, "qty", minimum=0)
    )
    bootstrap().handle(command)
    return JsonResponse({"status": "changed"}, status=200)
