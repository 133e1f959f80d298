"""/metrics: Prometheus text with requests, commands and the event pipeline's state."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from allocation.domain import commands
from allocation.models import DeadLetter

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(response.content.decode())
    }


def test_metrics_count_requests_by_view_and_status(client):
    before = scrape(client)["allocation_http_requests"]
    key = (("status", "200"), ("view", "healthz"))
    client.get("/healthz")
    client.get("/healthz")
    after = scrape(client)["allocation_http_requests"]
    assert after[key] - before.get(key, 0) == 2
    client.get("/no/such/page")
    assert scrape(client)["allocation_http_requests"][(("status", "404"), ("view", "<unresolved>"))]


def test_metrics_count_commands_by_outcome(client, bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 5))
    with pytest.raises(Exception, match="already exists"):
        bus.handle(commands.CreateBatch("b1", "LAMP", 5))
    counted = scrape(client)["allocation_commands"]
    assert counted[(("command", "add_batch"), ("outcome", "ok"))] >= 1
    assert counted[(("command", "add_batch"), ("outcome", "DuplicateBatch"))] >= 1


def test_metrics_report_events_not_applied_and_dead_letters(client, bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 5))
    families = scrape(client)
    assert families["allocation_events_unapplied"][()] == 0
    assert families["allocation_events_unapplied_oldest_age_seconds"][()] == 0

    DeadLetter.objects.create(
        handler="update_read_model", event_name="X", payload={}, error="e", sku="LAMP", version=9
    )
    assert scrape(client)["allocation_events_dead_lettered"][()] == 1
