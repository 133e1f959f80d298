"""Who asked: each entrypoint names the actor it hands the bus with a command.

The actor is metadata stored beside the command's events (``allocation.service_layer.
actor``). The web forms, the CSV import and the admin act for the logged-in user; the
JSON API for its token's user, else the session's, else an API client with no user
(the API is open in development); a management command for the operator (``--as``, else
the operating system's login name); the Redis consumers for Redis (``Actor.redis``).

The histories (pages and admin) show it in words, and a person's name only to those
who may see the site's users (``SEE_NAMES``); the others read "by a user".
"""

from __future__ import annotations

import getpass

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from allocation.service_layer.actor import API_CLIENT, MAX_NAME, Actor

SEE_NAMES = "auth.view_user"
"""Who may read people's names in the histories: those who may view the users (in the
admin), so a history never tells a name to someone the admin would not."""


def of_request(request: HttpRequest) -> Actor:
    """The logged-in user of a page, a form or the admin."""
    return Actor.user(request.user.get_username())


def of_api_call(request: HttpRequest) -> Actor:
    """The token's user (``request.auth``, set by django-ninja), else the session's."""
    token_user = getattr(request, "auth", None)
    if isinstance(token_user, AbstractBaseUser):
        return Actor.user(token_user.get_username())
    if request.user.is_authenticated:
        return of_request(request)
    return API_CLIENT


def of_operator(name: str | None = None) -> Actor:
    """The operator at the command line: the name given (``--as``), else the login name
    of the operating system's user, else nobody in particular."""
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):  # no login name: a container without a passwd entry
            name = ""
    return Actor.command_line(name[:MAX_NAME])


def describe(stored: str | None, names: bool) -> str:
    """Who caused an event, in words ("by alice", "by the command line"); ``names``: may
    the reader see people's names (``SEE_NAMES``)? Empty for an event stored before
    actors were recorded, or with an actor this release cannot read."""
    if not stored:
        return ""
    try:
        return Actor.parse(stored).describe(names)
    except ValueError:
        return ""
