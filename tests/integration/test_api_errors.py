"""Every answer of the JSON API is JSON, errors included, with the book's bodies to the byte."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import OperationalError
from django.test import Client

from allocation.adapters import tokens
from allocation.domain import commands
from tests.fixtures.api import ApiClient

pytestmark = pytest.mark.django_db


def assert_json_error(response: Any, status: int, message: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert int(response.get("Content-Length", len(response.content))) == len(response.content)
    body = response.json()
    assert list(body) == ["message"]
    assert body["message"]
    if message is not None:
        assert body["message"] == message


@pytest.fixture
def stocked(bus) -> None:
    bus.handle(commands.CreateBatch("early", "LAMP", 100))
    bus.handle(commands.Allocate("o1", "LAMP", 3))


class Refusing:
    """A bus whose every command fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def handle(self, command: object, actor: object = None) -> None:
        raise self.error


# -- the book's contract, byte for byte -----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_books_bodies_are_unchanged_to_the_byte(client, api):
    added = api.post("add_batch", {"ref": "early", "sku": "LAMP", "qty": 100, "eta": None})
    assert (added.status_code, added.content) == (201, b'{"ref": "early"}')
    allocated = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 3})
    assert allocated.status_code == 202
    assert allocated.content == b'{"status": "allocated", "batchref": "early"}'
    waiting = api.post("allocate", {"orderid": "o2", "sku": "LAMP", "qty": 1000})
    assert waiting.content == b'{"status": "waiting", "batchref": null}'
    unknown = api.post("allocate", {"orderid": "o1", "sku": "NOPE", "qty": 1})
    assert (unknown.status_code, unknown.content) == (400, b'{"message": "Invalid sku NOPE"}')

    read = client.get("/api/allocations/o1")
    assert read.content == b'[{"sku": "LAMP", "batchref": "early"}]'
    assert read["X-Read-Model-Stale"] == "false"
    for response in (added, allocated, unknown, read):
        assert response["Content-Type"] == "application/json"


# -- 400 ----------------------------------------------------------------------------------


LINE = {"orderid": "o9", "sku": "LAMP", "qty": 1}
FIELD_PROBLEMS = [
    ({"orderid": 17}, "Field 'orderid' must be a non-empty string"),
    ({"orderid": " o9"}, "Field 'orderid' must have no outer spaces"),
    ({"sku": "x" * 256}, "Field 'sku' must be at most 255 characters"),
    ({"sku": "LA\x00MP"}, "Field 'sku' must not contain control characters"),
    ({"qty": 2.0}, "Field 'qty' must be an integer"),
    ({"qty": 0}, "Field 'qty' must be greater than or equal to 1"),
    ({"qty": 2**31}, "Field 'qty' must be less than or equal to 2147483647"),
]


@pytest.mark.parametrize(("change", "message"), FIELD_PROBLEMS)
def test_a_bad_field_is_one_sentence_in_the_rules_words(stocked, change, message, api):
    assert_json_error(api.post("allocate", {**LINE, **change}), 400, message)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("allocate", [1, 2], "The body must be a JSON object"),
        ("allocate", "", "The body must be a JSON object"),
        ("allocate", {"orderid": "o9", "sku": "LAMP"}, "Missing field 'qty'"),
        (
            "add_batch",
            {"ref": "b", "sku": "LAMP", "qty": 1, "eta": "soon"},
            "Field 'eta' must be a date YYYY-MM-DD or null",
        ),
        (
            "change_batch_quantity",
            {"ref": "early", "qty": -1},
            "Field 'qty' must be greater than or equal to 0",
        ),
    ],
)
def test_bad_bodies_are_one_sentence_too(stocked, path, body, message, api):
    assert_json_error(api.post(path, body), 400, message)


def test_a_body_that_is_not_json_is_a_400(stocked, api):
    response = api.post("allocate", "{not json")
    assert_json_error(response, 400)
    assert response.json()["message"].startswith("Cannot parse request body")


def test_a_bad_order_id_is_a_400_that_never_reaches_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/allocations/%20o1")
    assert_json_error(response, 400, "Parameter 'orderid' must have no outer spaces")


# -- 401, 403: tokens and permissions -----------------------------------------------------

PERMISSIONS = {
    "add_batch": ("create_batch", {"ref": "b2", "sku": "LAMP", "qty": 5}, 201),
    "allocate": ("allocate_line", {"orderid": "o2", "sku": "LAMP", "qty": 1}, 202),
    "deallocate": ("deallocate_line", {"orderid": "o1", "sku": "LAMP"}, 200),
    "change_batch_quantity": ("change_batch_quantity", {"ref": "early", "qty": 50}, 200),
}


@pytest.fixture
def token_for(django_user_model):
    def issue(*codenames: str) -> dict[str, str]:
        user = django_user_model.objects.create_user(f"robot{len(codenames)}-{codenames}")
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue(user, 'test')}"}

    return issue


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic cm9ib3Q6cHc="])
def test_without_a_valid_token_a_command_is_a_401_with_the_challenge(
    stocked, settings, write_counts, header, api
):
    settings.API_REQUIRE_TOKEN = True
    before = write_counts()
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.post("allocate", PERMISSIONS["allocate"][1], **headers)
    assert_json_error(response, 401, "Authentication required: send Authorization: Bearer <token>")
    assert response["WWW-Authenticate"] == "Bearer"
    assert write_counts() == before


@pytest.mark.parametrize("path", PERMISSIONS)
def test_each_command_needs_its_own_permission(
    stocked, settings, write_counts, token_for, path, api
):
    settings.API_REQUIRE_TOKEN = True
    codename, body, success = PERMISSIONS[path]
    others = [c for c, _, _ in PERMISSIONS.values() if c != codename]
    before = write_counts()

    refused = api.post(path, body, **token_for(*others))
    assert_json_error(refused, 403, f"Permission denied: needs allocation.{codename}")
    assert write_counts() == before

    assert api.post(path, body, **token_for(codename)).status_code == success


def test_reads_need_no_token(client, stocked, settings):
    settings.API_REQUIRE_TOKEN = True
    # o1 is written but not projected (delivery waits for a commit this test never makes)
    assert client.get("/api/orders/o1").status_code not in (401, 403)


def test_a_logged_in_browser_posts_without_a_csrf_token(stocked, django_user_model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_user("ann"))
    response = ApiClient(browser).post("allocate", {"orderid": "o2", "sku": "LAMP", "qty": 1})
    assert response.status_code == 202


# -- 404, 405: paths and methods no endpoint answers ---------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api/allocations/", "/api/allocate/x"])
def test_an_unknown_api_path_is_a_json_404(client, path):
    assert_json_error(client.get(path), 404, f"No such endpoint: {path}")
    assert_json_error(client.post(path), 404)


def test_outside_the_api_a_404_stays_a_page(client):
    response = client.get("/nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/allocate", "POST"),
        ("put", "/api/add_batch", "POST"),
        ("post", "/api/allocations/o1", "GET"),
        ("delete", "/api/orders/o1", "GET"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_json_error(response, 405, f"{method.upper()} is not allowed here; allowed: {allowed}")
    assert response["Allow"] == allowed


# -- 409, 413 -----------------------------------------------------------------------------


def test_a_changed_line_is_a_409(stocked, write_counts, api):
    before = write_counts()
    response = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 4})
    assert_json_error(response, 409, "Order o1 already has 3 of LAMP; cannot change it to 4")
    assert write_counts() == before


def test_a_body_over_the_upload_limit_is_a_413_and_writes_nothing(
    stocked, settings, write_counts, api
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    before = write_counts()
    body = {"orderid": "o2", "sku": "LAMP", "qty": 1, "padding": "x" * 100}
    assert_json_error(api.post("allocate", body), 413, "The body is larger than 100 bytes")
    assert write_counts() == before
    assert api.post("allocate", {"orderid": "o2", "sku": "LAMP", "qty": 1}).status_code == 202


# -- 500, 503 -----------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_json_500_and_is_logged(monkeypatch, settings, caplog, debug, api):
    settings.DEBUG = debug
    bus = Refusing(RuntimeError("the disk is on fire"))
    monkeypatch.setattr("allocation.entrypoints.api.bootstrap", lambda: bus)
    quiet = ApiClient(Client(raise_request_exception=False))
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = quiet.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1})
    assert_json_error(response, 500, "Internal Server Error")
    [logged] = [r for r in caplog.records if r.name == "django.request"]
    assert logged.exc_info
    assert str(logged.exc_info[1]) == "the disk is on fire"


@pytest.mark.parametrize("debug", [False, True])
def test_the_database_gone_is_a_json_503(monkeypatch, settings, debug):
    settings.DEBUG = debug
    bus = Refusing(OperationalError("server closed the connection unexpectedly"))
    monkeypatch.setattr("allocation.entrypoints.api.bootstrap", lambda: bus)
    response = ApiClient(Client()).post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1})
    assert_json_error(response, 503)
    assert "nothing was saved" in response.json()["message"]
    assert response["Retry-After"]
