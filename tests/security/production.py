"""The production settings (``config.production``) for the security probes.

``apply_production`` applies every setting that module makes, as a deployment reading
``PRODUCTION_ENV`` would get them, except where the test run must keep its own: the
test databases and in-memory cache, static files without ``collectstatic``, plain
logs, in-process event delivery. ``production_client`` talks to it as the TLS proxy in
front would: HTTPS, the site's host name, the client's address in ``X-Forwarded-For``.
"""

from __future__ import annotations

import os
import runpy
from typing import Any
from unittest import mock

from django.test import Client

from tests.integration.test_production import PRODUCTION_ENV

HOST = PRODUCTION_ENV["ALLOWED_HOSTS"]
PROXY = "127.0.0.1"
"""The TLS proxy's address: every request arrives from it."""

KEPT = {"DATABASES", "DATABASE_ROUTERS", "CACHES", "STORAGES", "LOGGING", "PASSWORD_HASHERS",
        "CELERY_TASK_ALWAYS_EAGER"}  # fmt: skip
"""What the test run keeps of its own settings (events are applied in-process unless a
test brings a worker: tests/conftest.py)."""


def apply_production(settings: Any, kept: set[str] = KEPT, **environ: str) -> Any:
    """Every setting ``config.production`` makes from ``PRODUCTION_ENV`` (and ``environ``),
    applied to pytest-django's ``settings`` except the ``kept`` ones."""
    with mock.patch.dict(os.environ, {**PRODUCTION_ENV, **environ}):
        module = runpy.run_module("config.production")
    for name, value in module.items():
        if name.isupper() and name not in kept:
            setattr(settings, name, value)
    return settings


def through_proxy(client_address: str, **extra: Any) -> Client:
    """A browser at ``client_address``, behind the TLS proxy."""
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": client_address}
    return Client(headers=headers, REMOTE_ADDR=PROXY, **extra)
