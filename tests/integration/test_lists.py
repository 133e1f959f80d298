"""The lists' sorting and filters, on the 1,000-order read model of ``test_pages``."""

from __future__ import annotations

import pytest

from orders_read.models import OrderLineView, OrderView, SkuStock
from tests.integration.test_pages import N_ORDERS, build_read_model, created_at, sku_name

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _read_model(viewer) -> None:
    build_read_model()


def orderids(response) -> list[str]:
    return [o.orderid for o in response.context["page"]]


def skus(response) -> list[str]:
    return [s.sku for s in response.context["page"]]


def test_orders_come_newest_first_with_their_created_date(client):
    response = client.get("/orders/")
    assert orderids(response)[:3] == ["order-0999", "order-0998", "order-0997"]
    html = response.content.decode()
    newest = created_at(999)
    assert f'<time datetime="{newest.isoformat()}">{newest:%Y-%m-%d %H:%M}</time>' in html
    assert '<th scope="col" aria-sort="descending"><a class="sort" href="?sort=created">' in html


def test_orders_sort_by_created_both_ways_and_by_status_waiting_first(client):
    assert orderids(client.get("/orders/?sort=created"))[:2] == ["order-0000", "order-0001"]
    by_status = client.get("/orders/?sort=status")
    waiting = OrderView.objects.filter(status="waiting").count()
    statuses = [o.status for o in by_status.context["page"].paginator.object_list]
    assert statuses == ["waiting"] * waiting + ["allocated"] * (N_ORDERS - waiting)
    # ties newest first, and the header now sorts the other way, keeping the filters
    assert orderids(by_status)[:2] == ["order-0994", "order-0987"]
    html = client.get("/orders/?sort=status&status=waiting&page=2").content.decode()
    assert 'href="?sort=-status&amp;status=waiting"' in html


def test_orders_filter_by_created_date_range_in_days(client):
    response = client.get("/orders/?created_from=2029-11-02&created_to=2029-11-02&sort=created")
    rows = response.context["page"].paginator.object_list
    assert [o.orderid for o in rows] == [f"order-{n:04}" for n in range(24, 48)]


def test_orders_filter_by_sku_exactly_with_the_other_filters(client):
    response = client.get(f"/orders/?sku={sku_name(0)}&status=waiting")
    expected = set(
        OrderLineView.objects.filter(sku=sku_name(0), status="waiting").values_list(
            "orderid", flat=True
        )
    )
    assert (
        set(response.context["page"].paginator.object_list.values_list("orderid", flat=True))
        == expected
    )
    assert f'name="sku" value="{sku_name(0)}"' in response.content.decode()
    assert client.get("/orders/?sku=SKU-00").context["page"].paginator.count == 0


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("created_from=yesterday", "Created from: Enter a date as YYYY-MM-DD. Not applied."),
        (
            "created_from=2029-12-01&created_to=2029-11-01",
            "Created to: The end of the range is before its start.",
        ),
        ("status=bogus", "Status: Select a valid choice."),
        ("sort=line_count", "Sort: Select a valid choice."),
    ],
)
def test_filters_it_cannot_apply_are_shown_as_errors_not_applied(client, query, error):
    response = client.get(f"/orders/?{query}")
    assert response.status_code == 200
    assert error in response.content.decode()
    assert response.context["page"].paginator.count <= N_ORDERS


def test_stock_filters_out_low_and_waiting_and_the_three_together(client):
    assert skus(client.get("/stock/?show=out")) == [sku_name(1)]
    assert skus(client.get("/stock/?show=low")) == [sku_name(2)]
    waiting = list(SkuStock.objects.filter(waiting__gt=0).values_list("sku", flat=True))
    assert skus(client.get("/stock/?show=waiting")) == sorted(waiting)
    short = client.get("/stock/?show=short").context["page"].paginator.count
    assert short == len(set(waiting) | {sku_name(1), sku_name(2)})
    assert "Show: Select a valid choice." in client.get("/stock/?show=all").content.decode()


def test_stock_sorts_by_available_waiting_and_next_eta(client):
    assert skus(client.get("/stock/?sort=available"))[:2] == [sku_name(1), sku_name(2)]
    by_demand = SkuStock.objects.order_by("-waiting", "available", "sku")
    assert skus(client.get("/stock/?sort=-waiting")) == [s.sku for s in by_demand[:50]]
    SkuStock.objects.filter(sku=sku_name(5)).update(next_eta=None)
    SkuStock.objects.filter(sku=sku_name(7)).update(next_eta="2029-06-01")
    by_eta = skus(client.get("/stock/?sort=next_eta&page=2"))
    assert by_eta[-1] == sku_name(5)  # no shipment coming: last, either way
    assert skus(client.get("/stock/?sort=next_eta"))[0] == sku_name(7)
    assert skus(client.get("/stock/?sort=-next_eta&page=2"))[-1] == sku_name(5)
    html = client.get("/stock/?sort=-waiting&show=short").content.decode()
    header = '<th scope="col" class="num" aria-sort="descending">'
    assert f'{header}<a class="sort" href="?sort=waiting&amp;show=short">' in html
