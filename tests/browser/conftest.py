"""The browser tests' setup: Debian's Chromium through Playwright, a user, and axe-core.

Nothing here downloads a browser: Playwright drives ``/usr/bin/chromium``. axe-core
comes from npm as a test-only dependency (``tests/browser/package.json``; ``make
install`` runs ``npm ci`` here) and is injected into each page by Playwright, never
from a CDN. Without Chromium or axe-core the browser tests are skipped, or fail under
``REQUIRE_SERVICES=1`` (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COMMAND_CODENAMES,
    DESKTOP,
    PASSWORD,
)


@pytest.fixture
def browser(controller: Any) -> Iterator[Browser]:
    """Started after the test's database work, and function-scoped.

    Playwright's sync API keeps an asyncio loop running in this thread; database work
    done meanwhile (Django would refuse it unless DJANGO_ALLOW_ASYNC_UNSAFE is set)
    leaks a pooled PostgreSQL connection, so the test data exists before the browser
    does: a fixture that makes data must come before this one in the test's arguments.
    """
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """The test's browser contexts (``support.open_page``), closed after it."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


@pytest.fixture
def refused(page: Page) -> list[str]:
    """What Chromium refused under the Content-Security-Policy (it says so on its console)."""
    messages: list[str] = []

    def keep(text: str) -> None:
        if "Content Security Policy" in text:
            messages.append(text)

    page.on("console", lambda message: keep(message.text))
    return messages


@pytest.fixture
def controller(transactional_db: None, django_user_model: Any, settings: Any) -> Any:
    """Staff with the four command permissions and a look at the admin tables (the users
    too, so the histories name who did what)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_user("carla", password=PASSWORD, is_staff=True)
    codenames = [
        *COMMAND_CODENAMES,
        *("view_batchrecord", "view_orderview", "view_eventlog", "view_user"),
    ]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user
