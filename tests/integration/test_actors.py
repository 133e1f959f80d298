"""Who did what: each entrypoint's actor is stored with the events of its command, and
reaches the read model's history by every path an event takes (the relay, a retry, the
reconciler's resend, a dead letter's replay, a rebuild); the pages say it in words.

The autouse check of ``tests/integration/conftest.py`` also compares each scenario's
read model, actors included, with a rebuild.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from allocation.adapters import outbox, tokens
from allocation.adapters.unit_of_work import DjangoUnitOfWork
from allocation.bootstrap import bootstrap, rebuild_read_model
from allocation.domain import commands, events
from allocation.entrypoints import redis_consumer, redis_streams
from allocation.models import BatchRecord, DeadLetter, OutboxEvent
from allocation.service_layer import delivery
from allocation.service_layer.actor import Actor
from orders_read import projections, tracking
from orders_read.models import EventLog
from tests.fixtures.users import make_user

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = Actor.user("alice")


def stored() -> dict[tuple[str, int], str | None]:
    """Who each outbox row says asked, by (sku, version)."""
    rows = OutboxEvent.objects.values_list("sku", "version", "actor")
    return {(sku, version): actor for sku, version, actor in rows}


def logged() -> dict[tuple[str, int], str | None]:
    """Who the read model's history says asked, by (sku, version)."""
    rows = EventLog.objects.values_list("sku", "version", "actor")
    return {(sku, version): actor for sku, version, actor in rows}


def relaying_bus() -> Any:
    """A bus whose commits leave their events to the relay, as in production."""
    return bootstrap(uow=DjangoUnitOfWork())


def lamp_with_a_waiting_line(actor: Actor = ALICE) -> None:
    """LAMP v1 batch of 1 (by ``actor``), v2 o1 waits for 5 (by ``actor``)."""
    bus = bootstrap()
    bus.handle(commands.CreateBatch("b1", "LAMP", 1), actor)
    bus.handle(commands.Allocate("o1", "LAMP", 5), actor)


# -- every path an event takes ------------------------------------------------------------------


def test_the_actor_travels_through_the_relay_to_the_history_and_a_rebuild_keeps_it():
    bus = relaying_bus()
    bus.handle(commands.CreateBatch("b1", "LAMP", 10), ALICE)
    bus.handle(commands.Allocate("o1", "LAMP", 2), Actor.command_line("bob"))
    assert stored() == {("LAMP", 1): "user:alice", ("LAMP", 2): "cli:bob"}
    assert logged() == {}  # nothing sent yet

    assert outbox.relay(outbox.send_events_to_workers) == 2
    assert logged() == stored()
    rebuild_read_model()
    assert logged() == stored()


def test_a_resent_event_keeps_its_actor():
    relaying_bus().handle(commands.CreateBatch("b1", "LAMP", 10), ALICE)
    assert outbox.relay(lambda batch: None) == 1  # the broker took it, then lost it
    then = timezone.now() - timedelta(minutes=5)
    OutboxEvent.objects.update(created_at=then, sent_at=then)

    ledger = outbox.OutboxLedger(outbox.send_events_to_workers)
    assert delivery.reconcile(ledger, tracking, timedelta(minutes=1)) == 1
    assert logged() == {("LAMP", 1): "user:alice"}


def test_an_event_retried_after_a_failed_projection_keeps_its_actor(monkeypatch):
    real_project = projections.project
    failures: list[int] = []

    def project_on_the_third_try(batch: list[events.Event]) -> None:
        if len(failures) < 2:
            failures.append(len(batch))
            raise RuntimeError("the read model is restarting")
        real_project(batch)

    monkeypatch.setattr(projections, "project", project_on_the_third_try)
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 10), ALICE)
    assert failures == [1, 1]  # the batch's try, then the single event's first
    assert logged() == {("LAMP", 1): "user:alice"}  # the retry carried it


def test_a_replayed_dead_letter_keeps_its_actor(admin_client, monkeypatch):
    real_project = projections.project

    def refuse(batch: list[events.Event]) -> None:
        raise RuntimeError("cannot project this one")

    monkeypatch.setattr(projections, "project", refuse)
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 10), ALICE)
    letter = DeadLetter.objects.get()
    assert "actor" not in letter.payload  # the payload is the fact alone

    monkeypatch.setattr(projections, "project", real_project)  # the cause is fixed
    admin_client.post(
        "/admin/allocation/deadletter/", {"action": "replay", "_selected_action": [letter.pk]}
    )
    assert logged() == {("LAMP", 1): "user:alice"}


def test_lines_allocated_when_stock_arrives_are_attributed_to_who_added_it():
    lamp_with_a_waiting_line()
    bootstrap().handle(commands.CreateBatch("b2", "LAMP", 10), Actor.command_line("bob"))
    allocated = EventLog.objects.get(name="Allocated", orderid="o1")
    assert allocated.actor == "cli:bob"
    assert logged()[("LAMP", 2)] == "user:alice"  # its wait was alice's order


# -- who each entrypoint says ---------------------------------------------------------------------


def newest_actor() -> str | None:
    return OutboxEvent.objects.order_by("-id").values_list("actor", flat=True).first()


def test_a_form_acts_for_the_logged_in_user(client, operator):
    new_batch = {"ref": "b1", "sku": "LAMP", "qty": 5, "new_sku": "LAMP"}  # a new SKU: yes
    response = client.post("/batches/new/", new_batch)
    assert response.status_code == 302
    assert newest_actor() == "user:operator"
    order = {"orderid": "o1", "lines-TOTAL_FORMS": 1, "lines-INITIAL_FORMS": 0}
    client.post("/place-order/", {**order, "lines-0-sku": "LAMP", "lines-0-qty": 1})
    assert OutboxEvent.objects.get(name="Allocated").actor == "user:operator"


def test_a_confirmed_change_and_cancellation_act_for_the_logged_in_user(client, operator):
    bus = bootstrap()
    bus.handle(commands.CreateBatch("b1", "LAMP", 5), ALICE)
    bus.handle(commands.Allocate("o1", "LAMP", 4), ALICE)
    preview = client.post("/batches/change-quantity/", {"ref": "b1", "qty": 2})
    assert newest_actor() == "user:alice"  # a preview writes nothing
    confirm = {"ref": "b1", "qty": 2, "previewed": preview.context["preview"].fingerprint}
    assert client.post("/batches/change-quantity/", confirm).status_code == 302
    changed = OutboxEvent.objects.filter(name__in=["BatchQuantityChanged", "Deallocated"])
    assert set(changed.values_list("actor", flat=True)) == {"user:operator"}
    bus.handle(commands.Allocate("o2", "LAMP", 1), ALICE)
    cancel = {"orderid": "o2", "sku": "LAMP", "confirmed": "yes"}
    assert client.post("/deallocate/", cancel).status_code == 302
    assert newest_actor() == "user:operator"


def test_the_csv_import_acts_for_the_logged_in_user(client, operator):
    rows = json.dumps([[2, "b1", "LAMP", 5, ""]])
    assert client.post("/batches/import/", {"rows": rows}).status_code == 302
    assert OutboxEvent.objects.get(name="BatchCreated").actor == "user:operator"


def test_the_admin_acts_for_the_logged_in_user(admin_client, admin_user):
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 5))
    batch = BatchRecord.objects.get(reference="b1")
    change = f"/admin/allocation/batchrecord/{batch.pk}/change/"
    assert admin_client.post(change, {"purchased_quantity": 7}).status_code == 302
    assert newest_actor() == f"user:{admin_user.username}"


def test_the_api_acts_for_the_tokens_user_else_the_sessions_else_a_client(
    client, api, settings, django_user_model
):
    api.add_batch("b1", "LAMP", 5)
    assert newest_actor() == "api"  # the API open, nobody logged in (development)

    robot = make_user(django_user_model, "robot", "allocate_line")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue(robot, 'warehouse')}"}
    settings.API_REQUIRE_TOKEN = True
    assert api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1}, **bearer).status_code
    assert newest_actor() == "user:robot"

    settings.API_REQUIRE_TOKEN = False
    client.force_login(make_user(django_user_model, "carol"))
    api.post("allocate", {"orderid": "o2", "sku": "LAMP", "qty": 1})
    assert newest_actor() == "user:carol"


def test_a_management_command_acts_for_the_operator(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    call_command("add_batch", "b1", "LAMP", "5", stdout=StringIO())
    assert newest_actor() == "cli:ops"
    call_command("allocate", "o1", "LAMP", "1", "--as", "dave", stdout=StringIO())
    assert newest_actor() == "cli:dave"


@pytest.mark.parametrize(
    ("name", "problem"),
    [(" dave", "must have no outer spaces"), ("d" * 151, "must be at most 150 characters")],
)
def test_an_operators_name_follows_the_input_rules(name, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("add_batch", "b1", "LAMP", "5", "--as", name)
    assert not OutboxEvent.objects.exists()


def test_redis_messages_act_for_redis():
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 5))
    assert redis_consumer.handle_message(b'{"batchref": "b1", "qty": 6}', bootstrap())
    assert newest_actor() == "redis:change_batch_quantity"
    fields = {b"batchref": b"b1", b"qty": b"7"}
    applied = redis_streams.apply("1-0", fields, bootstrap())
    assert applied.outcome is redis_streams.Outcome.APPLIED
    assert OutboxEvent.objects.filter(actor="redis:change_batch_quantity").count() == 2


# -- the pages say it, a name only to those who may see users -------------------------------------


@pytest.fixture
def people_viewer(client, django_user_model) -> Any:
    """Logged in on ``client``; may see the site's users, so their names in histories."""
    user = make_user(django_user_model, "manager")
    user.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(user)
    return user


PAGES = [("/", "dashboard"), ("/stock/LAMP/", "SKU"), ("/orders/o1/", "order")]


@pytest.mark.parametrize(("url", "page"), PAGES)
def test_each_history_says_who_by_name_to_those_who_may_see_users(client, people_viewer, url, page):
    lamp_with_a_waiting_line()
    html = client.get(url).content.decode()
    assert '<span class="actor muted small">by alice</span>' in html, page
    assert "user:alice" not in html


@pytest.mark.parametrize(("url", "page"), PAGES)
def test_each_history_hides_names_from_the_others(client, viewer, url, page):
    lamp_with_a_waiting_line()
    html = client.get(url).content.decode()
    assert '<span class="actor muted small">by a user</span>' in html, page
    assert "alice" not in html


def test_an_event_stored_before_actors_were_recorded_says_no_one(client, people_viewer):
    lamp_with_a_waiting_line()
    for table in (OutboxEvent, EventLog):  # as the migration left the events before it
        table.objects.update(actor=None)
    html = client.get("/orders/o1/").content.decode()
    assert 'class="actor' not in html


@pytest.mark.parametrize(
    ("grant", "shown"),
    [(("view_eventlog", "view_user"), "by alice"), (("view_eventlog",), "by a user")],
)
def test_the_admins_event_log_says_who_by_the_same_rule(
    client, django_user_model, grant: tuple[str, ...], shown: str
):
    lamp_with_a_waiting_line()
    staff = make_user(django_user_model, "staff", *grant, is_staff=True)
    client.force_login(staff)
    listing = client.get("/admin/orders_read/eventlog/").content.decode()
    assert f'<td class="field-by">{shown}</td>' in listing
    assert "user:alice" not in listing
    entry = EventLog.objects.first()
    assert entry is not None
    detail = client.get(f"/admin/orders_read/eventlog/{entry.pk}/change/").content.decode()
    assert "user:alice" not in detail
