"""Playwright with Debian's Chromium (never a downloaded browser). The `browser` and `page` fixtures live in
tests/conftest.py so the whole run shares one Playwright instance; this module holds the launch settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def login(page: Any, base: str, email: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@contextmanager
def signed_in(browser: Any, base: str, email: str, password: str, height: int = 900) -> Iterator[Any]:
    """A page of a fresh context, signed in as `email`; on exit the context closes and any JavaScript error
    the page raised fails the test (an error logged in the console is a broken page even if the data shows)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": height})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    login(p, base, email, password)
    yield p
    ctx.close()
    assert errors == [], f"JavaScript errors: {errors}"
