"""The OpenAPI document: what it says, who sees its docs, and that the API keeps to it."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from allocation.adapters import tokens
from allocation.domain import commands

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


# -- the document ---------------------------------------------------------------------------

COMMANDS = {
    "/api/add_batch": ("AddBatch", 201, "BatchAdded"),
    "/api/allocate": ("Allocate", 202, "Allocation"),
    "/api/deallocate": ("Deallocate", 200, "Deallocated"),
    "/api/change_batch_quantity": ("ChangeBatchQuantity", 200, "QuantityChanged"),
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


READS: dict[str, dict[str, Any]] = {
    "/api/allocations/{orderid}": {"type": "array", "items": ref("AllocationRow")},
    "/api/orders/{orderid}": ref("Order"),
}


def json_schema(answer: dict[str, Any]) -> Any:
    return answer["content"]["application/json"]["schema"]


def test_the_document_is_openapi_3_with_every_path_and_only_those(document):
    assert document["openapi"].startswith("3.")
    assert {path: list(item) for path, item in document["paths"].items()} == {
        **{path: ["post"] for path in COMMANDS},
        **{path: ["get"] for path in READS},
    }


@pytest.mark.parametrize("path", COMMANDS)
def test_each_command_has_its_body_its_answer_and_every_error(document, path):
    body, status, answer = COMMANDS[path]
    operation = document["paths"][path]["post"]
    assert json_schema(operation["requestBody"]) == ref(body)
    assert operation["requestBody"]["required"] is True
    answers = operation["responses"]
    assert list(answers) == [str(status), "400", "401", "403", "409", "413", "500", "503"]
    assert json_schema(answers[str(status)]) == ref(answer)
    for code in ("400", "401", "403", "409", "413", "500", "503"):
        assert json_schema(answers[code]) == ref("Message")
        assert answers[code]["description"]
    assert answers["401"]["headers"]["WWW-Authenticate"]["schema"]["enum"] == ["Bearer"]
    assert "Retry-After" in answers["503"]["headers"]
    assert operation["security"] == [{"Token": []}]


@pytest.mark.parametrize("path", READS)
def test_each_read_documents_its_answers_and_the_stale_header(document, path):
    operation = document["paths"][path]["get"]
    assert operation["security"] == [{"Token": []}, {"Session": []}]
    [parameter] = operation["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == ("orderid", "path", True)
    assert parameter["schema"]["maxLength"] == 255
    answers = operation["responses"]
    assert list(answers) == ["200", "400", "401", "403", "404", "500", "503"]
    for code in ("200", "404"):
        header = answers[code]["headers"]["X-Read-Model-Stale"]
        assert header["required"] is True
        assert header["schema"]["enum"] == ["true", "false"]
    ok = json_schema(answers["200"])
    assert {key: ok[key] for key in READS[path]} == READS[path]


def test_the_bodies_carry_the_input_rules(document):
    schemas = document["components"]["schemas"]
    add_batch = schemas["AddBatch"]
    assert add_batch["required"] == ["ref", "sku", "qty"]
    for field in ("ref", "sku"):
        text = add_batch["properties"][field]
        assert (text["type"], text["minLength"], text["maxLength"]) == ("string", 1, 255)
        assert text["pattern"]
    qty = add_batch["properties"]["qty"]
    assert (qty["type"], qty["minimum"], qty["maximum"]) == ("integer", 1, 2**31 - 1)
    assert add_batch["properties"]["eta"]["anyOf"] == [
        {"type": "string", "format": "date"},
        {"type": "null"},
    ]
    assert schemas["ChangeBatchQuantity"]["properties"]["qty"]["minimum"] == 0
    assert schemas["Allocate"]["required"] == ["orderid", "sku", "qty"]
    assert schemas["Deallocate"]["required"] == ["orderid", "sku"]


def test_the_answers_carry_the_books_fields(document):
    schemas = document["components"]["schemas"]
    assert schemas["Message"]["required"] == ["message"]
    allocation = schemas["Allocation"]
    assert allocation["required"] == ["status", "batchref"]
    assert allocation["properties"]["status"]["enum"] == ["allocated", "waiting"]
    assert {"type": "null"} in allocation["properties"]["batchref"]["anyOf"]
    assert schemas["AllocationRow"]["required"] == ["sku", "batchref"]
    assert schemas["Order"]["required"] == [
        "orderid",
        "status",
        "expected_ship_date",
        "ships",
        "lines",
    ]
    assert schemas["OrderStatus"]["enum"] == ["allocated", "partly_allocated", "waiting"]
    assert schemas["OrderLine"]["required"] == ["sku", "qty", "status", "batchref"]
    assert document["components"]["securitySchemes"] == {
        "Session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        "Token": {"type": "http", "scheme": "bearer"},
    }


# -- who sees the docs ----------------------------------------------------------------------


def test_in_development_the_docs_are_open(client, settings):
    settings.DEBUG = True
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/openapi.json" in html
    assert "/static/ninja/swagger-ui-bundle.js" in html  # served here, not from a CDN


def test_in_production_only_staff_see_the_docs(client, settings, django_user_model):
    settings.DEBUG = False
    anonymous = client.get("/api/docs")
    assert anonymous.status_code == 302
    assert "login" in anonymous.url

    client.force_login(django_user_model.objects.create_user("clerk"))
    assert client.get("/api/docs").status_code == 302

    client.force_login(django_user_model.objects.create_user("boss", is_staff=True))
    assert client.get("/api/docs").status_code == 200


def test_in_production_the_document_stays_public(client, settings):
    settings.DEBUG = False
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert "/api/allocate" in response.json()["paths"]


# -- schemathesis: the API keeps to its own schema ------------------------------------------


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    unsupported_method,
    negative_data_rejection,
]
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture
def token(transactional_db, bus, settings, django_user_model) -> str:
    """As in production: a token, of a user who may send every command.

    The rows the schema's examples name exist, so that the examples reach the rules.
    """
    settings.API_REQUIRE_TOKEN = settings.API_READS_REQUIRE_AUTH = True
    bus.handle(commands.CreateBatch("batch-001", "RED-CHAIR", 10))
    bus.handle(commands.Allocate("order-001", "RED-CHAIR", 2))
    return tokens.issue(django_user_model.objects.create_superuser("robot"), "schemathesis")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_documented_and_conforms(case, token):
    # identity: schemathesis's WSGI client would not undo GZipMiddleware's compression
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    case.call_and_validate(headers=headers, checks=CHECKS)
