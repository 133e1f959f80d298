"""Probes of the lists and the CSV files (issue 16, items 3 and 6) under the production
settings: who may download and import, what a browser may keep, what cannot be
smuggled in a file or a query string."""

from __future__ import annotations

import csv
import gzip
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from allocation.models import BatchRecord
from orders_read.models import SkuStock
from tests.fixtures.users import make_user
from tests.security.production import through_proxy

pytestmark = pytest.mark.django_db

EXPORTS = ("/stock/export.csv", "/orders/export.csv", "/stock/waiting-lines.csv")


@pytest.fixture
def viewer_client(production_client: Client, django_user_model) -> Client:
    production_client.force_login(make_user(django_user_model, "viewer"))
    return production_client


@pytest.mark.parametrize("path", EXPORTS)
def test_exports_send_anonymous_callers_to_log_in(production_client, path):
    response = production_client.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("path", EXPORTS)
def test_exports_are_private_streamed_and_compressed(viewer_client, path):
    response = viewer_client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.streaming
    assert {"private", "no-store"} <= {p.strip() for p in response["Cache-Control"].split(",")}
    assert response["Content-Encoding"] == "gzip"
    text = gzip.decompress(b"".join(response.streaming_content)).decode()
    assert text.count("\n") == 1  # the header only: nothing in the read model


def test_an_export_cannot_smuggle_a_formula_to_a_spreadsheet(viewer_client):
    for n, sku in enumerate(["=1+1", "+CMD", "-2+3", "@SUM(A1)", "\tTAB"]):
        SkuStock.objects.create(
            sku=sku, purchased=n, allocated=0, available=n, waiting=0, batch_count=1
        )
    response = viewer_client.get("/stock/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert all(row[0].startswith("'") for row in rows[1:]), rows


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("/stock/", "sort=sku);DROP TABLE x"),
        ("/stock/", "show=<script>"),
        ("/orders/", "created_from=2031-13-45"),
        ("/orders/", "status=<script>"),
    ],
)
def test_a_hostile_query_string_is_a_form_error_on_a_page_and_a_400_on_a_file(
    viewer_client, page, query
):
    shown = viewer_client.get(f"{page}?{query}")
    assert shown.status_code == 200
    assert "Not applied." in shown.content.decode()
    assert "<script>" not in shown.content.decode()
    assert viewer_client.get(f"{page}export.csv?{query}").status_code == 400


def test_importing_needs_the_permission_and_a_csrf_token(production, django_user_model):
    file = SimpleUploadedFile("b.csv", b"ref,sku,qty\nb1,LAMP,1\n", content_type="text/csv")
    rows = '[[2, "b1", "LAMP", "1", ""]]'

    viewer = through_proxy("81.2.69.142")
    viewer.force_login(make_user(django_user_model, "viewer"))
    assert viewer.post("/batches/import/", {"file": file}).status_code == 403
    assert viewer.post("/batches/import/", {"rows": rows}).status_code == 403

    browser = through_proxy("81.2.69.143", enforce_csrf_checks=True)
    browser.force_login(make_user(django_user_model, "clerk", "create_batch"))
    assert browser.post("/batches/import/", {"rows": rows}).status_code == 403
    assert not BatchRecord.objects.exists()
