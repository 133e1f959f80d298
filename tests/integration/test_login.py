"""Login is throttled after repeated failures."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

pytestmark = pytest.mark.django_db


@override_settings(LOGIN_FAILURES_PER_USER=3)
def test_repeated_failures_are_refused_with_429_even_with_the_right_password(
    client, django_user_model
):
    django_user_model.objects.create_user("alice", password="right-horse-battery")
    for _ in range(3):
        wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
        assert wrong.status_code == 200
        assert "correct username and password" in wrong.content.decode()

    blocked = client.post(
        "/accounts/login/", {"username": "alice", "password": "right-horse-battery"}
    )
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session

    cache.clear()  # the window has passed (each test has its own in-memory cache)
    ok = client.post("/accounts/login/", {"username": "alice", "password": "right-horse-battery"})
    assert ok.status_code == 302


@override_settings(LOGIN_FAILURES_PER_USER=3)
def test_other_users_are_not_locked_out_by_someone_elses_failures(client, django_user_model):
    django_user_model.objects.create_user("bob", password="right-horse-battery")
    for _ in range(3):
        client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    ok = client.post("/accounts/login/", {"username": "bob", "password": "right-horse-battery"})
    assert ok.status_code == 302
