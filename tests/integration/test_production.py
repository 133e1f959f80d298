"""Production readiness: deploy checks, probes, API tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import override_settings

from allocation.adapters import tokens
from allocation.models import ApiToken, BatchRecord, OutboxEvent, ProductRecord

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.production",
    "SECRET_KEY": "x7!k2@q9#m4$v8%n1^b6&c3*z5(w0)e-r+t=y_u~i[o]p{a}s|d;f:g'h,j<k>l?",
    "ALLOWED_HOSTS": "allocation.example.com",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_reports_no_warnings(collected_static):
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(collected_static)}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)  # its probes run in threads of their own
def test_readyz_checks_the_database_and_events_written_but_not_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database:default"] == "ok"

    ProductRecord.objects.create(sku="S", version_number=1)
    OutboxEvent.objects.create(name="BatchCreated", sku="S", version=1, payload={}, sends=1)
    OutboxEvent.objects.update(created_at="2000-01-01T00:00:00Z", sent_at="2000-01-01T00:00:00Z")
    late = client.get("/readyz")
    assert late.status_code == 503  # sent long ago, never applied: the workers are gone
    assert "oldest event not applied" in late.json()["checks"]["read_model_lag"]


@pytest.mark.django_db
@override_settings(API_REQUIRE_TOKEN=True)
def test_write_api_needs_a_token_with_the_permission(client, django_user_model, capsys):
    body = json.dumps({"ref": "b1", "sku": "LAMP", "qty": 5, "eta": None})

    def add_batch(**headers: str):
        return client.post(
            "/api/add_batch", data=body, content_type="application/json", headers=headers
        )

    assert add_batch().status_code == 401
    assert add_batch(Authorization="Bearer not-a-token").status_code == 401

    user = django_user_model.objects.create_user("robot")
    call_command("create_api_token", "robot", "--name", "warehouse")
    token = capsys.readouterr().out.strip()
    assert ApiToken.objects.get().digest == tokens.digest(token)  # only the hash is kept
    assert token not in ApiToken.objects.get().digest

    refused = add_batch(Authorization=f"Bearer {token}")
    assert refused.status_code == 403
    assert not BatchRecord.objects.exists()

    user.user_permissions.add(Permission.objects.get(codename="create_batch"))
    assert add_batch(Authorization=f"Bearer {token}").status_code == 201
    assert client.get("/api/allocations/anything").status_code == 404  # reads stay open


@pytest.mark.django_db
def test_create_api_token_for_an_unknown_user_fails_with_one_line():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user ghost"):
        call_command("create_api_token", "ghost")
