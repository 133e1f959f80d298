"""Users and permissions come from the cache, and every change reaches the next request.

The cache is the test's own in-memory one (``_private_cache``), with caching switched on
as it is with Redis. ``/place-order/`` needs ``allocation.allocate_line``: 200 with it,
403 without, a redirect to the login page once logged out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from allocation.entrypoints.web.auth import CachedModelBackend, cache_key

pytestmark = pytest.mark.django_db

PAGE = "/place-order/"
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _auth_cache_on(settings) -> None:
    settings.AUTH_CACHE_TIMEOUT = 300
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def perm() -> Permission:
    return Permission.objects.get(codename="allocate_line")


@pytest.fixture
def user(django_user_model) -> User:
    return django_user_model.objects.create_user("clerk", password=PASSWORD)


def logged_in(user: User) -> Client:
    """Through the login form (django-axes needs the request ``Client.login`` lacks)."""
    client = Client()
    form = {"username": user.get_username(), "password": PASSWORD}
    assert client.post("/accounts/login/", form).status_code == 302
    return client


def cached(user: User) -> bool:
    return cache.get(cache_key(user.pk)) is not None


def test_a_logged_in_request_asks_the_database_nothing_about_its_user(user, perm):
    user.user_permissions.add(perm)
    client = logged_in(user)
    with CaptureQueriesContext(connection) as cold:
        assert client.get(PAGE).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert client.get(PAGE).status_code == 200
    about_users = [q["sql"] for q in cold if '"auth_' in q["sql"]]
    assert len(about_users) == 3  # the user, its permissions, its groups' permissions
    assert not [q["sql"] for q in warm if '"auth_' in q["sql"]]
    assert len(warm) == len(cold) - 3


def revoke_directly(user: User, perm: Permission, group: Group) -> None:
    user.user_permissions.remove(perm)


def revoke_from_the_permission(user: User, perm: Permission, group: Group) -> None:
    perm.user_set.remove(user)


def clear_the_users_permissions(user: User, perm: Permission, group: Group) -> None:
    user.user_permissions.clear()


def clear_the_permissions_users(user: User, perm: Permission, group: Group) -> None:
    perm.user_set.clear()


def delete_the_permission(user: User, perm: Permission, group: Group) -> None:
    perm.delete()


@pytest.mark.parametrize(
    "revoke",
    [
        revoke_directly,
        revoke_from_the_permission,
        clear_the_users_permissions,
        clear_the_permissions_users,
        delete_the_permission,
    ],
)
def test_a_revoked_permission_is_refused_on_the_very_next_request(
    user, perm, revoke: Callable[[User, Permission, Group], None]
):
    user.user_permissions.add(perm)
    client = logged_in(user)
    assert client.get(PAGE).status_code == 200
    assert cached(user)

    revoke(user, perm, Group.objects.create(name="unrelated"))

    assert client.get(PAGE).status_code == 403


def join_the_group(user: User, group: Group, perm: Permission) -> None:
    group.permissions.add(perm)
    user.groups.add(group)


def the_group_takes_the_user(user: User, group: Group, perm: Permission) -> None:
    group.permissions.add(perm)
    group.user_set.add(user)


def the_group_gets_the_permission(user: User, group: Group, perm: Permission) -> None:
    user.groups.add(group)
    assert logged_in(user).get(PAGE).status_code == 403  # a member, not yet allowed
    group.permissions.add(perm)


def the_permission_gets_the_group(user: User, group: Group, perm: Permission) -> None:
    user.groups.add(group)
    assert logged_in(user).get(PAGE).status_code == 403
    perm.group_set.add(group)


@pytest.mark.parametrize(
    "grant",
    [
        join_the_group,
        the_group_takes_the_user,
        the_group_gets_the_permission,
        the_permission_gets_the_group,
    ],
)
def test_a_permission_granted_through_a_group_is_honoured_on_the_next_request(
    user, perm, grant: Callable[[User, Group, Permission], None]
):
    client = logged_in(user)
    assert client.get(PAGE).status_code == 403
    assert cached(user)

    grant(user, Group.objects.create(name="clerks"), perm)

    assert client.get(PAGE).status_code == 200


def leave_the_group(user: User, group: Group, perm: Permission) -> None:
    user.groups.remove(group)


def the_group_is_emptied(user: User, group: Group, perm: Permission) -> None:
    group.user_set.clear()


def the_group_loses_its_permissions(user: User, group: Group, perm: Permission) -> None:
    group.permissions.clear()


def the_permission_leaves_every_group(user: User, group: Group, perm: Permission) -> None:
    perm.group_set.clear()


def the_group_is_deleted(user: User, group: Group, perm: Permission) -> None:
    group.delete()


@pytest.mark.parametrize(
    "take_away",
    [
        leave_the_group,
        the_group_is_emptied,
        the_group_loses_its_permissions,
        the_permission_leaves_every_group,
        the_group_is_deleted,
    ],
)
def test_a_permission_lost_with_a_group_is_refused_on_the_next_request(
    user, perm, take_away: Callable[[User, Group, Permission], None]
):
    group = Group.objects.create(name="clerks")
    group.permissions.add(perm)
    user.groups.add(group)
    client = logged_in(user)
    assert client.get(PAGE).status_code == 200
    assert cached(user)

    take_away(user, group, perm)

    assert client.get(PAGE).status_code == 403


def test_a_deactivated_user_is_logged_out_on_the_next_request(user, perm):
    user.user_permissions.add(perm)
    client = logged_in(user)
    assert client.get(PAGE).status_code == 200

    user.is_active = False
    user.save()

    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not cached(user)  # an inactive user is not kept


def test_changing_the_password_logs_the_other_sessions_out(user, perm):
    user.is_staff = True  # the admin's password form keeps its own session logged in
    user.save()
    user.user_permissions.add(perm)
    here, elsewhere = logged_in(user), logged_in(user)
    assert here.get(PAGE).status_code == 200
    assert elsewhere.get(PAGE).status_code == 200

    changed = here.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-horse-7",
            "new_password2": "a-new-horse-7",
        },
    )

    assert changed.status_code == 302
    assert here.get(PAGE).status_code == 200
    assert elsewhere.get(PAGE).status_code == 302


def test_a_stale_entry_cached_before_the_commit_is_forgotten_at_the_commit(
    user, perm, django_capture_on_commit_callbacks: Any
):
    """A request that missed between the change and its commit read the old rows."""
    user.user_permissions.add(perm)
    backend = CachedModelBackend()
    before = backend.get_user(user.pk)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        user.user_permissions.remove(perm)
        cache.set(cache_key(user.pk), before)  # what that request cached

    fresh = backend.get_user(user.pk)
    assert fresh is not None
    assert not fresh.has_perm("allocation.allocate_line")


def test_users_not_loaded_from_the_session_read_their_permissions_from_the_cache(
    user, perm, django_assert_num_queries
):
    """An API token's user, for one: loaded with the token, its permissions cached."""
    user.user_permissions.add(perm)
    assert User.objects.get(pk=user.pk).has_perm("allocation.allocate_line")  # fills the cache
    loaded = User.objects.get(pk=user.pk)
    with django_assert_num_queries(0):
        assert loaded.has_perm("allocation.allocate_line")
        assert not loaded.has_perm("allocation.create_batch")

    user.user_permissions.remove(perm)
    assert not User.objects.get(pk=user.pk).has_perm("allocation.allocate_line")


def test_without_a_timeout_nothing_is_cached(user, perm, settings):
    """The default without Redis, where each process would keep its own stale copy."""
    settings.AUTH_CACHE_TIMEOUT = 0
    client = logged_in(user)
    assert client.get(PAGE).status_code == 403
    assert not cached(user)
    user.user_permissions.add(perm)
    assert client.get(PAGE).status_code == 200
