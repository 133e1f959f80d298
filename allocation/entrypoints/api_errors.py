"""How the JSON API fails: always ``{"message": ...}``, with a status the schema documents.

The book's clients read ``r.json()["message"]`` whatever went wrong, so every error under
/api has that body, from whichever layer it comes:

- the endpoints' own refusals, and what django-ninja raises before an endpoint runs
  (authentication, a body that is not JSON, a field breaking an input rule), through the
  handlers ``install`` registers on the ``NinjaAPI``;
- what happens outside the endpoints (an unknown path, a wrong method, an unexpected
  exception, the database gone) through ``allocation.entrypoints.web.middleware``.

``answers`` gives each operation its documented statuses, so that the OpenAPI document
lists every answer a client can get (``tests/integration/test_openapi.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import BaseModel

from allocation.entrypoints import inputs

AUTHENTICATE = "Bearer"
"""The ``WWW-Authenticate`` challenge of a 401: the API's tokens are bearer tokens."""


class Message(BaseModel):
    """Every error's body."""

    message: str


ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "description": "Bad input: a body that is not a JSON object, a field missing, a"
        " field or parameter breaking its rule, or a command the rules refuse (e.g."
        " `Invalid sku X`). Nothing was written."
    },
    401: {
        "description": "A token is needed (`API_REQUIRE_TOKEN` for commands,"
        " `API_READS_REQUIRE_AUTH` for reads, both on in production): send"
        " `Authorization: Bearer <token>` (`manage.py create_api_token`); a read also"
        " accepts the session of a logged-in user.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "enum": [AUTHENTICATE]}}},
    },
    403: {"description": "The token's (or session's) user lacks the permission."},
    404: {"description": "Nothing to show for this order."},
    409: {
        "description": "A conflict: the order already has this SKU with another quantity,"
        " or the product was too busy to change (retry). Nothing was written."
    },
    413: {"description": "The body is larger than `DATA_UPLOAD_MAX_MEMORY_SIZE`."},
    500: {"description": "An unexpected error (logged)."},
    503: {
        "description": "The database is unavailable; nothing was written. Retry after"
        " `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
}
COMMAND_ERRORS = (400, 401, 403, 409, 413, 500, 503)
READ_ERRORS = (400, 401, 403, 404, 500, 503)


def answers(
    success: Mapping[int, Any],
    errors: Iterable[int],
    documented: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """An operation's ``response`` and ``openapi_extra``: its bodies and their documentation.

    ``documented`` adds to (or replaces) what ``ERRORS`` says of a status for this
    operation, e.g. a header it sets.
    """
    codes = tuple(errors)
    described = {code: dict(ERRORS[code]) for code in codes}
    for code, extra in (documented or {}).items():
        described[code] = {**described.get(code, {}), **extra}
    return {
        "response": {**success, codes: Message},
        "openapi_extra": {"responses": described},
    }


def message(text: str, status: int) -> JsonResponse:
    return JsonResponse({"message": text}, status=status)


def install(api: NinjaAPI) -> None:
    """Map what the endpoints and django-ninja raise to answers; re-raise the rest.

    An unexpected exception (a database gone included) goes on to Django, which logs it
    and turns it into a 500 (503 for the database), in JSON under /api (middleware).
    django-ninja's own fallback would instead answer a traceback as text in DEBUG.
    """
    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (ValidationError, _invalid),
        (AuthenticationError, _unauthenticated),
        (HttpError, _http_error),
        (RequestDataTooBig, _too_big),
        *[(refusal, _refused) for refusal in inputs.CLIENT_ERRORS],
        (Exception, _unexpected),
    ]
    for kind, handler in handlers:
        api.exception_handler(kind)(handler)


def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    """The first problem as one sentence: "Field 'qty' must be ...", "Missing field 'sku'".

    django-ninja locates a body field as ``("body", <the view's parameter>, field)`` and a
    path parameter as ``("path", name)``.
    """
    first = error.errors[0]
    source, *where = first["loc"]
    if source == "body":
        text = inputs.describe({**first, "loc": where[1:]}, "body")
    else:
        text = inputs.describe({**first, "loc": where}, source, subject="Parameter")
    return message(text, 400)


def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    response = message("Authentication required: send Authorization: Bearer <token>", 401)
    response["WWW-Authenticate"] = AUTHENTICATE
    return response


def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    """A 403 from the permission check, or a 400 for a body django-ninja cannot parse."""
    return message(str(error), error.status_code)


def _too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return message(f"The body is larger than {limit} bytes", 413)


def _refused(request: HttpRequest, error: Exception) -> HttpResponse:
    return message(str(error), 409 if isinstance(error, inputs.CONFLICTS) else 400)


def _unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    raise error
