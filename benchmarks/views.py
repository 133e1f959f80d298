"""The bare view: what Django and gunicorn cost with no query and no template."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

CONSTANT = {"status": "ok", "items": [{"sku": "CEILING", "batchref": "none"}]}


@require_GET
def ceiling(request: HttpRequest) -> JsonResponse:
    """Same middleware stack as the real endpoints, so read/ceiling isolates their own work."""
    return JsonResponse(CONSTANT)
