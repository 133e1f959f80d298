"""Packaging and operations (issue 14, items 12 and 13): the image, the compose file,
logs, the favicon, what git ignores.

The image and the stack cannot be built here (no Docker engine, no registry for the
base images): their files are checked for what the issue asks, and CI checks the
compose file with ``docker-compose config -q``. Logs and the favicon are probed in a
fresh process under the production settings, as a deployment runs them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.production",
    "SECRET_KEY": "a-production-like-secret-key-of-fifty-characters-or-more-0123456789",
    "ALLOWED_HOSTS": "testserver",
}
DEVELOPMENT = {"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_the_image_runs_as_an_unprivileged_user():
    users = [line.split()[1] for line in dockerfile() if line.startswith("USER ")]
    assert users, "no USER: the processes would run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit()  # numeric, so that runAsNonRoot can check it
    assert int(user) != 0


def test_the_app_is_installed_once():
    """Only the dependencies are pip-installed; the code is copied once and run from
    /app (before, ``pip install .`` put a second copy in site-packages)."""
    installs = [line for line in dockerfile() if "pip install" in line]
    assert len(installs) == 1
    assert " -r " in installs[0]
    assert not re.search(r"pip install[^&]*\s(-e\s+)?\.(\s|$)", installs[0])
    assert "ENV" in next(line for line in dockerfile() if "PYTHONPATH=/app" in line)


def test_the_image_and_make_install_what_the_lock_says_with_the_same_uv():
    """One lock (uv.lock) for every install: the image's and ``make``'s uv are one version."""
    [install] = [line for line in dockerfile() if "uv export" in line]
    assert "--frozen" in install  # the lock as it is, never re-resolved at build time
    assert "COPY pyproject.toml uv.lock" in dockerfile()[dockerfile().index(install) - 1]
    image_uv = re.search(r"uv==([\d.]+)", install)
    make_uv = re.search(r"^UV_VERSION := ([\d.]+)$", (ROOT / "Makefile").read_text(), re.M)
    assert image_uv
    assert make_uv
    assert image_uv.group(1) == make_uv.group(1)


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "db.sqlite3*", ".git", "staticfiles", "node_modules", ".env"} <= ignored


def test_every_long_running_service_restarts_and_has_a_healthcheck():
    services = compose()["services"]
    once = {name for name, service in services.items() if service.get("restart") == "no"}
    assert once == {"migrate"}
    for name, service in services.items():
        if name in once:
            continue
        assert service.get("restart") in ("always", "unless-stopped"), name
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name


def test_redis_keeps_its_data_across_a_restart():
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_beat_keeps_its_schedule_where_the_apps_user_may_write_and_answers_its_ping():
    beat = compose()["services"]["beat"]
    assert "--schedule /tmp/" in beat["command"]
    assert "--enable-remote-control" in beat["command"]  # what its healthcheck pings
    assert "celerybeat@$$HOSTNAME" in beat["healthcheck"]["test"][1]  # $$: compose escape


def test_the_compose_file_is_the_compose_specification():
    """Docker Compose v2 (``docker compose``, as the README says) warns about the
    obsolete ``version`` key of the v1 file formats."""
    assert "version" not in compose()


def probe(snippet: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``snippet`` in a new process with the settings ``env`` names; Django is set up and
    ``client`` is a test client. The database is never opened."""
    setup = "import django\ndjango.setup()\nfrom django.test import Client\nclient = Client()\n"
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS")}
    clean.pop("DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", setup + snippet],
        cwd=ROOT,
        env={**clean, "DATABASE_URL": "sqlite:////nonexistent/never-opened", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


FORBIDDEN = (
    "client = Client(enforce_csrf_checks=True)\n"
    "response = client.post('/accounts/login/', {'username': 'u'}, secure=True)\n"
    "print(response.status_code)\n"
)


def test_a_warning_of_django_is_printed_once_in_development():
    result = probe(FORBIDDEN, DEVELOPMENT)
    assert result.stdout == "403\n", result.stderr
    assert result.stderr.count("Forbidden (") == 1, result.stderr


def test_a_warning_of_django_is_one_json_line_in_production():
    result = probe(FORBIDDEN, PRODUCTION)
    assert result.stdout == "403\n", result.stderr
    forbidden = [line for line in result.stderr.splitlines() if "Forbidden (" in line]
    assert len(forbidden) == 1, result.stderr
    assert json.loads(forbidden[0])["logger"] == "django.security.csrf"


def test_the_favicon_is_served_and_linked():
    result = probe(
        "icon = client.get('/favicon.ico', secure=True)\n"
        "print(icon.status_code, icon['Content-Type'], b''.join(icon.streaming_content)[:4])\n",
        PRODUCTION,
    )
    assert result.stdout == "200 image/x-icon b'\\x00\\x00\\x01\\x00'\n", result.stderr
    base = (ROOT / "templates" / "base.html").read_text()
    assert '<link rel="icon" href="/favicon.ico"' in base


@pytest.mark.parametrize("name", ["celerybeat-schedule", "celerybeat-schedule.db"])
def test_git_ignores_what_beat_leaves_behind(name):
    ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
    assert ignored.returncode == 0
