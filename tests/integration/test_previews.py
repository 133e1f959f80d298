"""Say what a change will do, then what it did, on a real database: a preview writes
nothing and is what the confirmed change then does; a confirmation that no longer
matches is refused whole; a cancellation is asked first; a cancelled line stays on its
order's page, struck through, the same after a rebuild."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from allocation.bootstrap import rebuild_read_model, write_positions
from allocation.domain import commands
from allocation.domain.changes import WAITING, LineMove, Spot
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord
from allocation.service_layer.handlers import PreviewOutdated
from orders_read.selectors import orders

pytestmark = pytest.mark.django_db

SHIP_DATE = date(2031, 5, 1)
CHANGE = "/batches/change-quantity/"


@pytest.fixture
def chairs(bus, committed) -> None:
    """CHAIR: 10 in the warehouse (wh), 4 arriving (ship); o1, o2, o3 take 3 each in wh."""
    for command in [
        commands.CreateBatch("wh", "CHAIR", 10),
        commands.CreateBatch("ship", "CHAIR", 4, SHIP_DATE),
        commands.Allocate("o1", "CHAIR", 3),
        commands.Allocate("o2", "CHAIR", 3),
        commands.Allocate("o3", "CHAIR", 3),
    ]:
        committed(bus.handle, command)


def write_side() -> tuple[Any, ...]:
    """Every write-side row that a change to CHAIR could touch, and the outbox's size."""
    return (
        list(ProductRecord.objects.values_list("sku", "version_number").order_by("sku")),
        list(
            BatchRecord.objects.values_list(
                "reference", "purchased_quantity", "allocated_quantity"
            ).order_by("reference")
        ),
        list(
            OrderLineRecord.objects.values_list(
                "orderid", "product_id", "qty", "batch_id", "arrival", "sequence"
            ).order_by("orderid", "product_id")
        ),
        OutboxEvent.objects.count(),
    )


def stored_spot(orderid: str) -> Spot:
    batchref = OrderLineRecord.objects.get(orderid=orderid, product_id="CHAIR").batch_id
    return Spot(batchref, SHIP_DATE if batchref == "ship" else None) if batchref else WAITING


# -- through the bus: the Unit of Work over the database --------------------------------


def test_a_preview_writes_nothing_and_the_confirmed_change_does_what_it_showed(
    bus, chairs, committed
):
    before = write_side()
    preview = bus.preview(commands.ChangeBatchQuantity("wh", 3))
    assert preview.moves == (
        LineMove("o3", 3, Spot("wh"), WAITING),
        LineMove("o2", 3, Spot("wh"), Spot("ship", SHIP_DATE)),
    )
    assert write_side() == before

    done = committed(
        bus.handle, commands.ChangeBatchQuantity("wh", 3, previewed=preview.fingerprint)
    )
    assert done == preview
    assert {m.orderid: m.after for m in done.moves} == {
        orderid: stored_spot(orderid) for orderid in ("o2", "o3")
    }
    assert stored_spot("o1") == Spot("wh")
    assert BatchRecord.objects.get(reference="wh").purchased_quantity == 3


def test_a_confirmation_after_the_stock_moved_is_refused_and_writes_nothing(bus, chairs, committed):
    preview = bus.preview(commands.ChangeBatchQuantity("wh", 3))
    committed(bus.handle, commands.Allocate("o4", "CHAIR", 1))  # meanwhile, in wh
    before = write_side()
    with pytest.raises(PreviewOutdated) as refused:
        bus.handle(commands.ChangeBatchQuantity("wh", 3, previewed=preview.fingerprint))
    assert write_side() == before
    assert refused.value.change == bus.preview(commands.ChangeBatchQuantity("wh", 3))
    assert refused.value.change.moves[0].orderid == "o4"


def test_a_cancellation_preview_writes_nothing_and_is_what_the_cancellation_does(
    bus, chairs, committed
):
    committed(bus.handle, commands.Allocate("o4", "CHAIR", 6))  # too many for ship: waits
    before = write_side()
    preview = bus.preview(commands.Deallocate("o1", "CHAIR"))
    assert (preview.spot, preview.moves) == (Spot("wh"), ())  # 4 free + 3: still short of 6
    assert write_side() == before
    assert committed(bus.handle, commands.Deallocate("o1", "CHAIR")) == preview
    preview = bus.preview(commands.Deallocate("o2", "CHAIR"))
    assert preview.moves == (LineMove("o4", 6, WAITING, Spot("wh")),)
    assert committed(bus.handle, commands.Deallocate("o2", "CHAIR")) == preview
    assert stored_spot("o4") == Spot("wh")


# -- the change-quantity form: the numbers, the preview, the confirmation ---------------


def test_the_form_shows_the_current_quantity_then_the_preview_then_what_moved(
    client, operator, chairs, committed, write_counts
):
    opened = client.get(f"{CHANGE}?ref=wh").text
    assert re.search(r"holds <strong>10</strong> units now, 9 of them allocated", opened)

    before = write_side()
    preview = client.post(CHANGE, {"ref": "wh", "qty": "3"})
    assert preview.status_code == 200
    assert write_side() == before
    html = preview.text
    assert "Batch wh: 10 → 3 units" in html
    assert "move 1 line to another batch" in html
    assert "make 1 line wait for stock" in html
    rows = re.findall(r'<tr class="move" data-order="(o\d)">(.*?)</tr>', html, re.S)
    cells = {o: re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for o, row in rows}
    assert [o for o, _ in rows] == ["o3", "o2"]
    assert cells["o2"][1:] == [
        "3",
        "wh (warehouse)",
        "ship (ETA May 1, 2031)",
        "now → <strong>May 1, 2031</strong>",
    ]
    assert cells["o3"][2:] == [
        "wh (warehouse)",
        "waiting for stock",
        "now → <strong>when stock arrives</strong>",
    ]
    fingerprint = preview.context["preview"].fingerprint
    assert f'name="previewed" value="{fingerprint}"' in html
    assert ">Confirm change</button>" in html

    confirm = {"ref": "wh", "qty": "3", "previewed": fingerprint}
    done = committed(client.post, CHANGE, confirm)
    assert done.status_code == 302
    assert done.url == "/stock/CHAIR/"
    assert (
        "Batch wh now holds 3 units. 1 line moved: o2 → ship (ETA May 1, 2031)."
        " 1 line waits for stock: o3." in client.get(done.url).text
    )


def test_a_confirmation_that_no_longer_matches_shows_the_new_preview_instead(
    client, operator, bus, chairs, committed
):
    fingerprint = client.post(CHANGE, {"ref": "wh", "qty": "3"}).context["preview"].fingerprint
    committed(bus.handle, commands.Allocate("o4", "CHAIR", 1))  # someone else, meanwhile
    before = write_side()
    again = client.post(CHANGE, {"ref": "wh", "qty": "3", "previewed": fingerprint})
    assert again.status_code == 200
    assert write_side() == before
    assert "changed since the preview, so nothing was changed" in again.text
    assert 'data-order="o4"' in again.text
    assert again.context["preview"].fingerprint != fingerprint


def test_a_forged_fingerprint_changes_nothing(client, operator, chairs):
    before = write_side()
    response = client.post(CHANGE, {"ref": "wh", "qty": "3", "previewed": "not-a-preview"})
    assert response.status_code == 200
    assert "nothing was changed" in response.text
    assert write_side() == before


def test_the_same_quantity_has_nothing_to_confirm(client, operator, chairs):
    response = client.post(CHANGE, {"ref": "wh", "qty": "10"})
    assert "nothing would change" in response.text
    assert "Confirm change" not in response.text


# -- cancelling a line: asked first, then kept in sight -----------------------------------


def test_the_order_page_asks_before_cancelling_and_a_get_never_cancels(
    client, operator, chairs, committed
):
    page = client.get("/orders/o1/").text
    link = re.search(r'<a class="button small danger" href="([^"]+)">Cancel line', page)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert url == "/deallocate/?orderid=o1&sku=CHAIR"

    before = write_side()
    question = client.get(url + "&confirmed=yes")
    assert question.status_code == 200
    assert write_side() == before
    assert "<h1>Cancel the 3 x CHAIR line of order o1?</h1>" in question.text
    assert "Its 3 units would go back to batch wh (warehouse); no waiting line" in question.text
    assert 'href="/orders/o1/">Keep the line</a>' in question.text

    confirmed = {"orderid": "o1", "sku": "CHAIR", "confirmed": "yes"}
    done = committed(client.post, "/deallocate/", confirmed)
    assert done.status_code == 302
    assert done.url == "/orders/o1/"
    assert not OrderLineRecord.objects.filter(orderid="o1").exists()


def test_the_question_names_the_waiting_lines_that_would_take_the_units(
    client, operator, bus, chairs, committed
):
    committed(bus.handle, commands.Allocate("o4", "CHAIR", 6))  # waits
    committed(bus.handle, commands.Deallocate("o1", "CHAIR"))
    question = client.get("/deallocate/?orderid=o2&sku=CHAIR").text
    assert "these waiting lines would take them" in question
    assert re.search(r'data-order="o4">.*?waiting for stock.*?wh \(warehouse\)', question, re.S)
    done = committed(
        client.post, "/deallocate/", {"orderid": "o2", "sku": "CHAIR", "confirmed": "1"}
    )
    assert (
        "The 3 x CHAIR line of order o2 was cancelled."
        " 1 waiting line took its units: o4 → wh (warehouse)." in client.get(done.url).text
    )


def cancelled_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="line cancelled" data-sku="([^"]+)">', html)


def test_a_cancelled_line_stays_on_the_order_page_struck_through(
    client, operator, bus, chairs, committed
):
    committed(bus.handle, commands.CreateBatch("lamps", "LAMP", 5))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 9))  # waits
    committed(bus.handle, commands.Deallocate("o1", "CHAIR"))
    committed(bus.handle, commands.Deallocate("o1", "LAMP"))
    html = client.get("/orders/o1/").text
    assert cancelled_rows(html) == ["CHAIR", "LAMP"]
    chair = re.search(r'data-sku="CHAIR">(.*?)</tr>', html, re.S)
    assert chair is not None
    assert '<del><a href="/stock/CHAIR/">CHAIR</a></del>' in chair.group(1)
    assert "<del>3</del>" in chair.group(1)
    assert '>cancelled</span> <span class="muted small">was in wh</span>' in chair.group(1)
    assert "every line of this order was cancelled" in html
    detail, _ = orders.order_detail("o1", write_positions())
    assert detail is not None
    assert [(c.sku, c.qty, c.batchref) for c in detail.cancelled] == [
        ("CHAIR", 3, "wh"),
        ("LAMP", 9, None),
    ]

    rebuild_read_model()
    rebuilt, _ = orders.order_detail("o1", write_positions())
    assert rebuilt is not None
    assert rebuilt.cancelled == detail.cancelled


def test_a_line_ordered_again_after_its_cancellation_is_live_and_not_struck(
    client, operator, bus, chairs, committed
):
    committed(bus.handle, commands.Deallocate("o1", "CHAIR"))
    committed(bus.handle, commands.Allocate("o1", "CHAIR", 2))
    html = client.get("/orders/o1/").text
    assert cancelled_rows(html) == []
    assert '<tr class="line" data-sku="CHAIR">' in html


def test_a_line_a_shrinking_batch_moves_is_not_cancelled(client, operator, bus, chairs, committed):
    committed(bus.handle, commands.ChangeBatchQuantity("wh", 3))  # o2 moves, o3 waits
    for orderid in ("o2", "o3"):
        assert cancelled_rows(client.get(f"/orders/{orderid}/").text) == []
