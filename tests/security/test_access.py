"""Probes of who gets in, against the production settings (issue 14, items 6 to 9).

Failed logins lock out the account and the client's address (django-axes, both login
forms, the address as the TLS proxy saw it); the read API wants a token or a session;
every answer carries a strict Content-Security-Policy and a Permissions-Policy, the
logged-in ones are kept by no cache, HTML goes compressed; a Redis outage costs no
request its answer.
"""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from csp.decorators import csp_update
from csp.utils import build_policy
from django.contrib.auth.models import Permission, User
from django.core.cache import caches
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import Client

from allocation.adapters import tokens
from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints.web.middleware import ContentSecurityPolicyMiddleware
from allocation.models import BatchRecord
from tests.fixtures.users import make_user
from tests.processes import ROOT, RedisServer, free_port
from tests.security.production import through_proxy

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-42"
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def log_in(client: Client, username: str, password: str, form: str = LOGIN):
    return client.post(form, {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


# -- 7. failed logins: django-axes, per account and per address, both forms -----------------


@pytest.fixture
def alice(django_user_model) -> User:
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


def test_an_account_is_locked_out_whatever_address_the_guesses_come_from(production, alice):
    limit = production.AXES_FAILURE_LIMIT
    for attempt in range(1, limit + 1):
        wrong = log_in(through_proxy(f"81.2.69.{attempt}"), "alice", "nope")
        assert wrong.status_code == (200 if attempt < limit else 429)  # 200: the form again

    refused = log_in(through_proxy("81.2.69.200"), "alice", PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(int(production.AXES_COOLOFF_TIME.total_seconds()))
    assert "Too many failed attempts" in refused.content.decode()
    assert "_auth_user_id" not in refused.client.session


def test_an_address_behind_the_proxy_is_locked_out_alone(production, alice, django_user_model):
    django_user_model.objects.create_user("bob", password=PASSWORD)
    guesser = "81.2.69.142"
    lock_out_address(production, guesser)

    assert log_in(through_proxy(guesser), "bob", PASSWORD).status_code == 429
    # Writing an address of its own before the proxy's does not help the guesser...
    assert log_in(through_proxy(f"10.9.8.7, {guesser}"), "bob", PASSWORD).status_code == 429
    # ...and the other clients behind the same proxy are not locked out with it.
    assert logged_in(log_in(through_proxy("81.2.69.160"), "bob", PASSWORD))
    assert logged_in(log_in(through_proxy("81.2.69.161"), "alice", PASSWORD))


def test_the_admin_login_is_locked_out_too_and_counts_with_the_form(production, alice):
    limit = production.AXES_FAILURE_LIMIT
    for attempt in range(limit):
        form = LOGIN if attempt % 2 else ADMIN_LOGIN
        log_in(through_proxy(f"81.2.69.{attempt + 1}"), "alice", "nope", form)

    refused = log_in(through_proxy("81.2.69.99"), "alice", PASSWORD, ADMIN_LOGIN)
    assert refused.status_code == 429
    assert refused.has_header("Retry-After")
    assert "_auth_user_id" not in refused.client.session


def lock_out_account(production, username: str) -> None:
    """Failures from as many addresses as the limit."""
    for attempt in range(production.AXES_FAILURE_LIMIT):
        log_in(through_proxy(f"81.2.70.{attempt + 1}"), username, "nope")
    assert log_in(through_proxy("81.2.70.200"), username, PASSWORD).status_code == 429


def lock_out_address(production, address: str) -> None:
    """Failures for as many accounts as the limit."""
    for attempt in range(production.AXES_FAILURE_LIMIT):
        log_in(through_proxy(address), f"user{attempt}", "nope")


def test_the_reset_commands_unlock_an_account_and_an_address(production, alice):
    lock_out_account(production, "alice")
    call_command("axes_reset_username", "alice")
    assert logged_in(log_in(through_proxy("81.2.70.200"), "alice", PASSWORD))

    lock_out_address(production, "81.2.69.142")
    assert log_in(through_proxy("81.2.69.142"), "alice", PASSWORD).status_code == 429
    call_command("axes_reset_ip", "81.2.69.142")
    assert logged_in(log_in(through_proxy("81.2.69.142"), "alice", PASSWORD))


def test_an_administrator_unlocks_from_the_admin(production, alice, admin_user):
    lock_out_account(production, "alice")
    administrator = through_proxy("81.2.69.1")
    administrator.force_login(admin_user)
    listing = administrator.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()

    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    chosen = {"action": "delete_selected", "_selected_action": attempts}
    confirm = administrator.post("/admin/axes/accessattempt/", chosen)
    assert confirm.status_code == 200
    assert (
        administrator.post("/admin/axes/accessattempt/", {**chosen, "post": "yes"}).status_code
        == 302
    )
    assert not AccessAttempt.objects.exists()
    assert logged_in(log_in(through_proxy("81.2.70.200"), "alice", PASSWORD))


# -- 8. the read API: a token or a session, with the view permission ------------------------


@pytest.fixture
def order(django_capture_on_commit_callbacks) -> str:
    """Allocated, and in the read model (events are applied once the write commits)."""
    bus = bootstrap()
    with django_capture_on_commit_callbacks(execute=True):
        bus.handle(commands.CreateBatch("batch-1", "LAMP", 10))
        bus.handle(commands.Allocate("order-1", "LAMP", 2))
    return "order-1"


READS = ("/api/orders/{}", "/api/allocations/{}")


@pytest.mark.parametrize("read", READS)
def test_the_read_api_refuses_anonymous_callers_in_production(production_client, order, read):
    response = production_client.get(read.format(order))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == "Bearer"
    assert "message" in response.json()


@pytest.mark.parametrize("read", READS)
def test_a_token_needs_the_view_permission(production_client, order, read, django_user_model):
    user = make_user(django_user_model, "robot")
    bearer = {"Authorization": f"Bearer {tokens.issue(user, 'reader')}"}
    refused = production_client.get(read.format(order), headers=bearer)
    assert refused.status_code == 403
    assert "orders_read.view_orderview" in refused.json()["message"]

    user.user_permissions.add(Permission.objects.get(codename="view_orderview"))
    assert production_client.get(read.format(order), headers=bearer).status_code == 200
    wrong = {"Authorization": "Bearer not-a-token"}
    assert production_client.get(read.format(order), headers=wrong).status_code == 401


@pytest.mark.parametrize("read", READS)
def test_a_session_needs_the_view_permission(production_client, order, read, django_user_model):
    user = make_user(django_user_model, "clerk")
    production_client.force_login(user)
    assert production_client.get(read.format(order)).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="view_orderview"))
    assert production_client.get(read.format(order)).status_code == 200


@pytest.mark.parametrize("read", READS)
def test_development_reads_stay_open(client, order, read):
    assert client.get(read.format(order)).status_code == 200


# -- 9. headers: CSP, Permissions-Policy, private answers, compression -----------------------

ANONYMOUS_PAGES = ("/accounts/login/", "/admin/login/", "/healthz", "/api/openapi.json", "/nowhere")


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_every_answer_has_a_strict_csp_and_a_permissions_policy(production_client, path):
    response = production_client.get(path)
    header = response["Content-Security-Policy"]
    policy = dict(directive.strip().split(" ", 1) for directive in header.split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in header
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def answered(
    view: Callable[[HttpRequest], HttpResponseBase], request: HttpRequest
) -> HttpResponseBase:
    """The view's answer, through the policy's middleware (synchronous: no awaitable)."""
    response = ContentSecurityPolicyMiddleware(view)(request)
    assert isinstance(response, HttpResponseBase)
    return response


def test_the_policy_built_once_is_django_csps_own(rf):
    for _ in range(2):
        response = answered(lambda request: HttpResponse("ok"), rf.get("/"))
        assert response["Content-Security-Policy"] == build_policy()


def test_an_answer_asking_for_its_own_policy_gets_it(rf):
    @csp_update({"img-src": ["https://images.example"]})
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    header = answered(view, rf.get("/"))["Content-Security-Policy"]
    assert "img-src 'self' data: https://images.example" in header
    assert "default-src 'none'" in header


@pytest.fixture
def operator_client(production_client, django_user_model, order) -> Client:
    production_client.force_login(
        make_user(django_user_model, "operator", "create_batch", "allocate_line", is_staff=True)
    )
    return production_client


LOGGED_IN_PAGES = ("/", "/stock/", "/stock/LAMP/", "/orders/", "/orders/order-1/",
                   "/batches/new/", "/place-order/", "/admin/")  # fmt: skip


@pytest.mark.parametrize("path", LOGGED_IN_PAGES)
def test_logged_in_pages_are_private_compressed_and_need_no_inline_style(operator_client, path):
    response = operator_client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert {"private", "no-store"} <= {
        part.strip() for part in response["Cache-Control"].split(",")
    }
    assert response["Content-Encoding"] == "gzip"
    html = gzip.decompress(response.content).decode()
    assert "<html" in html
    assert not inline_style_or_script(html), inline_style_or_script(html)


def test_a_token_callers_answers_are_private(production_client, order, django_user_model):
    user = make_user(django_user_model, "robot")
    user.user_permissions.add(Permission.objects.get(codename="view_orderview"))
    bearer = {"Authorization": f"Bearer {tokens.issue(user, 'reader')}"}
    response = production_client.get(f"/api/orders/{order}", headers=bearer)
    assert "no-store" in response["Cache-Control"]


INLINE = re.compile(r"""\sstyle=|<style|<script(?![^>]*\ssrc=)(?![^>]*type="application/json")""")


def inline_style_or_script(html: str) -> list[str]:
    return INLINE.findall(html)


def test_no_template_has_inline_style_or_script():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in (ROOT / "templates").rglob("*.html")
        if (found := inline_style_or_script(path.read_text()))
    }
    assert not offenders


# -- 6. Redis unreachable: sessions and users from the database, no 500 ---------------------


@pytest.fixture
def redis_cache(production, tmp_path: Path) -> Iterator[RedisServer]:
    """The production cache setup on a private redis-server the test can stop."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    production.CACHES = {
        "default": {
            "BACKEND": "allocation.entrypoints.web.cache.RedisCache",
            "LOCATION": server.url,
        }
    }
    production.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    production.AUTH_CACHE_TIMEOUT = 300
    yield server
    server.stop()
    caches["default"].close()


def quickly(call, seconds: float = 2.0):
    started = time.monotonic()
    response = call()
    assert time.monotonic() - started < seconds, "a request waited on the unreachable Redis"
    return response


@pytest.mark.redis
def test_redis_down_every_request_still_answers(redis_cache, django_user_model):
    make_user(django_user_model, "operator", "create_batch", password=PASSWORD)
    browser = through_proxy("81.2.69.142")
    assert logged_in(log_in(browser, "operator", PASSWORD))
    assert browser.get("/").status_code == 200  # session and user now in Redis

    redis_cache.stop()
    assert quickly(lambda: browser.get("/")).status_code == 200
    new_batch = {"ref": "b-2", "sku": "LAMP", "qty": 3, "new_sku": "LAMP"}  # a new SKU, confirmed
    added = quickly(lambda: browser.post("/batches/new/", new_batch))
    assert added.status_code == 302
    assert BatchRecord.objects.filter(reference="b-2").exists()

    newcomer = through_proxy("81.2.69.143")
    assert quickly(lambda: newcomer.get(LOGIN)).status_code == 200
    assert logged_in(quickly(lambda: log_in(newcomer, "operator", PASSWORD)))
    assert quickly(lambda: newcomer.get("/orders/")).status_code == 200


@pytest.mark.redis
def test_what_changed_while_redis_was_unreachable_is_not_served_stale(
    redis_cache, django_user_model
):
    """A logout while Redis hangs: once it answers again, the old session is gone."""
    make_user(django_user_model, "operator", password=PASSWORD)
    browser = through_proxy("81.2.69.142")
    assert logged_in(log_in(browser, "operator", PASSWORD))
    assert browser.get("/").status_code == 200
    stolen = browser.cookies["sessionid"].value

    redis_cache.pause()
    try:
        assert browser.post("/accounts/logout/").status_code == 302
    finally:
        redis_cache.resume()

    thief = through_proxy("81.2.69.200")
    thief.cookies["sessionid"] = stolen
    assert thief.get("/").status_code == 302  # to the login page
