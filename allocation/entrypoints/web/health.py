"""Liveness, readiness and metrics for load balancers, orchestrators and Prometheus.

``/healthz`` answers as long as the process serves requests. ``/readyz`` also checks
the databases, the broker, the static files (collected?) and how far the read model lags
behind the write side (the oldest event written but not applied: stopped workers or a
dead relay show here), and answers 503 with the failing checks when the instance should
not get traffic. It answers within ``READY_DEADLINE`` whatever hangs: the probes run side
by side, and one still running then counts as failed.
``/metrics`` is Prometheus' text format: this process's counters (or all workers', in
multiprocess mode) and the event pipeline's state, read at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from functools import partial

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from allocation import bootstrap
from allocation.adapters import metrics as process_metrics
from allocation.entrypoints.checks import static_files_problem

READY_DEADLINE = 1.5
"""Seconds: orchestrators' probes time out (docker-compose.yml's after 5 s); answer first."""

Probe = Callable[[], str | None]


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    probes: dict[str, Probe] = {
        f"database:{alias}": partial(_ping_database, alias) for alias in settings.DATABASES
    }
    if settings.REDIS_URL:
        probes["redis"] = _ping_redis
    probes["static_files"] = static_files_problem
    probes["read_model_lag"] = _lag_within_threshold
    checks = _run(probes)
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def _run(probes: dict[str, Probe]) -> dict[str, str]:
    """Each probe's result ("ok" or the problem), within READY_DEADLINE.

    A probe left running (a database connection waiting for DB_CONNECT_TIMEOUT) finishes
    in the background and closes its connections.
    """
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="readyz")
    futures = {name: pool.submit(_check, probe) for name, probe in probes.items()}
    wait_for(futures.values(), timeout=READY_DEADLINE)
    pool.shutdown(wait=False)
    return {name: _outcome(future) for name, future in futures.items()}


def _outcome(future: Future[str]) -> str:
    if future.done():
        return future.result()
    return f"error: no answer within {READY_DEADLINE}s"


def _check(probe: Probe) -> str:
    try:
        problem = probe()
    except Exception as error:
        return f"error: {type(error).__name__}: {error}"
    finally:
        connections.close_all()  # this thread's: back to the pool
    return problem or "ok"


def _ping_database(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()


def _lag_within_threshold() -> str | None:
    age = bootstrap.read_model_lag().oldest_age
    limit = settings.READY_MAX_READ_MODEL_LAG
    if age is not None and age.total_seconds() > limit:
        return f"oldest event not applied is {age.total_seconds():.0f}s old (limit {limit}s)"
    return None


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    pipeline = CollectorRegistry()
    pipeline.register(PipelineCollector())
    body = generate_latest(process_metrics.process_registry()) + generate_latest(pipeline)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class PipelineCollector(Collector):
    """The event pipeline as the databases say it is now (not a per-process count)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = bootstrap.read_model_lag()
        age = lag.oldest_age.total_seconds() if lag.oldest_age else 0.0
        yield GaugeMetricFamily(
            "allocation_events_unapplied",
            "Events written but not applied by the read model (dead letters excluded)",
            value=lag.unapplied,
        )
        yield GaugeMetricFamily(
            "allocation_events_unapplied_oldest_age_seconds",
            "Age of the oldest event written but not applied (0: none)",
            value=age,
        )
        yield GaugeMetricFamily(
            "allocation_events_dead_lettered",
            "Events whose projection is parked in the dead-letter table, not replayed",
            value=lag.parked,
        )
