"""Base UI plumbing: static files through whitenoise, Plotly vendored, no CDN anywhere, empty states."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_plotly_is_vendored_and_served(client, db):
    assert (ROOT / "static/vendor/plotly.min.js").stat().st_size > 1_000_000
    r = client.get("/static/vendor/plotly.min.js")
    assert r.status_code == 200
    assert b"plotly.js" in b"".join(r.streaming_content)[:500]
    assert client.get("/static/css/portal.css").status_code == 200


def test_no_cdn_in_templates_or_static():
    offenders = []
    static = [p for p in (ROOT / "static").rglob("*")
              if p.suffix in (".js", ".css", ".html") and "vendor" not in p.parts]
    for path in list((ROOT / "templates").rglob("*.html")) + static:
        text = path.read_text(errors="replace")
        for m in re.finditer(r"""(?:src|href)\s*=\s*["'](https?:)?//""", text):
            offenders.append(f"{path.relative_to(ROOT)}: {text[m.start():m.start() + 80]}")
    assert not offenders, offenders


@pytest.mark.django_db
def test_layout_and_empty_states(web_alice, org_a):
    page = web_alice.get("/o/acme/settings/tokens/").content.decode()
    for label in ("Dashboards", "Explore", "Alerts", "Logs", "Traces", "Exports", "Settings"):
        assert f">{label}</a>" in page
    assert "No API tokens yet" in page
    assert "Acme Corp" in page  # org switcher


@pytest.mark.django_db
def test_user_without_org_sees_empty_state(client):
    from portal.tenancy import services

    client.force_login(services.get_or_create_user("lonely@x.example", "x"))
    assert "No organization yet" in client.get("/").content.decode()


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_404(web_alice):
    r = web_alice.get("/o/acme/nothing-here/")
    assert r.status_code == 404 and b"Not found" in r.content
