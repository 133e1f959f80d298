"""What a client locked out by django-axes gets: 429 and when to come back.

django-axes counts failed logins (settings, "failed logins") and refuses a locked-out
client in ``authenticate``, before any password is checked; its middleware then asks
this callable (``AXES_LOCKOUT_CALLABLE``) for the answer, on either login form. Every
refused attempt counts as a failure and starts the cool-off again, so the cool-off is
exactly how long the client has to wait from now.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else None  # None: until unlocked
    minutes = -(-seconds // 60) if seconds else None
    html = render_to_string("429.html", {"minutes": minutes}, request=request)
    response = HttpResponse(html, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
