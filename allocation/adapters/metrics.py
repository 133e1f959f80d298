"""Prometheus metrics: the counters every process keeps, and how to serve them.

Web processes serve them at ``/metrics`` (``allocation.entrypoints.web.health``),
together with the event pipeline's state, read from the databases at each scrape. The
relay serves its own on ``relay_outbox --follow --metrics-port N``. With several
gunicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by them
(prometheus-client's multiprocess mode) so that a scrape sums all workers instead of
sampling one.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "allocation_http_requests", "HTTP requests answered, by view and status", ["view", "status"]
)
COMMANDS = Counter(
    "allocation_commands", "Commands handled by the message bus, by outcome", ["command", "outcome"]
)
RELAYED = Histogram(
    "allocation_relay_round_events",
    "Events the relay handed to the broker in one round",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def serve(port: int) -> None:
    """Serve this process's metrics over HTTP on ``port`` (a thread of its own)."""
    start_http_server(port, addr="0.0.0.0", registry=process_registry())
