"""Authentication from the cache: a logged-in request costs no query for who is asking.

Every logged-in page used to load its user, then the user's and the groups' permissions
(three queries, and the permissions alone a large share of the order page's CPU:
docs/performance.md) before doing any work of its own. The backend keeps one entry per
user in the default cache: the user with its permission set already read
(``ModelBackend`` keeps it on the user object), for ``AUTH_CACHE_TIMEOUT`` seconds (0:
not cached, the default without Redis, where the cache is per process). The receivers
below delete the entries of every user a change affects, so a revoked permission or a
deactivated user takes effect on the next request. The entry holds the password hash, as
the row does: Django's session check (a password change logs the other sessions out)
needs it.

Changes that send no signal (``QuerySet.update``, raw SQL) are seen when the entry
expires. Superusers' permission sets are not cached: ``has_perm`` answers for them
without asking a backend, and their set follows the permission table itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model, Q
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

UserModel = get_user_model()

PERMISSION_CACHES = ("_perm_cache", "_user_perm_cache", "_group_perm_cache")
"""Where ``ModelBackend`` keeps a user's permissions once it has read them."""


def cache_key(user_id: Any) -> str:
    return f"auth:user:{user_id}"


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        user = self._cached(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(
        self, user_obj: User | AnonymousUser, obj: Model | None = None
    ) -> set[str]:
        """Users not loaded by ``get_user`` (an API token's) read the cache too."""
        if (
            obj is None
            and isinstance(user_obj, UserModel)
            and user_obj.is_active
            and not hasattr(user_obj, "_perm_cache")
            and (cached := self._cached(user_obj.pk)) is not None
        ):
            for name in PERMISSION_CACHES:
                if hasattr(cached, name):
                    setattr(user_obj, name, getattr(cached, name))
        return super().get_all_permissions(user_obj, obj)

    def _cached(self, user_id: Any) -> User | None:
        """The entry: the user with its permissions read; None if missing or inactive."""
        if user_id is None:
            return None
        key = cache_key(user_id)
        user: User | None = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is None:
                return None
            if not user.is_superuser:
                super().get_all_permissions(user)  # kept on the user, so cached with it
            cache.set(key, user, settings.AUTH_CACHE_TIMEOUT)
        return user


# -- invalidation ------------------------------------------------------------------------
# Connected by ``config.apps`` so that every process (web, Celery worker, shell) forgets
# what its changes affect, not only those that happened to load the backend.


def forget(user_ids: Iterable[Any], using: str) -> None:
    """Delete the users' entries now, and again once the change is committed.

    A request that misses meanwhile reloads the rows as they were before the commit
    and would cache them for the whole timeout; the second delete removes that.
    """
    keys = [cache_key(pk) for pk in user_ids]
    if not keys:
        return
    cache.delete_many(keys)
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(partial(cache.delete_many, keys), using=using)


def _users_of(instance: Model, using: str) -> list[Any]:
    """Every user whose permissions depend on this group or permission."""
    if isinstance(instance, Group):
        related = Q(groups=instance)
    else:
        related = Q(user_permissions=instance) | Q(groups__permissions=instance)
    users = UserModel._default_manager.db_manager(using).filter(related)
    return list(users.values_list("pk", flat=True).distinct())


def _user_saved_or_deleted(sender: type[Model], instance: Model, using: str, **_: Any) -> None:
    forget([instance.pk], using)


def _grants_changed(sender: type[Model], instance: Model, using: str, **_: Any) -> None:
    """A group or permission renamed or deleted (``pre_delete``: its links go first)."""
    forget(_users_of(instance, using), using)


def _links_changed(
    sender: type[Model],
    instance: Model,
    action: str,
    model: type[Model],
    pk_set: set[Any] | None,
    using: str,
    **_: Any,
) -> None:
    """Users added to or removed from groups, permissions granted to users or groups.

    Cleared relations are handled before the clear (``pre_clear``), while the links
    that say whom they affect still exist; additions and removals after the change.
    """
    if action not in ("pre_clear", "post_add", "post_remove"):
        return
    if isinstance(instance, UserModel):
        users: Iterable[Any] = [instance.pk]
    elif action != "pre_clear" and model is UserModel:
        users = pk_set or ()
    elif action != "pre_clear" and model is Group:
        members = UserModel._default_manager.db_manager(using).filter(groups__in=pk_set or ())
        users = members.values_list("pk", flat=True).distinct()
    else:
        users = _users_of(instance, using)
    forget(users, using)


def connect_invalidation() -> None:
    uid = "allocation.entrypoints.web.auth"
    for signal in (post_save, post_delete):
        signal.connect(_user_saved_or_deleted, sender=UserModel, dispatch_uid=uid)
    for grant in (Group, Permission):
        pre_delete.connect(_grants_changed, sender=grant, dispatch_uid=uid)
    post_save.connect(_grants_changed, sender=Permission, dispatch_uid=uid)
    for through in (
        UserModel.groups.through,
        UserModel.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(_links_changed, sender=through, dispatch_uid=uid)
