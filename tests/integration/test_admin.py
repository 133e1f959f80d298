"""The Django admin: read-model tables read-only, write-side changes through the bus."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.domain.model import UnknownLine
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord
from allocation.service_layer.messagebus import TooMuchContention
from orders_read.models import BatchView, EventLog, OrderLineView, OrderView, SkuStock
from tests.integration.test_forms import assert_tied_to_its_field, confirmation_box

pytestmark = pytest.mark.django_db

WRITE_MODELS = (ProductRecord, BatchRecord, OrderLineRecord, OutboxEvent)
READ_MODELS = (OrderView, OrderLineView, BatchView, SkuStock, EventLog)


def write_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITE_MODELS}


def url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def lamp_orders(committed) -> None:
    """o1 has 4 LAMP in the warehouse batch; a shipment batch could take them."""
    bus = bootstrap()
    committed(bus.handle, commands.CreateBatch("b-wh", "LAMP", 10))
    committed(bus.handle, commands.CreateBatch("b-ship", "LAMP", 10, date(2031, 5, 1)))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 4))
    committed(bus.handle, commands.Allocate("o2", "LAMP", 50))  # waits


# -- read model ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", READ_MODELS)
def test_read_model_tables_are_listed_searchable_and_filterable(
    client, superuser, lamp_orders, model
):
    listing = client.get(url(model, "changelist"))
    assert listing.status_code == 200
    assert client.get(url(model, "changelist") + "?q=LAMP").status_code == 200
    for spec in listing.context["cl"].filter_specs:
        for choice in spec.choices(listing.context["cl"]):
            assert client.get(url(model, "changelist") + choice["query_string"]).status_code == 200


@pytest.mark.parametrize("model", READ_MODELS)
def test_read_model_tables_cannot_be_changed(client, superuser, lamp_orders, model):
    row = model.objects.first()
    assert client.get(url(model, "add")).status_code == 403
    assert client.get(url(model, "delete", row.pk)).status_code == 403
    detail = client.get(url(model, "change", row.pk))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # view only
    assert client.post(url(model, "change", row.pk), {}).status_code == 403


def test_list_columns(client, superuser, lamp_orders):
    html = client.get(url(OrderView, "changelist")).content.decode()
    for column in ["Orderid", "Status", "Expected ship date", "Waiting lines"]:
        assert column in html
    html = client.get(url(SkuStock, "changelist") + "?level=backordered").content.decode()
    assert "LAMP" in html
    assert "With waiting demand" in html


# -- write side: every save is a command --------------------------------------------------


def test_adding_a_batch_sends_create_batch(client, superuser, committed):
    data = {
        "reference": "b1",
        "sku": "CHAIR",
        "purchased_quantity": 7,
        "eta": "2031-05-01",
        "new_sku": "CHAIR",  # the first batch of a new SKU: its box ticked
    }
    response = committed(client.post, url(BatchRecord, "add"), data)
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    batch = BatchRecord.objects.get(reference="b1")
    assert (batch.product_id, batch.purchased_quantity, batch.eta) == ("CHAIR", 7, date(2031, 5, 1))
    assert ProductRecord.objects.get(sku="CHAIR").version_number == 1
    assert list(OutboxEvent.objects.values_list("name", "sku", "version")) == [
        ("BatchCreated", "CHAIR", 1)
    ]
    assert BatchView.objects.get(reference="b1").purchased == 7  # the projection ran too


def test_adding_a_batch_asks_before_creating_a_sku_nobody_has_seen(client, superuser, lamp_orders):
    """The Add batch page's question, with its words and its box."""
    before = write_counts()
    typo = {"reference": "b-new", "sku": "LAMPS", "purchased_quantity": 5}
    response = client.post(url(BatchRecord, "add"), typo)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["sku"] == [
        "SKU LAMPS is new: check the spelling (did you mean LAMP?), or tick"
        " 'Create new SKU LAMPS' below."
    ]
    html = response.content.decode()
    assert "Please correct the error below." in html
    assert_tied_to_its_field(html, "id_sku")
    assert confirmation_box(html, "new_sku") == ("LAMPS", False)
    assert "Create new SKU LAMPS</label>" in html
    assert re.search(r'name="new_sku"[^>]*aria-describedby="id_sku_error"', html)
    assert write_counts() == before

    # A tick given for another SKU confirms nothing.
    response = client.post(url(BatchRecord, "add"), typo | {"sku": "DESK", "new_sku": "LAMPS"})
    assert response.status_code == 200
    assert "SKU DESK is new" in response.context["adminform"].form.errors["sku"][0]
    assert confirmation_box(response.content.decode(), "new_sku") == ("DESK", False)
    assert write_counts() == before


def test_a_ticked_new_sku_is_created_through_the_bus(client, superuser, lamp_orders, committed):
    data = {"reference": "b-new", "sku": "LAMPS", "purchased_quantity": 5, "new_sku": "LAMPS"}
    response = committed(client.post, url(BatchRecord, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert BatchRecord.objects.get(reference="b-new").product_id == "LAMPS"
    assert list(OutboxEvent.objects.filter(sku="LAMPS").values_list("name", "version")) == [
        ("BatchCreated", 1)
    ]
    assert SkuStock.objects.get(sku="LAMPS").available == 5  # the projection ran too


def test_a_known_sku_needs_no_tick_and_shows_no_question(client, superuser, lamp_orders, committed):
    page = client.get(url(BatchRecord, "add")).content.decode()
    assert confirmation_box(page, "new_sku") is None
    # The SKU box suggests the known SKUs, from the list the page brings.
    assert re.search(r'<input[^>]* list="known-skus"[^>]* id="id_sku"', page)
    assert '<datalist id="known-skus"' in page
    assert '<option value="LAMP">' in page

    data = {"reference": "b-more", "sku": "LAMP", "purchased_quantity": 3}
    response = committed(client.post, url(BatchRecord, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert BatchRecord.objects.get(reference="b-more").product_id == "LAMP"


def test_adding_a_batch_says_a_taken_reference_and_a_new_sku_at_once(
    client, superuser, lamp_orders
):
    before = write_counts()
    data = {"reference": "b-wh", "sku": "DESK", "purchased_quantity": 5}
    response = client.post(url(BatchRecord, "add"), data)
    errors = response.context["adminform"].form.errors
    assert errors["reference"] == ["Batch b-wh already exists"]
    assert "SKU DESK is new" in errors["sku"][0]
    assert write_counts() == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"reference": "b-wh", "sku": "LAMP", "purchased_quantity": 5},
            "reference",
            "already exists",
        ),
        (
            {"reference": "b2", "sku": "LAMP", "purchased_quantity": 0},
            "purchased_quantity",
            "positive",
        ),
        ({"reference": "b2", "sku": "", "purchased_quantity": 5}, "sku", "required"),
        (
            {"reference": "b2", "sku": "LAMP", "purchased_quantity": -1},
            "purchased_quantity",
            "greater",
        ),
    ],
)
def test_refused_batches_show_admin_errors_and_write_nothing(
    client, superuser, lamp_orders, data, field, message
):
    before = write_counts()
    response = client.post(url(BatchRecord, "add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors[field]
    assert any(message in error for error in errors), errors
    assert "Please correct the error below." in response.content.decode()
    assert write_counts() == before


def test_changing_a_quantity_sends_the_command_and_the_line_moves(
    client, superuser, lamp_orders, committed
):
    batch = BatchRecord.objects.get(reference="b-wh")
    version = ProductRecord.objects.get(sku="LAMP").version_number
    response = committed(
        client.post, url(BatchRecord, "change", batch.pk), {"purchased_quantity": 2}
    )
    assert response.status_code == 302
    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b-ship"
    assert ProductRecord.objects.get(sku="LAMP").version_number == version + 3
    new_events = OutboxEvent.objects.filter(version__gt=version).order_by("version")
    assert list(new_events.values_list("name", flat=True)) == [
        "BatchQuantityChanged",
        "Deallocated",
        "Allocated",
    ]
    assert OrderLineView.objects.get(orderid="o1").batchref == "b-ship"


def test_the_change_form_edits_only_the_quantity(client, superuser, lamp_orders):
    batch = BatchRecord.objects.get(reference="b-wh")
    form = client.get(url(BatchRecord, "change", batch.pk)).context["adminform"].form
    assert list(form.fields) == ["purchased_quantity"]
    assert client.get(url(BatchRecord, "delete", batch.pk)).status_code == 403


def test_contention_becomes_an_admin_error_not_a_500(client, superuser, lamp_orders, monkeypatch):
    def busy(command, actor):
        raise TooMuchContention("The product is busy: retry")

    monkeypatch.setattr(
        "allocation.entrypoints.admin.write_side.bootstrap",
        lambda: type("Bus", (), {"handle": staticmethod(busy)}),
    )
    batch = BatchRecord.objects.get(reference="b-wh")
    before = write_counts()
    response = client.post(url(BatchRecord, "change", batch.pk), {"purchased_quantity": 2})
    assert response.status_code == 200
    assert "The product is busy: retry" in response.content.decode()
    assert write_counts() == before


def test_deallocate_action_sends_deallocate_for_each_line(
    client, superuser, lamp_orders, committed
):
    pks = list(OrderLineRecord.objects.values_list("pk", flat=True))
    data = {"action": "deallocate", "_selected_action": pks, "index": 0}
    response = committed(client.post, url(OrderLineRecord, "changelist"), data, follow=True)
    assert "Cancelled 2 line(s)." in response.content.decode()
    assert not OrderLineRecord.objects.exists()
    names = set(OutboxEvent.objects.values_list("name", flat=True))
    assert {"Deallocated", "BackorderCancelled"} <= names
    assert not OrderLineView.objects.exists()


def test_deallocate_action_reports_domain_errors(client, superuser, lamp_orders, monkeypatch):
    def refuse(command, actor):
        raise UnknownLine(f"Order {command.orderid} has no line for sku {command.sku}")

    monkeypatch.setattr(
        "allocation.entrypoints.admin.write_side.bootstrap",
        lambda: type("Bus", (), {"handle": staticmethod(refuse)}),
    )
    pk = OrderLineRecord.objects.get(orderid="o1").pk
    data = {"action": "deallocate", "_selected_action": [pk], "index": 0}
    response = client.post(url(OrderLineRecord, "changelist"), data, follow=True)
    assert response.status_code == 200
    assert (
        "Could not cancel o1 / LAMP: Order o1 has no line for sku LAMP" in response.content.decode()
    )


def test_staff_need_the_command_permissions(client, django_user_model, lamp_orders):
    user = django_user_model.objects.create_user("clerk", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="change_batch_quantity"))
    client.force_login(user)
    batch = BatchRecord.objects.get(reference="b-wh")
    assert client.get(url(BatchRecord, "changelist")).status_code == 200
    assert client.get(url(BatchRecord, "change", batch.pk)).status_code == 200
    assert client.get(url(BatchRecord, "add")).status_code == 403
    before = write_counts()
    response = client.post(
        url(BatchRecord, "add"), {"reference": "x", "sku": "LAMP", "purchased_quantity": 1}
    )
    assert response.status_code == 403
    assert client.get(url(OrderLineRecord, "changelist")).status_code == 403
    assert write_counts() == before


def test_the_admin_is_branded_and_says_batches(client, superuser):
    html = client.get(reverse("admin:index")).content.decode()
    assert "<title>Stock, orders and events | Allocation admin</title>" in html
    assert "Allocation administration" in html
    assert "Django administration" not in html
    assert ">Batches<" in html
    assert "Batchs" not in html
    names = re.findall(r'<a href="[^"]*/">([^<]+)</a>', html)
    assert not [name for name in names if "record" in name.lower()], names  # business names
    add = client.get(url(BatchRecord, "add")).content.decode()
    assert "Add batch<" in add
