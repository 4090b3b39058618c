"""From an alert to its cause: an active or historical alert links to its rule, its expression in Explore at
the firing time, and its service's logs, traces and page around that time; every link stays in the org
(another org's member gets 404) and carries its state in the URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from alerts_app import links
from tests.factories import AlertEventFactory, RuleFactory

pytestmark = pytest.mark.django_db
FIRED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_links_of_a_resolved_alert_cover_its_window(org_a: Any) -> None:
    rule = RuleFactory(org=org_a, query="sum(rate(http_requests_total[5m]))", threshold=5)
    got = links.for_alert(org_a, {"portal_rule": str(rule.pk), "service_name": "api router"}, FIRED.isoformat(),
                          links.rules_of(org_a, [{"labels": {"portal_rule": str(rule.pk)}}]),
                          ends_at=FIRED + timedelta(minutes=10))
    assert got["rule"] == f"/o/acme/alerts/rules/{rule.pk}/"
    explore = _query(got["explore"])
    assert explore["query"] == "(sum(rate(http_requests_total[5m]))) > 5"  # as the user wrote it, unenforced
    assert (int(explore["from"]), int(explore["to"])) == (int((FIRED - timedelta(minutes=15)).timestamp()),
                                                          int((FIRED + timedelta(minutes=25)).timestamp()))
    logs = _query(got["logs"])
    assert logs["q"] == 'service="api router"' and logs["start"].startswith("2026-11-30T01:45")
    assert _query(got["traces"])["service"] == "api router" and _query(got["traces"])["errors"] == "1"
    assert got["service"] == "/o/acme/services/api%20router/"


def test_another_orgs_rule_is_never_linked(org_a: Any, org_b: Any) -> None:
    theirs = RuleFactory(org=org_b)
    named = links.rules_of(org_a, [{"labels": {"portal_rule": str(theirs.pk)}}])
    assert named == {}
    assert "rule" not in links.for_alert(org_a, {"portal_rule": str(theirs.pk)}, FIRED, named)


def test_the_alert_page_links_history_to_rule_explore_logs_and_traces(web_alice: Client, web_charlie: Client,
                                                                      org_a: Any, settings: Any) -> None:
    settings.ALERTMANAGER_URL = ""  # no Alertmanager here: the page lists the received notifications
    rule = RuleFactory(org=org_a, name="ErrorsHigh")
    AlertEventFactory(org=org_a, alertname="ErrorsHigh", starts_at=FIRED,
                      labels={"alertname": "ErrorsHigh", "portal_rule": str(rule.pk), "service": "api-router"})
    page = web_alice.get("/o/acme/alerts/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("rule", "explore", "logs", "traces", "service"):
        assert f'data-link="{name}"' in html, name
    hrefs = [h.split('"')[0].replace("&amp;", "&") for h in html.split('href="')[1:]]
    targets = [h for h in hrefs if h.startswith(("/o/acme/explore/?", "/o/acme/logs/?", "/o/acme/traces/?"))]
    assert len(targets) == 3
    for href in targets:
        assert web_alice.get(href).status_code == 200, href  # each opens for a member …
        assert web_charlie.get(href).status_code == 404, href  # … and is a 404 for anyone else
