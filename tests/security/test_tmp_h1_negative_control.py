from typing import Any
import json
import pytest
from tests.security.test_alert_templates import *  # noqa
from tests.security.test_alert_templates import stack, RULE, LEAK, SECRET_VALUE, prom_has_series  # noqa
from tests.alerts.receivers import wait_for


@pytest.mark.django_db(transaction=True)
def test_control(stack, api_alice, org_a, org_b, monkeypatch) -> None:
    from alerts_app import templating
    monkeypatch.setattr(templating, "refused_templates", lambda *a: None)
    prom = stack["prom"]
    wait_for(lambda: prom_has_series(prom, f"globex_revenue_total == {SECRET_VALUE}"), what="B")
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "annotations": {"summary": LEAK}}, format="json")
    assert r.status_code == 201, r.content
    def firing():
        return [a for a in api_alice.get("/api/v1/alerts/active/").json()["alerts"]]
    alerts = wait_for(firing, what="alert")
    print(json.dumps(alerts))
    assert SECRET_VALUE in json.dumps(alerts)
