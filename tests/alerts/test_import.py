"""Every shared Prometheus rule file imports into an org and re-exports as a file promtool accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rest_framework.test import APIClient

from alerts_app import checks
from alerts_app.models import RecordingRule, Rule
from portal.tenancy.models import Organization

pytestmark = pytest.mark.django_db

# shared/ sits beside the checkout (as in CI); an empty glob would silently parametrize nothing.
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "prometheus-rules"
assert len(list(FIXTURES.glob("*.y*ml"))) >= 5, f"rule fixtures not found under {FIXTURES}"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.y*ml")))
def test_fixture_imports_and_reexports(name: str, api_alice: APIClient, org_a: Organization,
                                       alert_files: Path) -> None:
    text = (FIXTURES / name).read_text()
    source = yaml.safe_load(text)
    n_alert = sum(1 for g in source["groups"] for r in g["rules"] if "alert" in r)
    n_record = sum(1 for g in source["groups"] for r in g["rules"] if "record" in r)
    r = api_alice.post("/api/v1/alerts/rules/import/", {"file": text}, format="json")
    assert r.status_code == 201, r.content
    assert r.json() == {"alerting": n_alert, "recording": n_record}
    assert Rule.objects.for_org(org_a).count() == n_alert
    assert RecordingRule.objects.for_org(org_a).count() == n_record
    export = api_alice.get("/api/v1/alerts/rules/export/").content.decode()
    checks.check_rules(export)  # raises with promtool's output if it rejects the file
    out = yaml.safe_load(export)
    rules = [rule for g in out["groups"] for rule in g["rules"]]
    assert len(rules) == n_alert + n_record
    for rule in rules:
        assert 'org_id="acme"' in rule["expr"], rule["expr"]
        assert rule["labels"]["org_id"] == "acme"


def test_import_naming_another_org_is_rejected_whole(api_alice: APIClient, org_a: Organization,
                                                     alert_files: Path) -> None:
    text = """groups:
- name: g
  rules:
  - alert: Fine
    expr: up == 0
  - alert: Sneaky
    expr: up{org_id="globex"} == 0
"""
    r = api_alice.post("/api/v1/alerts/rules/import/", {"file": text}, format="json")
    assert r.status_code == 400
    assert "groups[0].rules[1]" in r.json()["error"]["details"]["field"]
    assert Rule.objects.for_org(org_a).count() == 0


def test_import_rejects_garbage(api_alice: APIClient, alert_files: Path) -> None:
    assert api_alice.post("/api/v1/alerts/rules/import/", {"file": "groups: ["}, format="json").status_code == 400
    assert api_alice.post("/api/v1/alerts/rules/import/", {"file": "a: 1"}, format="json").status_code == 400
    bad_template = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      s: '{{ x'\n"
    assert api_alice.post("/api/v1/alerts/rules/import/", {"file": bad_template},
                          format="json").status_code == 400
