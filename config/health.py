"""Liveness and readiness probes for load balancers and orchestrators.

``/healthz`` answers as long as the process serves requests. ``/readyz`` also checks
the databases, the broker and how far the read model lags behind the outbox, and
answers 503 with the failing checks when the instance should not get traffic.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from allocation.adapters import outbox


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {}
    for alias in settings.DATABASES:
        checks[f"database:{alias}"] = _check(lambda a=alias: _ping_database(a))
    if settings.REDIS_URL:
        checks["redis"] = _check(_ping_redis)
    checks["read_model_lag"] = _check(_lag_within_threshold)
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def _check(probe: Any) -> str:
    try:
        problem: str | None = probe()
    except Exception as error:
        return f"error: {type(error).__name__}: {error}"
    return problem or "ok"


def _ping_database(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()


def _lag_within_threshold() -> str | None:
    age = outbox.oldest_unsent_age()
    limit = settings.READY_MAX_OUTBOX_LAG
    if age is not None and age.total_seconds() > limit:
        return f"oldest unsent event is {age.total_seconds():.0f}s old (limit {limit}s)"
    return None
