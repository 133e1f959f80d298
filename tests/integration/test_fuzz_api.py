"""Fuzzing the JSON API: malformed input never gets a 5xx and never writes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation.domain import commands

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

REQUIRED: dict[str, dict[str, type]] = {
    "add_batch": {"ref": str, "sku": str, "qty": int},
    "allocate": {"orderid": str, "sku": str, "qty": int},
    "deallocate": {"orderid": str, "sku": str},
    "change_batch_quantity": {"ref": str, "qty": int},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
not_a_string = json_values.filter(lambda v: not isinstance(v, str))
not_an_int = json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))


@st.composite
def malformed_body(draw: st.DrawFn, path: str) -> bytes:
    """A body that cannot be a valid command: broken JSON, or a field missing or mistyped."""
    fields = REQUIRED[path]
    kind = draw(st.sampled_from(["bytes", "not-object", "missing", "wrong-type", "bad-value"]))
    if kind == "bytes":
        raw = draw(st.binary(max_size=64))
        try:
            if isinstance(json.loads(raw), dict):
                raw = b"{" + raw
        except ValueError:
            pass
        return raw
    if kind == "not-object":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict)))).encode()
    body: dict[str, Any] = {
        name: draw(st.text(min_size=1, max_size=10)) if kind_ is str else draw(st.integers(1, 9))
        for name, kind_ in fields.items()
    }
    victim = draw(st.sampled_from(sorted(fields)))
    if kind == "missing":
        del body[victim]
    elif kind == "wrong-type":
        body[victim] = draw(not_a_string if fields[victim] is str else not_an_int)
    else:  # a well-typed but invalid value
        body[victim] = (
            draw(st.sampled_from(["", " ", " x", "x" * 300]))
            if fields[victim] is str
            else draw(st.integers(max_value=0 if path != "change_batch_quantity" else -1))
        )
    return json.dumps(body).encode()


@pytest.fixture
def stocked(bus, committed):
    """Written and projected: a read of o1 (Hypothesis draws the test's own strings too)
    finds it, rather than waiting for a projection that never runs here and answering 503."""
    committed(bus.handle, commands.CreateBatch("b1", "LAMP", 10))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 2))


@pytest.mark.parametrize("path", sorted(REQUIRED))
@FUZZ
@given(data=st.data())
def test_malformed_bodies(client, stocked, write_counts, path, data):
    before = write_counts()
    body = data.draw(malformed_body(path))
    response = client.post(f"/api/{path}", data=body, content_type="application/json")
    assert response.status_code == 400, (body, response.content)
    assert response.json()["message"]
    assert write_counts() == before


@FUZZ
@given(orderid=st.text(min_size=1, max_size=40), query=st.text(max_size=40))
def test_read_endpoints_with_any_order_id_and_query_string(client, stocked, orderid, query):
    for path in ("allocations", "orders"):
        response = client.get(f"/api/{path}/{quote(orderid, safe='')}?{quote(query, safe='=&')}")
        assert response.status_code in (200, 400, 404), response.content
        assert response.status_code < 500
