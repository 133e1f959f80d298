"""Login with a brake on password guessing.

Failed attempts are counted per client address and per (address, username) in the
cache (Redis when configured, so every web process shares the count). Past the limit
the form is refused with 429 until the window ends, and the password is not checked.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse


class RateLimitedLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        keys = _keys(request)
        if any(cache.get(key, 0) >= limit for key, limit in keys):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many failed attempts. Wait a few minutes and try again.")
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        for key, _ in _keys(self.request):
            cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW)
            cache.incr(key)
        return super().form_invalid(form)


def _keys(request: HttpRequest) -> list[tuple[str, int]]:
    address = request.META.get("REMOTE_ADDR", "unknown")
    username = str(request.POST.get("username", ""))[:150].lower()
    return [
        (f"login-failures:{address}:{username}", settings.LOGIN_FAILURES_PER_USER),
        (f"login-failures:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]
