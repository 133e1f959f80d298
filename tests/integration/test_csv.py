"""CSV out (streamed, filtered as the lists are) and in (batches: preview, per-row
errors, nothing written while a row is bad, then one command per row)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.models import BatchRecord, OutboxEvent
from orders_read.models import BatchView, OrderLineView, OrderView, SkuStock
from tests.integration.test_pages import N_ORDERS, build_read_model, sku_name

pytestmark = pytest.mark.django_db


def read(response) -> list[list[str]]:
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def big(viewer) -> None:
    build_read_model()


def test_stock_export_streams_every_row_with_the_lists_filters_and_sort(client, big):
    response = client.get("/stock/export.csv")
    assert response["Content-Disposition"].startswith('attachment; filename="stock-')
    rows = read(response)
    assert rows[0] == [
        "sku",
        "purchased",
        "allocated",
        "available",
        "waiting",
        "next_eta",
        "batch_count",
    ]
    assert len(rows) == 1 + SkuStock.objects.count()  # not one page: all of them
    first = SkuStock.objects.order_by("sku")[0]
    assert first.next_eta is not None
    assert rows[1] == [
        first.sku,
        str(first.purchased),
        str(first.allocated),
        str(first.available),
        str(first.waiting),
        first.next_eta.isoformat(),
        "2",
    ]
    demand = read(client.get("/stock/export.csv?show=waiting&sort=-waiting"))
    expected = SkuStock.objects.filter(waiting__gt=0).order_by("-waiting", "available", "sku")
    assert [r[0] for r in demand[1:]] == [s.sku for s in expected]


def test_orders_export_has_every_order_newest_first_with_its_created_time(client, big):
    rows = read(client.get("/orders/export.csv"))
    assert rows[0][:3] == ["orderid", "created_at", "status"]
    assert len(rows) == 1 + N_ORDERS
    newest = OrderView.objects.get(orderid="order-0999")
    assert newest.created_at is not None
    assert rows[1][:3] == ["order-0999", newest.created_at.isoformat(), newest.status]
    waiting = read(client.get("/orders/export.csv?status=waiting&sort=created"))
    assert [r[0] for r in waiting[1:3]] == ["order-0000", "order-0007"]


def test_waiting_lines_export_all_or_one_skus(client, big):
    rows = read(client.get("/stock/waiting-lines.csv"))
    assert rows[0] == ["sku", "orderid", "qty", "order_created_at"]
    assert len(rows) == 1 + OrderLineView.objects.filter(status="waiting").count()
    mine = read(client.get(f"/stock/waiting-lines.csv?sku={sku_name(0)}"))
    assert {r[0] for r in mine[1:]} == {sku_name(0)}
    created = OrderView.objects.get(orderid=mine[1][1]).created_at
    assert created is not None
    assert mine[1][3] == created.isoformat()


def test_exports_refuse_a_filter_they_cannot_apply_with_one_line(client, big):
    response = client.get("/orders/export.csv?created_from=tomorrow")
    assert response.status_code == 400
    assert response.content.decode() == "Created from: Enter a date as YYYY-MM-DD.\n"
    assert client.get("/stock/export.csv?sort=batch_count").status_code == 400


def test_text_cells_a_spreadsheet_would_run_are_defused(client, viewer):
    SkuStock.objects.create(
        sku="=HYPERLINK(1)", purchased=1, allocated=0, available=1, waiting=0, batch_count=1
    )
    rows = read(client.get("/stock/export.csv"))
    assert rows[1][0] == "'=HYPERLINK(1)"
    assert rows[1][1] == "1"


@pytest.mark.parametrize(
    "url", ["/stock/export.csv", "/orders/export.csv", "/stock/waiting-lines.csv"]
)
def test_exports_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


# -- import ------------------------------------------------------------------------------


def upload(client, text: str, name: str = "batches.csv"):
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post("/batches/import/", {"file": file})


GOOD = "ref,sku,qty,eta\nb-1,LAMP,10,\nb-2,LAMP,5,2031-05-01\n\nb-3,CHAIR,7,\n"


def test_a_good_file_is_previewed_and_nothing_is_written_yet(client, operator, write_counts):
    bootstrap().handle(commands.CreateBatch("b-0", "LAMP", 1))
    SkuStock.objects.create(
        sku="LAMP", purchased=1, allocated=0, available=1, waiting=0, batch_count=1
    )
    before = write_counts()
    response = upload(client, GOOD)
    assert response.status_code == 200
    checked = response.context["checked"]
    assert [row.line for row in checked.rows] == [2, 3, 5]  # lines as in the file
    assert checked.bad == []
    assert checked.new_skus == ["CHAIR"]
    html = response.content.decode()
    assert "Ready to import 3 batches, 22 units" in html
    assert "Import 3 batches" in html
    assert write_counts() == before


def test_every_bad_row_is_listed_by_line_and_nothing_is_imported(client, operator, write_counts):
    bootstrap().handle(commands.CreateBatch("taken", "LAMP", 1))
    BatchView.objects.create(reference="taken", sku="LAMP", purchased=1)
    before = write_counts()
    text = (
        "Ref, SKU ,qty,eta\n"
        "ok-1,LAMP,1,\n"
        ",LAMP,1,\n"  # no reference
        "ok-2,LAMP,0,\n"  # not a quantity
        "ok-3,LAMP,2,01/05/2031\n"  # not YYYY-MM-DD
        "ok-1,LAMP,1,\n"  # twice in the file
        "taken,LAMP,1,\n"  # exists already
        "ok-4,LAMP,1,,extra\n"  # a cell too many
    )
    response = upload(client, text)
    bad = {row.line: row.errors for row in response.context["checked"].bad}
    assert sorted(bad) == [3, 4, 5, 6, 7, 8]
    assert bad[3] == ["Batch reference: This field is required."]
    assert bad[4][0].startswith("Quantity: ")
    assert bad[5] == ["ETA: Enter a date as YYYY-MM-DD."]
    assert bad[6] == ["Batch ok-1 is on line 2 already."]
    assert bad[7] == ["Batch taken already exists."]
    assert bad[8] == ["5 cells for 4 columns."]
    html = response.content.decode()
    assert "6 of 7 rows cannot be imported" in html
    assert "Nothing was imported." in html
    assert 'name="rows"' not in html  # no import button
    assert write_counts() == before


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"ref;sku;qty\nb;LAMP;1\n", "The first line must name the columns ref, sku, qty"),
        (b"ref,sku,qty\n", "The file has no rows under its header."),
        (b"ref,sku,qty\nb,L\xe9,1\n", "The file is not UTF-8 text (byte 16)."),
        (b"ref,sku,qty,colour\nb,LAMP,1,red\n", "(it has: ref, sku, qty, colour)"),
        (b"", "The submitted file is empty."),
    ],
)
def test_a_file_it_cannot_read_is_one_error_and_writes_nothing(
    client, operator, write_counts, content, error
):
    before = write_counts()
    file = SimpleUploadedFile("x.csv", content, content_type="text/csv")
    response = client.post("/batches/import/", {"file": file})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert "checked" not in response.context
    assert write_counts() == before


def test_a_file_too_large_to_come_back_from_the_preview_is_refused(client, operator, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = upload(client, "ref,sku,qty\n" + "".join(f"b-{n},LAMP,1\n" for n in range(200)))
    assert "at most 800 are taken at once: split it." in response.content.decode()


def test_the_import_sends_one_command_per_row_then_shows_the_stock(client, operator, committed):
    rows = upload(client, GOOD).context["checked"].to_json()
    response = committed(client.post, "/batches/import/", {"rows": rows})
    assert response.status_code == 302
    assert response.url == "/stock/"
    assert sorted(BatchRecord.objects.values_list("reference", flat=True)) == ["b-1", "b-2", "b-3"]
    assert OutboxEvent.objects.filter(name="BatchCreated").count() == 3  # through the bus
    page = client.get("/stock/").content.decode()
    assert "3 batches imported." in page
    assert SkuStock.objects.get(sku="LAMP").purchased == 15


def test_the_import_in_slices_answers_json_and_reports_rows_refused_meanwhile(
    client, operator, committed
):
    rows = json.loads(upload(client, GOOD).context["checked"].to_json())
    bootstrap().handle(commands.CreateBatch("b-3", "CHAIR", 1))  # taken since the preview
    answers = [
        committed(
            client.post,
            "/batches/import/",
            {"rows": json.dumps(rows[start : start + 2])},
            headers={"Accept": "application/json"},
        ).json()
        for start in (0, 2)
    ]
    assert answers == [
        {"imported": 2, "refused": []},
        {
            "imported": 0,
            "refused": [{"line": 5, "ref": "b-3", "message": "Batch b-3 already exists"}],
        },
    ]
    assert BatchRecord.objects.get(reference="b-3").purchased_quantity == 1  # unchanged


def test_rows_sent_back_are_checked_again(client, operator, write_counts):
    before = write_counts()
    tampered = json.dumps([[2, "b-1", "LAMP", "-5", ""]])
    response = client.post(
        "/batches/import/", {"rows": tampered}, headers={"Accept": "application/json"}
    )
    assert response.json()["imported"] == 0
    assert response.json()["refused"][0]["message"].startswith("Quantity: ")
    garbage = client.post(
        "/batches/import/", {"rows": "[[1, 2"}, headers={"Accept": "application/json"}
    )
    assert garbage.status_code == 400
    assert garbage.json()["message"].startswith("The rows sent are not the preview's")
    assert client.post("/batches/import/", {"rows": "{}"}).status_code == 400
    assert write_counts() == before


def test_importing_needs_the_add_batch_permission(client, viewer, write_counts):
    before = write_counts()
    assert client.get("/batches/import/").status_code == 403
    assert upload(client, GOOD).status_code == 403
    assert client.post("/batches/import/", {"rows": "[]"}).status_code == 403
    assert write_counts() == before
