"""The front-end kernel in a real browser: an API error reaches the page as Portal.ApiError, with the status,
code, message and details of the project's error shape, and the page shows that message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD_QUERY = "level=error AND (service=x"


def test_api_error_surfaces_as_the_kernels_api_error(live_server: Any, page: Any, alice: Any,
                                                     output_dir: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server.url, alice.email, PASSWORD)
    page.goto(live_server.url + "/o/acme/logs/")
    page.wait_for_function("document.getElementById('total').textContent !== '–'")

    # What the API itself answers, read without the kernel.
    raw = page.evaluate("""q => fetch('/api/v1/logs/search/?q=' + encodeURIComponent(q),
        {headers: {'X-Portal-Org': 'acme', 'Accept': 'application/json'}})
        .then(r => r.json().then(body => ({status: r.status, body})))""", BAD_QUERY)
    assert raw["status"] == 400 and raw["body"]["error"]["message"]

    # The kernel's client rejects with one ApiError carrying that error.
    seen = page.evaluate("""q => Portal.api.get('/logs/search/', {q}).then(() => null, e => ({
        isApiError: e instanceof Portal.ApiError, name: e.name, status: e.status, code: e.code,
        message: e.message, details: e.details}))""", BAD_QUERY)
    assert seen == {"isApiError": True, "name": "ApiError", "status": 400, "code": raw["body"]["error"]["code"],
                    "message": raw["body"]["error"]["message"], "details": raw["body"]["error"]["details"]}

    # A route that does not exist: still an ApiError with the status, whatever the body.
    missing = page.evaluate("""() => Portal.api.get('/no-such-route/').then(() => null,
        e => ({isApiError: e instanceof Portal.ApiError, status: e.status, message: e.message}))""")
    assert missing["isApiError"] and missing["status"] == 404 and missing["message"]

    # The page shows the same message, and the query with a caret at the error's position.
    page.fill("#q", BAD_QUERY)
    page.click("#run")
    box = page.locator("#query-error")
    box.wait_for(state="visible")
    assert box.locator(".msg").inner_text() == raw["body"]["error"]["message"]
    assert box.get_attribute("data-position") == str(raw["body"]["error"]["details"]["position"])
    page.screenshot(path=str(output_dir / "kernel-api-error.png"))
    assert errors == []
