"""Playwright with Debian's Chromium (never a downloaded browser). The `browser` and `page` fixtures live in
tests/conftest.py so the whole run shares one Playwright instance; this module holds the launch settings."""

from __future__ import annotations

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
