"""A log record links to the records around it: `/o/<org>/logs/?context=<record id>` opens that record among
its neighbours for another member of the org, and shows "not found" to anyone else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pages(browser: Any, live_server: Any, alice: Any, bob: Any, charlie: Any, seeded: Any) -> Iterator[Any]:
    ctxs = []

    def open_as(email: str) -> Any:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        ctxs.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(60000)
        login(page, live_server.url, email, PASSWORD)
        return page

    yield open_as
    for ctx in ctxs:
        ctx.close()


def test_a_copied_context_link_opens_for_members_only(pages: Any, live_server: Any, org_a: Any, seeded: Any,
                                                      output_dir: Path) -> None:
    alice = pages("alice@acme.example")
    alice.goto(live_server.url + "/o/acme/logs/?q=level%3Derror")
    alice.wait_for_function("document.querySelectorAll('#results tr.rec').length === 6")
    alice.locator("#results tr.rec").nth(2).click()
    link = alice.locator("#results tr.detail a.context-link").get_attribute("href")
    assert link.startswith("/o/acme/logs/?context=")
    record_body = alice.locator("#results tr.rec").nth(2).locator("td.body").inner_text()

    bob = pages("bob@acme.example")  # another member of the org opens the copied link
    bob.goto(live_server.url + link)
    bob.locator("#context-view table.ctx tr.here").wait_for()
    assert bob.locator("#context-view table.ctx tr.here td.body").inner_text() == record_body
    assert bob.locator("#context-view table.ctx tr").count() > 1
    bob.screenshot(path=str(output_dir / "logs-context-link.png"), full_page=True)

    charlie = pages("charlie@globex.example")  # another org: the record does not exist for them
    charlie.goto(live_server.url + link.replace("/o/acme/", "/o/globex/"))
    charlie.wait_for_function("document.querySelector('#context-view').textContent.length > 0")
    assert record_body not in charlie.inner_text("#context-view")
    assert "not found" in charlie.inner_text("#context-view").lower()
    assert charlie.request.get(live_server.url + link).status == 404  # the acme page itself
