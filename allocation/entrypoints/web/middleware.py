"""Middleware: request metrics, and a lost database connection as a clear 503.

For the 503: the Unit of Work's transaction has already rolled back when the error
reaches here, so nothing was partly written; Django discards the broken connection and
the next request gets a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from allocation.adapters import metrics

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"


class RequestMetricsMiddleware:
    """Counts every answer by view name (not path: bounded labels) and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match else "<unresolved>"
        metrics.REQUESTS.labels(view, str(response.status_code)).inc()
        return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "database unavailable during %s %s: %s", request.method, request.path, exception
        )
        text = "The database is unavailable right now; nothing was saved. Please retry."
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"message": text}, status=503)
        else:
            html = render_to_string("503.html", {"message": text}, request=request)
            response = HttpResponse(html, status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response


class RejectNulMiddleware:
    """A NUL in the path or query string is a 400: no database can store or compare it.

    (Form fields already refuse NUL through Django's validators, and JSON fields through
    ``allocation.entrypoints.inputs``.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            text = "The request contains a NUL character."
            if request.path.startswith("/api/"):
                return JsonResponse({"message": text}, status=400)
            return HttpResponse(text, status=400, content_type="text/plain")
        return self.get_response(request)
