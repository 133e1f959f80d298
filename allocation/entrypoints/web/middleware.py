"""Middleware: request metrics, JSON for every /api answer, the security policy's
header built once, messages for pages only, private answers, 503s for what is
missing, the site's own 404 page in development too.

A lost database is a 503: the Unit of Work's transaction has already rolled back when
the error reaches here, so nothing was partly written; Django discards the broken
connection and the next request gets a fresh one. So are pages while the static files
are not collected (``allocation.entrypoints.checks``), which would otherwise be a 500
whose error page fails too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control
from django.views.defaults import page_not_found

from allocation.adapters import metrics
from allocation.entrypoints.api_errors import message
from allocation.entrypoints.checks import static_files_problem

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


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


class ApiAnswersJsonMiddleware:
    """Every /api answer is JSON, also the errors none of the API's handlers made.

    Those are an unknown path (404), a known path with another method (django-ninja's
    405, whose ``Allow`` header is kept) and an unexpected exception (500: Django has
    logged it and rendered its error page). Each becomes ``{"message": ...}``, with the
    same status and headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api(request)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        if response.status_code == 404:
            text = f"No such endpoint: {request.path}"
        elif response.status_code == 405:
            text = f"{request.method} is not allowed here; allowed: {response['Allow']}"
        else:
            text = response.reason_phrase
        # Rewritten in place: headers, cookies and Django's "already logged" mark stay.
        answer = message(text, response.status_code)
        response.content = answer.content
        response["Content-Type"] = answer["Content-Type"]
        if response.has_header("Content-Length"):  # set by CommonMiddleware
            response["Content-Length"] = str(len(response.content))
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once per process.

    django-csp builds the header from the settings for every answer, twice (the policy
    and its report-only twin): measured in process, a quarter of what the bare view
    costs (0.05 of 0.19 ms). It depends only on the settings unless an answer asks for
    its own (django-csp's decorators, a nonce, Django's debug pages), and none here
    does: so those answers get the header built for the first one, the others go
    through django-csp. With a report-only policy or excluded prefixes in the settings,
    every answer goes through django-csp.
    """

    OWN_POLICY = tuple(
        f"_csp_{part}{twin}"
        for part in ("config", "update", "replace", "exempt")
        for twin in ("", "_ro")
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
        fixed = not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        self._header = build_policy() if fixed and not policy.get("EXCLUDE_URL_PREFIXES") else ""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            not self._header
            or settings.DEBUG
            or HEADER in response
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in self.OWN_POLICY)
        ):
            return super().process_response(request, response)
        response[HEADER] = self._header
        # As django-csp does: a nonce asked for now could no longer be in the header.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


class PageMessagesMiddleware(MessageMiddleware):
    """Django's messages ("Batch added"), for pages only: no JSON answer shows one, and
    setting up their storage (a cookie's and the session's) on every API call was ~5%
    of a read's CPU. Django's ``process_response`` leaves a request without them be."""

    def process_request(self, request: HttpRequest) -> None:
        if not is_api(request):
            super().process_request(request)


class PrivateAnswersMiddleware:
    """What a logged-in user or a token's holder sees is kept by no cache, shared or not.

    ``Cache-Control: private, no-store``: no proxy may serve it to someone else, and the
    browser keeps no copy on disk (a shared computer's history, the back button after
    logging out). Told by the session cookie or the ``Authorization`` header, not by
    loading the user: that would cost a lookup on every answer, and fail the answers
    that need no database (``/healthz``) when it is down.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Authorization" in request.headers or settings.SESSION_COOKIE_NAME in request.COOKIES:
            patch_cache_control(response, private=True, no_store=True)
        return response


class ServiceUnavailableMiddleware:
    """503 with ``Retry-After`` (in JSON under /api) instead of a 500, logged once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            logger.error(
                "database unavailable during %s %s: %s", request.method, request.path, exception
            )
            text = "The database is unavailable right now; nothing was saved. Please retry."
        elif (
            isinstance(exception, ValueError)  # the storage's "Missing staticfiles manifest entry"
            and not is_api(request)
            and (problem := static_files_problem())
        ):
            logger.critical("page %s not rendered: %s", request.path, problem)
            text = "The site is being deployed and cannot show pages yet. Please retry."
        else:
            return None
        response: HttpResponse
        if is_api(request):
            response = message(text, 503)
        else:  # 503.html needs no static file
            html = render_to_string("503.html", {"message": text}, request=request)
            response = HttpResponse(html, status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response


class RejectNulMiddleware:
    """A NUL in the path or query string is a 400: no database can store or compare it.

    (Form fields and JSON fields already refuse it: ``allocation.entrypoints.inputs``.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            text = "The request contains a NUL character."
            if is_api(request):
                return message(text, 400)
            return HttpResponse(text, status=400, content_type="text/plain")
        return self.get_response(request)


class NotFoundPageMiddleware:
    """With ``DEBUG`` on, an unknown page is the site's 404 page, as in production.

    Django's technical 404 would list every URL pattern of the project to whoever asks,
    and shows operators trying the embedded default a page unlike the one their users
    will see. Unknown paths never reach a view, so they are found here by resolving
    first; a view's ``Http404`` ("Unknown order X") comes through ``process_exception``.
    Both answer with Django's own production handler (``page_not_found``, 404.html).
    Placed after ``CommonMiddleware``, whose ``APPEND_SLASH`` redirect still applies.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG:
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404 as error:
                return page_not_found(request, error)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG and isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
