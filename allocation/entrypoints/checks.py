"""System checks for what a deployment must have done, each naming its fix.

- Static files collected (``--deploy``, tag ``staticfiles``). With hashed file names
  (``config.production``) a page cannot even name its stylesheet until ``collectstatic``
  has written the manifest: every HTML page would be a 500. ``check --deploy`` fails on
  it, the web process logs it when it starts (``config.wsgi``), ``/readyz`` fails on it
  and pages answer 503 (``web.middleware``), all in these words.
- The database reachable and existing (tag ``database``, which ``migrate`` runs first).
  The connection pool only says it got no connection in time; this says why (`database
  "allocation" does not exist`) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from django.apps import AppConfig
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import connections

COLLECTSTATIC = "run `manage.py collectstatic --noinput` (README, Production), then restart"


def static_files_problem() -> str | None:
    """Why this process cannot name its static files, or None.

    The storage reads the manifest once, when the process first needs it: files
    collected later are seen after a restart only (whitenoise too lists them at start).
    """
    if not isinstance(staticfiles_storage, ManifestFilesMixin) or staticfiles_storage.hashed_files:
        return None
    return (
        f"static files are not collected in STATIC_ROOT ({settings.STATIC_ROOT}): {COLLECTSTATIC}"
    )


@register(Tags.staticfiles, deploy=True)
def static_files_collected(
    app_configs: Iterable[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if static_files_problem() is None:
        return []
    return [
        Error(
            f"Static files are not collected in STATIC_ROOT ({settings.STATIC_ROOT}):"
            " every page would fail.",
            hint=f"At each deploy, {COLLECTSTATIC} the web server.",
            id="allocation.E001",
        )
    ]


@register(Tags.database)
def databases_reachable(
    app_configs: Iterable[AppConfig] | None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """A direct connection (not the pool's), so that libpq's own reason comes back."""
    errors: list[CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        params = connection.get_connection_params()
        try:
            psycopg.connect(**params).close()
        except psycopg.Error as error:
            errors.append(
                Error(
                    f"Cannot connect to the database {params['dbname']!r} ({alias}):"
                    f" {first_line(error)}",
                    hint="Check DATABASE_URL; `make db` (manage.py create_database) creates"
                    " a missing database.",
                    id="allocation.E002",
                )
            )
    return errors


def first_line(error: Exception) -> str:
    """libpq's reason (it puts hints such as "Is the server running...?" on later lines)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), repr(error))
