"""The bare view: what Django and gunicorn cost with no query and no template."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

CONSTANT = {"status": "ok", "items": [{"sku": "CEILING", "batchref": "none"}]}


@require_GET
def ceiling(request: HttpRequest) -> JsonResponse:
    """Same middleware stack as the real endpoints, so read/ceiling isolates their own work."""
    return JsonResponse(CONSTANT)


@require_GET
@login_required
def ceiling_logged_in(request: HttpRequest) -> JsonResponse:
    """The bare view behind a login: what knowing the user costs (session, user lookup)."""
    return JsonResponse(CONSTANT)


@require_GET
@login_required
def ceiling_layout(request: HttpRequest) -> HttpResponse:
    """The site's layout with no content, logged in: the floor of every page of the UI."""
    return render(request, "base.html")
