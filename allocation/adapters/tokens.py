"""API tokens: random, shown once, stored as a SHA-256 digest (a leaked table is useless)."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from allocation.models import ApiToken


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, name: str) -> str:
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=digest(token))
    return token


def user_for(token: str) -> User | None:
    found = ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
    if found is None or not found.user.is_active:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.user
