"""Deployment traps, probed under the production settings (issue 14, items 1-4 and 10).

What a first deployment hits: static files never collected, a database unreachable or
never created, demo users and a default secret. And bad input that must be a 4xx, not
a 500. In-process probes use Django's test client with ``config.production``'s settings
(``production``); the time bounds are measured on a real gunicorn, a real subprocess.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command

from allocation.adapters import tokens
from allocation.models import BatchRecord, OrderLineRecord
from tests.integration.test_production import PRODUCTION_ENV, ROOT, manage
from tests.processes import Process, database_url, free_port
from tests.security.production import apply_production

KEPT = {"DATABASES", "CACHES", "PASSWORD_HASHERS", "LOGGING"}
"""The test run's own: its test databases, its cache per test, cheap hashes, its logs."""


@pytest.fixture
def production(settings):
    """The production settings for this test, static files storage included (what item 1
    is about), served to the test client's host."""
    return apply_production(settings, KEPT, ALLOWED_HOSTS="testserver")


def token_for(*codenames: str) -> str:
    user = User.objects.create_user("robot")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return tokens.issue(user, "probe")


# -- 1. static files never collected --------------------------------------------------------


def test_check_deploy_fails_until_the_static_files_are_collected(tmp_path):
    result = manage("check", "--deploy", env={**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path)})
    assert result.returncode != 0
    assert "allocation.E001" in result.stderr
    assert "collectstatic" in result.stderr


def test_the_web_server_says_at_start_that_the_static_files_are_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr  # it still starts: /readyz reports it
    assert "allocation.E001" in result.stderr
    assert "collectstatic" in result.stderr


@pytest.mark.django_db(transaction=True)  # /readyz's probes run in threads of their own
def test_without_collected_static_files_readyz_fails_and_pages_are_503s(
    production, tmp_path, client, caplog
):
    production.STATIC_ROOT = tmp_path
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "collectstatic" in ready.json()["checks"]["static_files"]

    for url in ("/accounts/login/", "/admin/login/"):
        page = client.get(url, secure=True)
        assert page.status_code == 503, url
        assert page["Retry-After"]
        assert b"being deployed" in page.content
    assert "collectstatic" in caplog.text  # what the operator reads


@pytest.mark.django_db(transaction=True)
def test_with_collected_static_files_readyz_and_pages_are_fine(
    production, collected_static, client
):
    production.STATIC_ROOT = collected_static
    assert client.get("/readyz").json()["checks"]["static_files"] == "ok"
    page = client.get("/accounts/login/", secure=True)
    assert page.status_code == 200
    assert re.search(rb'href="/static/css/app\.[0-9a-f]+\.css"', page.content)  # hashed


# -- 2. a database that does not answer ------------------------------------------------------


@contextmanager
def unreachable_database(kind: str) -> Iterator[str]:
    """A DATABASE_URL nobody answers: a closed port, or a server that accepts the
    connection and then says nothing (as behind a firewall that drops the replies)."""
    if kind == "closed port":
        yield f"postgres://postgres@127.0.0.1:{free_port()}/allocation"
        return
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes handshakes; nothing ever reads or writes
        yield f"postgres://postgres@127.0.0.1:{silent.getsockname()[1]}/allocation"


class ProductionWeb(Process):
    """gunicorn on ``config.production``, with the given database."""

    READY = "Booting worker"

    def __init__(self, database: str, static_root: Path, log: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {
            **PRODUCTION_ENV,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database,
            "READ_DATABASE_URL": "",
            "REDIS_URL": "",
            "STATIC_ROOT": str(static_root),
        }
        argv = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py",
                "--bind", self.url[7:], "--workers", "1", "--no-control-socket"]  # fmt: skip
        super().__init__(argv, env, log, "gunicorn to start")


def timed(method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=90, **kwargs)
    return response, time.monotonic() - started


@pytest.mark.parametrize("kind", ["closed port", "silent server"])
def test_an_unreachable_database_is_a_prompt_503(kind, collected_static, tmp_path):
    """/readyz within 2 s (1.5 s promised), requests within DB_CONNECT_TIMEOUT (2 s)."""
    behind_tls = {"X-Forwarded-Proto": "https"}
    with unreachable_database(kind) as database:
        web = ProductionWeb(database, collected_static, tmp_path / "web.log")
        try:
            assert requests.get(f"{web.url}/healthz", timeout=30).ok  # loads the URLs
            ready, took = timed("GET", f"{web.url}/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database:default"] != "ok"
            assert took < 3.0

            command, took = timed(
                "POST",
                f"{web.url}/api/allocate",
                json={"orderid": "o1", "sku": "LAMP", "qty": 1},
                headers={**behind_tls, "Authorization": "Bearer some-token"},
            )
            assert command.status_code == 503, command.text
            assert command.headers["Retry-After"]
            assert "database is unavailable" in command.json()["message"]
            assert took < 6.0

            page, took = timed(
                "GET", f"{web.url}/orders/", headers=behind_tls, cookies={"sessionid": "x" * 32}
            )
            assert page.status_code == 503
            assert page.headers["Retry-After"]
            assert took < 6.0
        finally:
            web.stop()


# -- 3. a database never created ------------------------------------------------------------


@pytest.mark.postgres
def test_migrate_names_a_missing_database_and_make_db_creates_it():
    name = f"allocation_deploy_missing_{os.getpid()}"
    url = database_url().rsplit("/", 1)[0] + f"/{name}"
    env = {"DATABASE_URL": url, "READ_DATABASE_URL": ""}
    try:
        started = time.monotonic()
        refused = manage("migrate", "--noinput", env=env)
        assert refused.returncode != 0
        assert time.monotonic() - started < 20  # not the pool's 30 s
        assert f'database "{name}" does not exist' in refused.stderr
        assert "make db" in refused.stderr

        created = manage("create_database", env=env)
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip() == f"Created database {name}"
        again = manage("create_database", env=env)
        assert again.stdout.strip() == f"Database {name} already exists"
        assert manage("migrate", "--noinput", env=env).returncode == 0
    finally:
        server = database_url().rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- 4. demo users, a default secret, a port open to the world ------------------------------


def test_load_demo_data_refuses_under_the_production_settings():
    refused = manage("load_demo_data", env=PRODUCTION_ENV)
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "refuses to run under production settings" in refused.stderr


@pytest.mark.django_db
def test_load_demo_data_creates_no_user_under_the_production_settings(production):
    with pytest.raises(CommandError, match="admin/admin"):
        call_command("load_demo_data")
    assert not User.objects.exists()
    assert not BatchRecord.objects.exists()


def test_compose_has_no_default_secret_and_publishes_on_localhost():
    compose = (ROOT / "docker-compose.yml").read_text()
    secret = re.search(r"^\s*SECRET_KEY: (.*)$", compose, re.MULTILINE)
    assert secret
    assert secret.group(1).startswith("${SECRET_KEY:?")  # compose stops without one
    ports = re.findall(r'^\s*- "(.*:8000)"$', compose, re.MULTILINE)
    assert ports == ["${WEB_PUBLISH:-127.0.0.1:8000}:8000"]


# -- 10. bad input that must not be a 500 ---------------------------------------------------


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400(production, client):
    token = token_for("allocate_line")
    body = '{"orderid": "o1", "sku": ' + "[" * 10_000 + "]" * 10_000 + ', "qty": 1}'
    response = client.post(
        "/api/allocate",
        data=body,
        content_type="application/json",
        secure=True,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.json()["message"]


@pytest.mark.django_db
def test_an_order_id_with_a_slash_is_refused_on_write(production, client, api):
    token = token_for("create_batch", "allocate_line")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "secure": True}
    assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}, **auth).status_code == 201
    response = api.post("allocate", {"orderid": "a/b", "sku": "LAMP", "qty": 1}, **auth)
    assert response.status_code == 400
    assert response.json() == {"message": "Field 'orderid' must not contain '/'"}
    assert not OrderLineRecord.objects.exists()


@pytest.mark.django_db
def test_a_view_only_staff_user_sees_a_batch_in_the_admin(
    production, collected_static, client, api, django_user_model
):
    production.STATIC_ROOT = collected_static
    production.API_REQUIRE_TOKEN = False
    api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}, secure=True)
    viewer = django_user_model.objects.create_user("looker", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_batchrecord"))
    client.force_login(viewer)
    url = f"/admin/allocation/batchrecord/{BatchRecord.objects.get().pk}/change/"

    page = client.get(url, secure=True)
    assert page.status_code == 200
    assert b"Purchased quantity" in page.content
    assert client.post(url, {"purchased_quantity": 1}, secure=True).status_code == 403
    assert BatchRecord.objects.get().purchased_quantity == 5
