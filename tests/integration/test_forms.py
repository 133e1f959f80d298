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
from orders_read.models import OrderLineView, SkuStock
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
    batch = {"ref": "b1", "sku": "CHAIR", "qty": 7, "eta": "2031-05-01", "new_sku": "CHAIR"}
    response = committed(client.post, "/batches/new/", batch)
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
    assert response.status_code == 302  # nothing to add: no question asked
    assert write_counts() == before
    assert "Order o1 already had these lines: nothing changed." in page_text(client, response)


def test_change_quantity_moves_the_line_and_both_pages_show_it(
    client, operator, lamp_and_table, committed
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    preview = client.post("/batches/change-quantity/", {"ref": "b-wh", "qty": 2})
    assert preview.status_code == 200
    confirm = {"ref": "b-wh", "qty": 2, "previewed": preview.context["preview"].fingerprint}
    response = committed(client.post, "/batches/change-quantity/", confirm)
    assert response.status_code == 302
    assert response.url == "/stock/LAMP/"
    sku_page = client.get(response.url)
    served = {
        b.batch.reference: [line.orderid for line in b.lines]
        for b in sku_page.context["detail"].batches
    }
    assert served == {"b-wh": [], "b-ship": ["o1"]}
    assert (
        "Batch b-wh now holds 2 units. 1 line moved: o1 → b-ship (ETA May 1, 2031)."
        in sku_page.content.decode()
    )

    history = [e.name for e in client.get("/orders/o1/").context["detail"].history]
    assert history == ["Allocated", "Deallocated", "Allocated"]


def test_deallocate_then_the_order_page_shows_the_cancellation(
    client, operator, lamp_and_table, committed
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    confirmed = {"orderid": "o1", "sku": "LAMP", "confirmed": "yes"}
    response = committed(client.post, "/deallocate/", confirmed)
    assert response.status_code == 302
    assert response.url == "/orders/o1/"
    html = client.get(response.url).content.decode()
    assert "The 4 x LAMP line of order o1 was cancelled." in html
    assert "every line of this order was cancelled" in html
    assert "4 x LAMP taken off batch b-wh" in html
    assert not OrderLineView.objects.filter(orderid="o1").exists()


def test_forms_are_prefilled_from_links(client, operator):
    html = client.get("/batches/change-quantity/?ref=b-wh").content.decode()
    assert 'value="b-wh"' in html
    html = client.get("/deallocate/?orderid=o1").content.decode()
    assert 'value="o1"' in html


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
    (lines_form("o2", ("LAMP", 1), ("LAMP", 2)), "line1", "sku", "LAMP is on line 1 already"),
    (lines_form("o2", ("lamp", 1)), "line0", "sku", "Invalid sku lamp: did you mean LAMP?"),
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


def test_a_line_the_bus_refuses_after_the_checks_is_reported_and_the_others_placed(
    client, operator, lamp_and_table, committed
):
    """A SKU the read model knows but the write side does not (cannot happen, simulated):
    the bus refuses its line; the lines on either side of it are placed all the same,
    the form says so, and sending it again without the bad line changes nothing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("orders_read.selectors.stock.known_skus", lambda skus, writes: set(skus))
        order = lines_form("o3", ("LAMP", 1), ("GHOST", 1), ("TABLE", 1))
        response = committed(client.post, "/place-order/", order)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.lines.forms[1].errors["sku"] == ["Invalid sku GHOST"]
    assert form.order.non_field_errors() == [
        "Only some lines were placed: LAMP → b-wh, TABLE → t-wh. The marked lines were not:"
        " correct them and send the order again (placed lines are not placed twice)."
    ]
    assert set(
        OrderLineRecord.objects.filter(orderid="o3").values_list("product_id", flat=True)
    ) == {
        "LAMP",
        "TABLE",
    }
    # The order exists now, by this form's doing: its box comes ticked.
    assert confirmation_box(response.content.decode(), "add_to_order") == ("o3", True)

    again = committed(client.post, "/place-order/", lines_form("o3", ("LAMP", 1), ("TABLE", 1)))
    assert again.status_code == 302
    assert "Order o3 already had these lines: nothing changed." in page_text(client, again)


# -- asking before a new SKU or before adding lines to an existing order ------------------


def page_text(client: Client, redirect: Any) -> str:
    """The page a form redirected to, with its success message."""
    return client.get(redirect.url).content.decode()


def confirmation_box(html: str, name: str) -> tuple[str, bool] | None:
    """The value and the ticked state of the form's confirmation box ``name``, if shown."""
    box = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', html)
    if box is None:
        return None
    value = re.search(r'value="([^"]*)"', box.group())
    assert value, box.group()
    return value.group(1), " checked" in box.group()


def test_add_batch_asks_before_creating_a_sku_nobody_has_seen(
    client, operator, lamp_and_table, committed, write_counts
):
    before = write_counts()
    typo = {"ref": "b-new", "sku": "TABEL", "qty": 5}
    response = client.post("/batches/new/", typo)
    assert response.status_code == 200
    assert response.context["form"].errors["sku"] == [
        "SKU TABEL is new: check the spelling (did you mean TABLE?), or tick"
        " 'Create new SKU TABEL' below."
    ]
    html = response.content.decode()
    assert_tied_to_its_field(html, "id_sku")
    assert confirmation_box(html, "new_sku") == ("TABEL", False)
    assert "Create new SKU TABEL</label>" in html
    # The box names the error that asks the question: a screen reader reads both.
    assert re.search(r'name="new_sku"[^>]*aria-describedby="id_sku_error"', html)
    assert write_counts() == before

    # A tick given for another SKU confirms nothing.
    response = client.post("/batches/new/", typo | {"sku": "DESK", "new_sku": "TABEL"})
    assert "SKU DESK is new" in response.context["form"].errors["sku"][0]
    assert confirmation_box(response.content.decode(), "new_sku") == ("DESK", False)
    assert write_counts() == before

    response = committed(client.post, "/batches/new/", typo | {"new_sku": "TABEL"})
    assert response.status_code == 302
    assert response.url == "/stock/TABEL/"
    assert BatchRecord.objects.get(reference="b-new").product_id == "TABEL"


def test_a_known_sku_needs_no_confirmation_even_before_the_read_model_shows_it(
    client, operator, bus
):
    """Written but not projected yet (nothing commits under the ``db`` fixture, so the
    read model never hears of DESK): the write side's position says it exists."""
    bus.handle(commands.CreateBatch("d-1", "DESK", 2))
    assert not SkuStock.objects.filter(sku="DESK").exists()
    response = client.post("/batches/new/", {"ref": "d-2", "sku": "DESK", "qty": 3})
    assert response.status_code == 302
    assert BatchRecord.objects.get(reference="d-2").product_id == "DESK"


def test_add_batch_says_every_problem_at_once_and_keeps_the_tick(
    client, operator, lamp_and_table, write_counts
):
    before = write_counts()
    response = client.post(
        "/batches/new/", {"ref": "b-wh", "sku": "DESK", "qty": 0, "new_sku": "DESK"}
    )
    form = response.context["form"]
    assert form.errors == {
        "ref": ["Batch b-wh already exists"],
        "qty": ["Must be greater than or equal to 1."],
    }
    assert confirmation_box(response.content.decode(), "new_sku") == ("DESK", True)

    response = client.post("/batches/new/", {"ref": "b-wh", "sku": "DESK", "qty": 0})
    assert set(response.context["form"].errors) == {"ref", "sku", "qty"}
    html = response.content.decode()
    for field in ("ref", "sku", "qty"):
        assert_tied_to_its_field(html, f"id_{field}")
    assert write_counts() == before


def test_place_order_reports_every_problem_in_one_pass(
    client, operator, lamp_and_table, write_counts
):
    before = write_counts()
    order = lines_form(
        "a/b", ("LAMP", 0), ("lamp", 1), ("TABLE", 1), ("TABLE", 2), ("", 3), total=6
    )
    response = client.post("/place-order/", order)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.order.errors["orderid"] == ["Must not contain '/'."]
    assert [dict(line.errors) for line in form.lines.forms] == [
        {"qty": ["Must be greater than or equal to 1."]},
        {"sku": ["Invalid sku lamp: did you mean LAMP?"]},
        {},
        {"sku": ["TABLE is on line 3 already: one line per SKU."]},
        {"sku": ["This field is required."]},
        {},
    ]
    html = response.content.decode()
    for field_id in ("id_orderid", "id_lines-0-qty", "id_lines-1-sku", "id_lines-3-sku"):
        assert_tied_to_its_field(html, field_id)
    lines = html[: html.index('<template id="empty-line">')]  # the blank line the script copies
    rows = re.findall(r'<tr class="line-form( has-error)?">', lines)
    assert rows == [" has-error", " has-error", "", " has-error", " has-error", ""]
    assert write_counts() == before


def test_reusing_an_order_id_asks_before_adding_lines_to_it(
    client, operator, lamp_and_table, committed, write_counts
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    before = write_counts()
    more = lines_form("o1", ("LAMP", 4), ("TABLE", 1))
    response = client.post("/place-order/", more)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.order.errors["orderid"] == [
        "Order o1 already exists (1 line): add these lines to it?"
        " Tick 'Add these lines to order o1' below."
    ]
    html = response.content.decode()
    assert_tied_to_its_field(html, "id_orderid")
    assert confirmation_box(html, "add_to_order") == ("o1", False)
    # A tick given for another order id confirms nothing.
    response = client.post("/place-order/", more | {"add_to_order": "o2"})
    assert "Order o1 already exists" in response.context["form"].order.errors["orderid"][0]
    assert write_counts() == before

    response = committed(client.post, "/place-order/", more | {"add_to_order": "o1"})
    assert response.status_code == 302
    assert "Added to order o1: TABLE → t-wh." in page_text(client, response)
    assert OrderLineRecord.objects.filter(orderid="o1").count() == 2


def test_the_question_comes_with_the_other_problems(client, operator, lamp_and_table, committed):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    response = client.post("/place-order/", lines_form("o1", ("LAMP", 5), ("NOPE", 1)))
    form = response.context["form"]
    assert "Order o1 already exists (1 line)" in form.order.errors["orderid"][0]
    assert form.lines.forms[0].errors["qty"] == [
        "The order already has 4 of LAMP; cannot change it"
    ]
    assert form.lines.forms[1].errors["sku"] == ["Invalid sku NOPE"]


def test_an_order_whose_lines_were_all_cancelled_still_exists(
    client, operator, lamp_and_table, committed
):
    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    committed(client.post, "/deallocate/", {"orderid": "o1", "sku": "LAMP", "confirmed": "yes"})
    response = client.post("/place-order/", lines_form("o1", ("LAMP", 4)))
    assert response.context["form"].order.errors["orderid"] == [
        "Order o1 already exists (every line cancelled): add these lines to it?"
        " Tick 'Add these lines to order o1' below."
    ]


# -- suggestions: the known SKUs in every SKU box ------------------------------------------


@pytest.mark.parametrize(
    ("url", "boxes"),
    [
        ("/batches/new/", ["id_sku"]),
        ("/place-order/", ["id_lines-0-sku", "id_lines-1-sku", "id_lines-2-sku"]),
        ("/deallocate/", ["id_sku"]),
    ],
)
def test_sku_boxes_suggest_the_known_skus(client, operator, lamp_and_table, url, boxes):
    html = client.get(url).content.decode()
    datalist = re.search(r'<datalist id="known-skus"([^>]*)>(.*?)</datalist>', html, re.S)
    assert datalist, html
    assert 'data-complete="true"' in datalist.group(1)
    assert re.findall(r'<option value="([^"]*)">', datalist.group(2)) == ["LAMP", "TABLE"]
    for box in boxes:
        widget = re.search(rf'<input[^>]* id="{box}"[^>]*>', html)
        assert widget, box
        assert 'list="known-skus"' in widget.group()
        assert 'autocomplete="off"' in widget.group()


def test_cancel_line_suggests_skus_on_its_form_not_on_its_question(
    client, operator, lamp_and_table, committed
):
    """Sent back with an error, the form still suggests; the question that names the
    line has no SKU box, so it brings no list."""
    refused = client.post("/deallocate/", {"orderid": "o1", "sku": "NOPE"})
    assert refused.context["form"].errors["sku"] == ["Invalid sku NOPE"]
    assert '<datalist id="known-skus"' in refused.content.decode()

    committed(client.post, "/place-order/", lines_form("o1", ("LAMP", 4)))
    question = client.get("/deallocate/?orderid=o1&sku=LAMP").content.decode()
    assert "Cancel the 4 x LAMP line of order o1?" in question
    assert "known-skus" not in question


def test_the_suggestions_endpoint_answers_the_skus_containing_the_text(
    client, operator, bus, committed, settings
):
    for n, sku in enumerate(["DESK-LAMP", "LAMP", "LAMPSHADE", "TABLE"]):
        committed(bus.handle, commands.CreateBatch(f"b{n}", sku, 1))
    found = client.get("/stock/skus.json", {"q": "lamp"}).json()
    assert found == {"skus": ["LAMP", "LAMPSHADE", "DESK-LAMP"], "complete": True}
    assert client.get("/stock/skus.json").json()["skus"] == [
        "DESK-LAMP",
        "LAMP",
        "LAMPSHADE",
        "TABLE",
    ]
    assert client.get("/stock/skus.json", {"q": "100%"}).json() == {"skus": [], "complete": True}
    too_long = client.get("/stock/skus.json", {"q": "x" * 256})
    assert too_long.status_code == 400
    assert too_long.json() == {
        "message": "Ensure this value has at most 255 characters (it has 256)."
    }
    assert client.get("/stock/skus.json", {"q": "a\x00b"}).status_code == 400
    assert client.post("/stock/skus.json").status_code == 405
    client.logout()
    assert client.get("/stock/skus.json").status_code == 302
