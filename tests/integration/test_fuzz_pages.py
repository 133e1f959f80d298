"""Fuzzing the web pages and forms: never a 5xx, never a write from bad input."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation.domain import commands

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

junk = st.text(max_size=30)
bad_quantity = st.one_of(
    st.integers(max_value=0).map(str),
    st.text(max_size=8).filter(lambda s: not s.strip().isdigit()),
    st.just(str(10**12)),
)

# Every form gets a quantity it cannot accept, or no quantity at all, so no example can
# be a valid command; the other fields are anything.
FORMS = {
    "/batches/new/": st.fixed_dictionaries(
        {"ref": junk, "sku": junk, "eta": junk}, optional={"qty": bad_quantity}
    ),
    "/batches/change-quantity/": st.fixed_dictionaries(
        {"ref": junk}, optional={"qty": bad_quantity}
    ),
    "/place-order/": st.fixed_dictionaries(
        {"orderid": junk, "lines-0-sku": junk},
        optional={
            "lines-TOTAL_FORMS": st.sampled_from(["1", "x", "-1", "999999"]),
            "lines-INITIAL_FORMS": st.sampled_from(["0", "x"]),
            "lines-0-qty": bad_quantity,
        },
    ),
}


@pytest.fixture
def superuser_with_an_order(client, superuser, bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.Allocate("o1", "LAMP", 2))
    return client


@pytest.mark.parametrize("path", sorted(FORMS))
@FUZZ
@given(data=st.data())
def test_forms_reject_bad_input_without_writing(superuser_with_an_order, write_counts, path, data):
    before = write_counts()
    response = superuser_with_an_order.post(path, data.draw(FORMS[path]))
    assert response.status_code in (200, 400), response.status_code
    assert write_counts() == before


@FUZZ
@given(orderid=junk, sku=junk)
def test_deallocate_form_with_anything(superuser_with_an_order, write_counts, orderid, sku):
    before = write_counts()
    response = superuser_with_an_order.post(
        "/deallocate/", {"orderid": orderid + "\x00", "sku": sku}
    )
    assert response.status_code in (200, 400)
    assert write_counts() == before


@FUZZ
@given(segment=st.text(min_size=1, max_size=30), params=st.dictionaries(junk, junk, max_size=4))
def test_pages_with_any_path_and_query_string(superuser_with_an_order, segment, params):
    query = urlencode(
        {**params, "page": params.get("page", ""), "status": params.get("status", "")}
    )
    for path in (
        "/",
        "/stock/",
        "/orders/",
        f"/stock/{quote(segment)}/",
        f"/orders/{quote(segment)}/",
    ):
        response = superuser_with_an_order.get(f"{path}?{query}")
        assert response.status_code < 500, (path, query, response.status_code)
