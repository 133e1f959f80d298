"""The command forms: permissions, CSRF, validation that writes nothing, and results
that the redirected-to page already shows (read-your-writes)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints.forms import MAX_LINES
from allocation.models import BatchRecord, OrderLineRecord
from orders_read.models import OrderLineView
from tests.fixtures.users import make_user

pytestmark = pytest.mark.django_db

PERMISSIONS = {
    "/batches/new/": "create_batch",
    "/batches/import/": "create_batch",
    "/place-order/": "allocate_line",
    "/batches/change-quantity/": "change_batch_quantity",
    "/deallocate/": "deallocate_line",
}
SHIP_DATE = date(2031, 5, 1)


@pytest.fixture
def lamp_and_table(committed) -> None:
    """LAMP: 10 in the warehouse (b-wh) and 10 arriving (b-ship)."""
    bus = bootstrap()
    committed(bus.handle, commands.CreateBatch("b-wh", "LAMP", 10))
    committed(bus.handle, commands.CreateBatch("b-ship", "LAMP", 10, SHIP_DATE))
    committed(bus.handle, commands.CreateBatch("t-wh", "TABLE", 3))


def assert_tied_to_its_field(html: str, field_id: str) -> None:
    """The field is marked invalid and names the element holding its errors, which exists
    (a screen reader reads the errors with the field: ``aria-describedby``)."""
    widget = re.search(rf'<(?:input|select)[^>]* id="{field_id}"[^>]*>', html)
    assert widget, f"no field {field_id}"
    assert 'aria-invalid="true"' in widget.group()
    described = re.search(r'aria-describedby="([^"]*)"', widget.group())
    assert described, widget.group()
    assert f"{field_id}_error" in described.group(1).split()
    assert html.count(f'id="{field_id}_error"') == 1


def lines_form(orderid: str, *lines: tuple[str, Any], total: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "orderid": orderid,
        "lines-TOTAL_FORMS": total if total is not None else max(len(lines), 3),
        "lines-INITIAL_FORMS": 0,
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 20,
    }
    for n, (sku, qty) in enumerate(lines):
        data[f"lines-{n}-sku"] = sku
        data[f"lines-{n}-qty"] = qty
    return data


# -- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PERMISSIONS)
def test_anonymous_users_are_sent_to_log_in_and_nothing_is_written(client, url, write_counts):
    before = write_counts()
    for response in [client.get(url), client.post(url, {"ref": "x", "sku": "y", "qty": 1})]:
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")
    assert write_counts() == before


@pytest.mark.parametrize("url", PERMISSIONS)
def test_users_without_the_permission_get_403_on_get_and_post(
    client, django_user_model, lamp_and_table, url, write_counts
):
    others = [p for p in PERMISSIONS.values() if p != PERMISSIONS[url]]
    client.force_login(make_user(django_user_model, "clerk", *others))
    before = write_counts()
    data = {
        "ref": "b-wh",
        "sku": "LAMP",
        "qty": 1,
        "orderid": "o1",
        **lines_form("o1", ("LAMP", 1)),
    }
    assert client.get(url).status_code == 403
    assert client.post(url, data).status_code == 403
    assert write_counts() == before


@pytest.mark.parametrize("url", PERMISSIONS)
def test_each_permission_opens_its_own_form(client, django_user_model, url):
    client.force_login(make_user(django_user_model, "clerk", PERMISSIONS[url]))
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


@pytest.mark.parametrize("url", PERMISSIONS)
def test_posts_without_a_csrf_token_are_refused(operator, lamp_and_table, url, write_counts):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    before = write_counts()
    response = browser.post(
        url, {"ref": "new", "sku": "LAMP", "qty": 1, **lines_form("o", ("LAMP", 1))}
    )
    assert response.status_code == 403
    assert write_counts() == before


def test_login_and_logout(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("ann", password="pw")
    page = client.get("/accounts/login/?next=/orders/")
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()

    wrong = client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    assert wrong.status_code == 200
    assert "Please enter a correct username and password" in wrong.content.decode()

    right = client.post(
        "/accounts/login/", {"username": "ann", "password": "pw", "next": "/orders/"}
    )
    assert right.status_code == 302
    assert right.url == "/orders/"
    assert client.get("/").status_code == 200

    out = client.post("/accounts/logout/")
    assert out.status_code == 302
    assert out.url == "/accounts/login/"
    assert client.get("/").status_code == 302


# -- success: the next page already shows the result ----------------------------------


def test_add_batch_then_its_sku_page_shows_it(client, operator, committed):
    response = committed(
        client.post, "/batches/new/", {"ref": "b1", "sku": "CHAIR", "qty": 7, "eta": "2031-05-01"}
    )
    assert response.status_code == 302
    assert response.url == "/stock/CHAIR/"
    page = client.get(response.url)
    assert page.context["stale"] is False
    html = page.content.decode()
    assert "Batch b1 added: 7 x CHAIR." in html
    assert "<strong>b1</strong>" in html
    assert "ETA May 1, 2031" in html
    assert BatchRecord.objects.get(reference="b1").purchased_quantity == 7


def test_place_order_then_its_page_shows_batches_and_waiting_lines(
    client, operator, lamp_and_table, committed
):
    response = committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4), ("TABLE", 5)))
    assert response.status_code == 302
    assert response.url == "/orders/o1/"
    page = client.get(response.url)
    lines = {i.line.sku: i.line.batchref for i in page.context["detail"].lines}
    assert lines == {"LAMP": "b-wh", "TABLE": None}
    html = page.content.decode()
    assert "Order o1 placed: LAMP → b-wh, TABLE waiting." in html
    assert "waiting for stock" in html
    assert "Partly allocated" in html
    assert "4 x LAMP allocated to batch b-wh" in html
    assert "5 x TABLE waiting for stock" in html


def test_placing_the_same_order_again_changes_nothing(
    client, operator, lamp_and_table, committed, write_counts
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    before = write_counts()
    response = committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    assert response.status_code == 302
    assert write_counts() == before


def test_change_quantity_moves_the_line_and_both_pages_show_it(
    client, operator, lamp_and_table, committed
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    response = committed(client.post, "/batches/change-quantity/", {"ref": "b-wh", "qty": 2})
    assert response.status_code == 302
    assert response.url == "/stock/LAMP/"
    sku_page = client.get(response.url)
    served = {
        b.batch.reference: [line.orderid for line in b.lines]
        for b in sku_page.context["detail"].batches
    }
    assert served == {"b-wh": [], "b-ship": ["o1"]}
    assert "Batch b-wh now holds 2 units." in sku_page.content.decode()

    history = [e.name for e in client.get("/orders/o1/").context["detail"].history]
    assert history == ["Allocated", "Deallocated", "Allocated"]


def test_deallocate_then_the_order_page_shows_the_cancellation(
    client, operator, lamp_and_table, committed
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    response = committed(client.post, "/deallocate/", {"orderid": "o1", "sku": "LAMP"})
    assert response.status_code == 302
    assert response.url == "/orders/o1/"
    html = client.get(response.url).content.decode()
    assert "The LAMP line of order o1 was cancelled." in html
    assert "every line of this order was cancelled" in html
    assert "4 x LAMP taken off batch b-wh" in html
    assert not OrderLineView.objects.filter(orderid="o1").exists()


def test_forms_are_prefilled_from_links(client, operator):
    html = client.get("/batches/change-quantity/?ref=b-wh").content.decode()
    assert 'value="b-wh"' in html
    html = client.get("/deallocate/?orderid=o1&sku=LAMP").content.decode()
    assert 'value="o1"' in html
    assert 'value="LAMP"' in html


# -- bad input: a visible error next to the field, and nothing written ------------------

BAD_INPUT = [
    ("/batches/new/", {"sku": "LAMP", "qty": 1}, "ref", "This field is required."),
    ("/batches/new/", {"ref": "b9", "sku": "LAMP", "qty": 0}, "qty", "greater than or equal to 1"),
    ("/batches/new/", {"ref": "b9", "sku": "LAMP", "qty": "many"}, "qty", "Enter a whole number."),
    ("/batches/new/", {"ref": "b9", "sku": "LAMP", "qty": 2**31}, "qty", "less than or equal to"),
    ("/batches/new/", {"ref": "   ", "sku": "LAMP", "qty": 1}, "ref", "This field is required."),
    ("/batches/new/", {"ref": "b9", "sku": "x" * 256, "qty": 1}, "sku", "at most 255 characters"),
    (
        "/batches/new/",
        {"ref": "b9", "sku": "LAMP", "qty": 1, "eta": "2031-13-45"},
        "eta",
        "Enter a valid date.",
    ),
    ("/batches/new/", {"ref": "b-wh", "sku": "LAMP", "qty": 1}, "ref", "Batch b-wh already exists"),
    ("/batches/change-quantity/", {"ref": "nope", "qty": 1}, "ref", "Invalid batch ref nope"),
    ("/batches/change-quantity/", {"ref": "b-wh", "qty": -1}, "qty", "greater than or equal to 0"),
    ("/batches/change-quantity/", {"ref": "b-wh"}, "qty", "This field is required."),
    ("/deallocate/", {"orderid": "o1", "sku": "NOPE"}, "sku", "Invalid sku NOPE"),
    ("/deallocate/", {"orderid": "nobody", "sku": "LAMP"}, None, "Order nobody has no line"),
    ("/deallocate/", {"sku": "LAMP"}, "orderid", "This field is required."),
]


@pytest.mark.parametrize(("url", "data", "field", "message"), BAD_INPUT)
def test_bad_input_shows_an_error_next_to_the_field_and_writes_nothing(
    client, operator, lamp_and_table, url, data, field, message, write_counts
):
    before = write_counts()
    response = client.post(url, data)
    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors.get(field or "__all__", [])
    assert any(message in error for error in errors), form.errors
    html = response.content.decode()
    if field:
        assert_tied_to_its_field(html, f"id_{field}")
    else:
        assert 'class="form-errors"' in html
    assert write_counts() == before


BAD_ORDERS = [
    (lines_form("", ("LAMP", 1)), "order", "orderid", "This field is required."),
    (lines_form("o2"), "lines", None, "An order needs at least one line."),
    (lines_form("o2", ("NOPE", 1)), "line0", "sku", "Invalid sku NOPE"),
    (lines_form("o2", ("LAMP", 1), ("NOPE", 1)), "line1", "sku", "Invalid sku NOPE"),
    (lines_form("o2", ("LAMP", 0)), "line0", "qty", "greater than or equal to 1"),
    (lines_form("o2", ("LAMP", "")), "line0", "qty", "This field is required."),
    (lines_form("o2", ("LAMP", 1), ("LAMP", 2)), "lines", None, "only once"),
    (lines_form("o2", *[("LAMP", 1)] * 21), "lines", None, "Please submit at most 20 forms."),
    (lines_form("o1", ("LAMP", 5)), "line0", "qty", "already has 4 of LAMP"),
]


@pytest.mark.parametrize(("data", "where", "field", "message"), BAD_ORDERS)
def test_bad_orders_show_errors_on_their_lines_and_write_nothing(
    client, operator, lamp_and_table, committed, data, where, field, message, write_counts
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    before = write_counts()
    response = client.post("/place-order/", data)
    assert response.status_code == 200
    form = response.context["form"]
    field_id = None
    if where == "order":
        errors = form.order.errors[field]
        field_id = f"id_{field}"
    elif where == "lines":
        errors = form.lines.non_form_errors()
    else:
        errors = form.lines.forms[int(where[-1])].errors[field]
        field_id = f"id_lines-{where[-1]}-{field}"
    assert any(message in error for error in errors), errors
    html = response.content.decode()
    assert message.replace("'", "&#x27;") in html
    if field_id:
        assert_tied_to_its_field(html, field_id)
    assert write_counts() == before


def test_a_huge_line_count_builds_no_more_lines_than_an_order_may_have(client, operator):
    """``lines-TOTAL_FORMS`` comes from the browser: 999,999 builds and renders 20 lines
    (Django's own cap would be 1,020), and says so."""
    response = client.post("/place-order/", lines_form("o2", ("LAMP", 1), total=999_999))
    assert response.status_code == 200
    lines = response.context["form"].lines
    assert len(lines.forms) == MAX_LINES
    assert lines.non_form_errors() == ["Please submit at most 20 forms."]


def test_a_line_the_bus_refuses_after_others_were_placed_is_reported(
    client, operator, lamp_and_table, committed, monkeypatch
):
    """A SKU the read model knows but the write side does not (cannot happen, simulated)."""
    monkeypatch.setattr("orders_read.selectors.stock.known_skus", lambda skus: set(skus))
    response = committed(client.post, "/place-order/", lines_form("o3", ("LAMP", 1), ("GHOST", 1)))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.lines.forms[1].errors["sku"] == ["Invalid sku GHOST"]
    assert "placed before the error: LAMP → b-wh" in form.order.non_field_errors()[0]
    assert OrderLineRecord.objects.filter(orderid="o3").count() == 1
