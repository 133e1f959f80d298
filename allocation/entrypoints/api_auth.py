"""Who may call the JSON API: a bearer token, or for reads a logged-in session.

Both are switched by a setting, so that development stays open (the book's clients
send neither) and production is not: ``API_REQUIRE_TOKEN`` for the commands,
``API_READS_REQUIRE_AUTH`` for the reads. A caller known but lacking the permission
gets a 403, not a 401: who is asking is known. With none of the accepted credentials,
django-ninja answers 401 (``api_errors``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer

from allocation.adapters import tokens

VIEW_ORDERS = "orders_read.view_orderview"
"""The reads' permission: Django's own "can view order" of the read model."""


def _permitted(user: User, permission: str) -> User:
    if not user.has_perm(permission):
        raise AuthorizationError(message=f"Permission denied: needs {permission}")
    return user


class Token(HttpBearer):
    """``Authorization: Bearer <token>`` of an active user holding ``permission``.

    Required when the setting named ``required_by`` is on; otherwise every caller
    passes, as before.
    """

    def __init__(self, permission: str, required_by: str = "API_REQUIRE_TOKEN") -> None:
        super().__init__()
        self.permission = permission
        self.required_by = required_by

    def __call__(self, request: HttpRequest) -> Any:
        if not getattr(settings, self.required_by):
            return True  # open: django-ninja only needs a true value
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = tokens.user_for(token.strip()) if token.strip() else None
        return _permitted(user, self.permission) if user is not None else None


class Session(APIKeyCookie):
    """The session of a user logged in to the site (a browser), holding ``permission``.

    Only for reads: a GET changes nothing, so no CSRF token is asked for.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, permission: str) -> None:
        super().__init__(csrf=False)
        self.permission = permission

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        return _permitted(user, self.permission) if isinstance(user, User) else None


READER = [Token(VIEW_ORDERS, required_by="API_READS_REQUIRE_AUTH"), Session(VIEW_ORDERS)]
"""The reads' callers: a token, or a browser's session, of a user who may view orders."""
