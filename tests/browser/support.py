"""What the browser tests share besides fixtures: Chromium's path, users, axe-core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"
DESKTOP = ViewportSize(width=1280, height=860)
PHONE = ViewportSize(width=390, height=844)
COMMAND_CODENAMES = ["create_batch", "allocate_line", "change_batch_quantity", "deallocate_line"]

SERIOUS = ("serious", "critical")


def open_page(
    contexts: list[BrowserContext], browser: Browser, phone: bool = False, bypass_csp: bool = True
) -> Page:
    """A page in a context of its own (kept in ``contexts``, the fixture that closes
    them); the CSP bypassed unless asked, so that axe-core can be injected."""
    context = browser.new_context(viewport=PHONE if phone else DESKTOP, bypass_csp=bypass_csp)
    context.set_default_timeout(10_000)
    contexts.append(context)
    return context.new_page()


def log_in(page: Page, base: str | None = None, username: str = "carla") -> None:
    """Log in through the form. With ``base``, open the login page first and wait for
    the dashboard; without, the page already is the login form (where a redirect left
    the browser, and where it goes next is the redirect's ``next``)."""
    if base is not None:
        page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if base is not None:
        page.wait_for_url(base + "/")


def serious_violations(page: Page) -> list[str]:
    """axe-core's critical and serious violations on the page as it is now, one line each.

    The page's context must bypass the CSP (``bypass_csp=True``): Playwright injects the
    script's text inline, which the site's policy refuses, as it should.
    """
    page.add_script_tag(path=AXE)
    result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}) x{len(v['nodes'])}: "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]
