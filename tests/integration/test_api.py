"""The JSON API contract (the book's, README "Interfaces"), read-your-writes included."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_happy_path_returns_202_and_the_allocation_is_readable(client, api):
    api.add_batch("later", "LAMP", 100, "2031-01-02")
    api.add_batch("early", "LAMP", 100, "2031-01-01")
    api.add_batch("other", "CHAIR", 100)

    response = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 3})
    assert response.status_code == 202
    assert response.json() == {"status": "allocated", "batchref": "early"}

    read = client.get("/api/allocations/o1")
    assert read.status_code == 200
    assert read.json() == [{"sku": "LAMP", "batchref": "early"}]
    assert read["X-Read-Model-Stale"] == "false"


def test_out_of_stock_is_still_202_and_the_line_waits(client, api):
    api.add_batch("b1", "LAMP", 2)
    response = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 3})
    assert response.status_code == 202
    assert response.json() == {"status": "waiting", "batchref": None}
    assert client.get("/api/allocations/o1").status_code == 404
    order = client.get("/api/orders/o1").json()
    assert order["status"] == "waiting"
    assert order["lines"] == [{"sku": "LAMP", "qty": 3, "status": "waiting", "batchref": None}]

    api.add_batch("b2", "LAMP", 5)  # stock arrives: the waiting line is allocated
    assert client.get("/api/allocations/o1").json() == [{"sku": "LAMP", "batchref": "b2"}]


def test_unknown_sku_is_400_with_the_books_message(write_counts, api):
    before = write_counts()
    response = api.post("allocate", {"orderid": "o1", "sku": "NOPE", "qty": 1})
    assert response.status_code == 400
    assert response.json() == {"message": "Invalid sku NOPE"}
    assert write_counts() == before


def test_unknown_order_is_404(client):
    response = client.get("/api/allocations/nobody")
    assert response.status_code == 404
    assert "message" in response.json()
    assert client.get("/api/orders/nobody").status_code == 404


def test_identical_resubmit_is_a_noop_and_a_changed_qty_is_a_409(write_counts, api):
    api.add_batch("b1", "LAMP", 10)
    assert api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 2}).status_code == 202
    before = write_counts()

    again = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 2})
    assert again.status_code == 202
    assert again.json()["batchref"] == "b1"
    changed = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 3})
    assert changed.status_code == 409
    assert "already has 2" in changed.json()["message"]
    assert write_counts() == before


def test_deallocate_and_change_batch_quantity(client, api):
    api.add_batch("b1", "LAMP", 10)
    api.add_batch("b2", "LAMP", 10, "2031-01-01")
    api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 4})
    api.post("allocate", {"orderid": "o2", "sku": "LAMP", "qty": 4})

    response = api.post("change_batch_quantity", {"ref": "b1", "qty": 5})
    assert response.status_code == 200
    assert client.get("/api/allocations/o2").json() == [{"sku": "LAMP", "batchref": "b2"}]

    response = api.post("deallocate", {"orderid": "o1", "sku": "LAMP"})
    assert response.status_code == 200
    assert client.get("/api/allocations/o1").status_code == 404


VALID: dict[str, dict[str, Any]] = {
    "add_batch": {"ref": "new", "sku": "LAMP", "qty": 5, "eta": None},
    "allocate": {"orderid": "o9", "sku": "LAMP", "qty": 1},
    "deallocate": {"orderid": "o1", "sku": "LAMP"},
    "change_batch_quantity": {"ref": "b1", "qty": 3},
}


def _without(body: dict, field: str) -> dict:
    return {k: v for k, v in body.items() if k != field}


BAD_INPUTS = [
    *[(path, "not json at all") for path in VALID],
    *[(path, b"\xff\xfe") for path in VALID],
    *[(path, "[1, 2]") for path in VALID],
    *[(path, "") for path in VALID],
    *[
        (path, _without(body, field))
        for path, body in VALID.items()
        for field in body
        if field != "eta"
    ],
    ("add_batch", {**VALID["add_batch"], "qty": 0}),
    ("add_batch", {**VALID["add_batch"], "qty": -1}),
    ("add_batch", {**VALID["add_batch"], "qty": "5"}),
    ("add_batch", {**VALID["add_batch"], "qty": 2.5}),
    ("add_batch", {**VALID["add_batch"], "qty": True}),
    ("add_batch", {**VALID["add_batch"], "qty": 10**12}),
    ("add_batch", {**VALID["add_batch"], "eta": "tomorrow"}),
    ("add_batch", {**VALID["add_batch"], "eta": 20300101}),
    ("add_batch", {**VALID["add_batch"], "ref": ""}),
    ("add_batch", {**VALID["add_batch"], "ref": "x" * 256}),
    ("add_batch", {**VALID["add_batch"], "sku": None}),
    ("add_batch", {**VALID["add_batch"], "ref": "b1"}),  # duplicate reference
    ("add_batch", {**VALID["add_batch"], "ref": "b1", "sku": "OTHER"}),  # duplicate, other sku
    ("allocate", {**VALID["allocate"], "qty": 0}),
    ("allocate", {**VALID["allocate"], "qty": -3}),
    ("allocate", {**VALID["allocate"], "qty": None}),
    ("allocate", {**VALID["allocate"], "orderid": 17}),
    ("allocate", {**VALID["allocate"], "orderid": " padded "}),
    ("allocate", {**VALID["allocate"], "sku": "NOPE"}),
    ("deallocate", {**VALID["deallocate"], "orderid": "never-ordered"}),
    ("deallocate", {**VALID["deallocate"], "sku": "NOPE"}),
    ("change_batch_quantity", {**VALID["change_batch_quantity"], "ref": "unknown"}),
    ("change_batch_quantity", {**VALID["change_batch_quantity"], "qty": -1}),
    ("change_batch_quantity", {**VALID["change_batch_quantity"], "qty": "3"}),
]


@pytest.mark.parametrize(("path", "body"), BAD_INPUTS)
def test_bad_input_is_a_400_with_a_message_and_writes_nothing(write_counts, path, body, api):
    api.add_batch("b1", "LAMP", 10)
    api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1})
    before = write_counts()

    response = api.post(path, body)

    assert response.status_code == 400, response.content
    assert isinstance(response.json()["message"], str)
    assert response.json()["message"]
    assert write_counts() == before


def test_get_on_a_command_endpoint_is_405_not_500(client):
    assert client.get("/api/allocate").status_code == 405
