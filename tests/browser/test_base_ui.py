"""The base layout in a real browser: login, navigation, org switcher, settings pages, no external request."""

import pytest

from portal.tenancy import services
from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser]


@pytest.mark.django_db(transaction=True)
def test_login_switch_org_and_settings(live_server, page, output_dir):
    org_a = services.create_org("acme", "Acme Corp", "acme")
    org_c = services.create_org("initech", "Initech", "initech")
    services.add_member(org_a, "alice@acme.example", "admin", password=PASSWORD)
    services.add_member(org_c, "alice@acme.example", "viewer")
    external = []
    page.on("request", lambda req: external.append(req.url) if not req.url.startswith(live_server.url) else None)

    login(page, live_server.url, "alice@acme.example", PASSWORD)
    assert page.url.endswith("/o/acme/")
    for label in ("Dashboards", "Explore", "Alerts", "Logs", "Traces", "Exports", "Settings"):
        assert page.locator("nav.mainnav a", has_text=label).count() == 1
    page.screenshot(path=str(output_dir / "foundation-org-home.png"), full_page=True)

    page.select_option("#org-switch", "initech")
    page.wait_for_url("**/o/initech/")
    assert page.locator(".badge", has_text="viewer").count() == 1

    page.goto(live_server.url + "/o/acme/settings/members/")
    page.fill("#id_email", "dave@acme.example")
    page.select_option("#id_role", "editor")
    page.click("text=Add member")
    page.wait_for_load_state("networkidle")
    assert page.locator("td", has_text="dave@acme.example").count() == 1
    assert page.locator(".msg.success").count() == 1
    page.screenshot(path=str(output_dir / "foundation-members.png"), full_page=True)

    page.goto(live_server.url + "/o/acme/settings/tokens/")
    page.fill("#id_name", "grafana")
    page.click("text=Create token")
    page.wait_for_load_state("networkidle")
    secret = page.locator("#new-secret").inner_text().strip()
    assert secret.startswith("pt_")
    page.screenshot(path=str(output_dir / "foundation-tokens.png"), full_page=True)
    page.reload()
    assert page.locator("#new-secret").count() == 0

    page.goto(live_server.url + "/o/acme/settings/audit/")
    assert page.locator("td", has_text="apitoken").count() >= 1
    page.screenshot(path=str(output_dir / "foundation-audit.png"), full_page=True)
    assert external == [], f"requests left the portal: {external}"
