"""JSON command endpoints under /api (the book's contract: README, "Interfaces")."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from allocation.adapters import tokens
from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints import inputs

JsonView = Callable[[dict[str, Any]], JsonResponse]


def message(text: str, status: int) -> JsonResponse:
    return JsonResponse({"message": text}, status=status)


def json_command(permission: str) -> Callable[[JsonView], Callable[[HttpRequest], JsonResponse]]:
    """POST-only JSON endpoint; bad input is a 400 and a conflict a 409, never a 500.

    With ``API_REQUIRE_TOKEN`` (production) the caller needs ``Authorization: Bearer
    <token>`` of a user holding ``permission``; CSRF does not apply to token clients.
    """

    def decorate(view: JsonView) -> Callable[[HttpRequest], JsonResponse]:
        @csrf_exempt
        @require_POST
        @wraps(view)
        def endpoint(request: HttpRequest) -> JsonResponse:
            if settings.API_REQUIRE_TOKEN and (refusal := _refuse(request, permission)):
                return refusal
            return _run(view, request)

        return endpoint

    return decorate


def _refuse(request: HttpRequest, permission: str) -> JsonResponse | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = tokens.user_for(token.strip()) if scheme.lower() == "bearer" and token else None
    if user is None:
        response = message("Authentication required: send Authorization: Bearer <token>", 401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    if not user.has_perm(permission):
        return message(f"Permission denied: needs {permission}", 403)
    return None


def _run(view: JsonView, request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return message("Malformed JSON body", 400)
    if not isinstance(body, dict):
        return message("The body must be a JSON object", 400)
    try:
        return view(body)
    except inputs.CONFLICTS as error:
        return message(str(error), 409)
    except inputs.CLIENT_ERRORS as error:
        return message(str(error), 400)


@json_command("allocation.create_batch")
def add_batch(body: dict[str, Any]) -> JsonResponse:
    command = commands.CreateBatch(
        ref=inputs.text(body, "ref"),
        sku=inputs.text(body, "sku"),
        qty=inputs.quantity(body, "qty"),
        eta=inputs.optional_date(body, "eta"),
    )
    bootstrap().handle(command)
    return JsonResponse({"ref": command.ref}, status=201)


@json_command("allocation.allocate_line")
def allocate(body: dict[str, Any]) -> JsonResponse:
    command = commands.Allocate(
        orderid=inputs.text(body, "orderid"),
        sku=inputs.text(body, "sku"),
        qty=inputs.quantity(body, "qty"),
    )
    batchref = bootstrap().handle(command)
    status = "allocated" if batchref else "waiting"
    return JsonResponse({"status": status, "batchref": batchref}, status=202)


@json_command("allocation.deallocate_line")
def deallocate(body: dict[str, Any]) -> JsonResponse:
    command = commands.Deallocate(
        orderid=inputs.text(body, "orderid"), sku=inputs.text(body, "sku")
    )
    bootstrap().handle(command)
    return JsonResponse({"status": "deallocated"}, status=200)


@json_command("allocation.change_batch_quantity")
def change_batch_quantity(body: dict[str, Any]) -> JsonResponse:
    command = commands.ChangeBatchQuantity(
        ref=inputs.text(body, "ref"), qty=inputs.quantity(body, "qty", minimum=0)
    )
    bootstrap().handle(command)
    return JsonResponse({"status": "changed"}, status=200)
