"""The /prometheus/api/v1/ read API against a real Prometheus holding three orgs' data."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from portal.tenancy import services
from portal.tenancy.models import AuditEntry, Organization
from tests.conftest import token_client
from tests.metrics.conftest import ORG_SERIES

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

BASE = "/prometheus/api/v1"


def bearer(org: Organization, user: Any, scope: str = "read") -> Client:
    _, secret = services.create_api_token(org, user, f"prom-{scope}", scope)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def acme(org_a: Organization, alice: Any) -> Client:
    return bearer(org_a, alice)


@pytest.fixture
def globex(org_b: Organization, charlie: Any) -> Client:
    return bearer(org_b, charlie)


def body(resp: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resp.content)
    return data


def org_ids(result: list[dict[str, Any]]) -> set[str]:
    return {r["metric"].get("org_id", "") for r in result}


# ---------------------------------------------------------------- auth and format


@pytest.mark.parametrize("path", ["query?query=up", "query_range?query=up&start=0&end=60&step=15", "series?match[]=up",
                                  "labels", "label/__name__/values", "metadata"])
def test_missing_or_bad_token_is_401_in_prometheus_format(db: Any, path: str) -> None:
    for client in (Client(), Client(HTTP_AUTHORIZATION="Bearer pt_nope_nope")):
        resp = client.get(f"{BASE}/{path}")
        assert resp.status_code == 401
        assert body(resp)["status"] == "error"
        assert body(resp)["errorType"] == "unauthorized"
        assert resp["WWW-Authenticate"].startswith("Bearer")


def test_ingest_token_is_not_a_read_token(ingest_a: str) -> None:
    resp = Client(HTTP_AUTHORIZATION=f"Bearer {ingest_a}").get(f"{BASE}/query", {"query": "up"})
    assert resp.status_code == 401


@pytest.mark.parametrize("path", ["query?query=up", "query_range?query=up&start=0&end=60&step=15", "series?match[]=up",
                                  "labels", "label/__name__/values", "metadata"])
def test_no_backend_configured_answers_503_in_prometheus_format(acme: Client, settings: Any, path: str) -> None:
    settings.PROMETHEUS_URL = ""
    resp = acme.get(f"{BASE}/{path}")
    assert resp.status_code == 503
    assert body(resp) == {"status": "error", "errorType": "unavailable", "error": body(resp)["error"],
                          "code": "backend_not_configured", "details": {"backend": "prometheus"}}
    assert "datasource" in body(resp)["error"]


def test_instant_query_get_and_post(acme: Client, prom_env: Any) -> None:
    for resp in (acme.get(f"{BASE}/query", {"query": "up"}), acme.post(f"{BASE}/query", {"query": "up"})):
        assert resp.status_code == 200, resp.content
        data = body(resp)
        assert data["status"] == "success"
        assert data["data"]["resultType"] == "vector"
        assert org_ids(data["data"]["result"]) == {"acme"}
        assert resp["X-Cache"] in ("hit", "miss")


def test_query_range(acme: Client, prom_env: Any) -> None:
    now = time.time()
    resp = acme.post(f"{BASE}/query_range", {"query": "sum by (org_id) (http_requests_total)",
                                             "start": now - 300, "end": now, "step": "15s"})
    assert resp.status_code == 200, resp.content
    data = body(resp)["data"]
    assert data["resultType"] == "matrix"
    assert org_ids(data["result"]) == {"acme"}
    assert all(float(v) < 1000 for r in data["result"] for _, v in r["values"])


def test_post_form_naming_another_org_is_400(acme: Client, prom_env: Any) -> None:
    resp = acme.post(f"{BASE}/query", {"query": 'up{org_id="globex"}'})
    assert resp.status_code == 400
    data = body(resp)
    assert data["status"] == "error" and data["errorType"] == "bad_data"
    assert 'org_id="globex"' in data["error"]
    assert data["details"]["position"] == 3


def test_bad_promql_is_400_with_position(acme: Client, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/query", {"query": "sum(rate(up[5m])"})
    assert resp.status_code == 400
    assert body(resp)["errorType"] == "bad_data"
    assert body(resp)["details"]["position"] == len("sum(rate(up[5m])")


def test_query_in_both_query_string_and_form_must_agree(acme: Client, prom_env: Any) -> None:
    # The classic proxy leak: enforce the URL's query while the backend reads the form's. Here both are
    # read; differing values are refused, not resolved.
    resp = acme.post(f"{BASE}/query?query=up", {"query": 'org_secret_info{org_id="globex"}'})
    assert resp.status_code == 400
    resp = acme.post(f"{BASE}/query?query=org_secret_info", {"query": "up"})
    assert resp.status_code == 400
    assert "more than once" in body(resp)["error"]
    resp = acme.get(f"{BASE}/query?query=up&query=org_secret_info")
    assert resp.status_code == 400
    resp = acme.post(f"{BASE}/query?query=up", {"query": "up"})
    assert resp.status_code == 200


def test_repeated_match_from_both_places_are_all_enforced(acme: Client, prom_env: Any) -> None:
    resp = acme.post(f"{BASE}/series?match[]=up", {"match[]": ['org_secret_info{org_id="globex"}']})
    assert resp.status_code == 400
    resp = acme.post(f"{BASE}/series?match[]=up", {"match[]": ["org_secret_info", "only_globex_metric"]})
    assert resp.status_code == 200
    data = body(resp)["data"]
    assert {s["__name__"] for s in data} == {"up", "org_secret_info"}
    assert {s["org_id"] for s in data} == {"acme"}


def test_series_labels_values_only_the_orgs(acme: Client, globex: Client, prom_env: Any) -> None:
    series = body(acme.get(f"{BASE}/series", {"match[]": '{__name__=~".+"}'}))["data"]
    assert len(series) == ORG_SERIES
    assert {s["org_id"] for s in series} == {"acme"}
    names = body(acme.get(f"{BASE}/label/__name__/values"))["data"]
    assert "only_acme_metric" in names
    assert "only_globex_metric" not in names and "node_cpu_seconds_total" not in names
    assert body(acme.get(f"{BASE}/label/org_id/values"))["data"] == ["acme"]
    assert body(globex.get(f"{BASE}/label/org_id/values"))["data"] == ["globex"]
    assert body(acme.get(f"{BASE}/label/secret/values"))["data"] == ["acme-secret"]
    labels = body(acme.post(f"{BASE}/labels"))["data"]
    assert "secret" in labels and "org_id" in labels
    resp = acme.get(f"{BASE}/labels", {"match[]": 'up{org_id!="acme"}'})
    assert resp.status_code == 400


def test_label_values_bad_name_is_400(acme: Client, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/label/1bad/values")
    assert resp.status_code == 400


def test_metadata_is_filtered_to_the_orgs_metrics(acme: Client, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/metadata")
    assert resp.status_code == 200
    # Prometheus's own metrics (scraped, with metadata) carry no org label: none is visible to acme.
    assert not any(name.startswith("prometheus_") for name in body(resp)["data"])


def test_write_token_and_viewer_both_read(org_a: Organization, bob: Any, prom_env: Any) -> None:
    client = token_client(org_a, bob, "read")
    resp = client.get(f"{BASE}/query", {"query": "up"})
    assert resp.status_code == 200


def test_session_with_org_header(web_alice: Client, web_charlie: Client, prom_env: Any, org_b: Organization) -> None:
    resp = web_alice.get(f"{BASE}/query", {"query": "up"}, HTTP_X_PORTAL_ORG="acme")
    assert resp.status_code == 200
    assert org_ids(body(resp)["data"]["result"]) == {"acme"}
    # Alice is not a member of globex: asking for it is not a way in.
    resp = web_alice.get(f"{BASE}/query", {"query": "up"}, HTTP_X_PORTAL_ORG="globex")
    assert resp.status_code == 401


def test_staff_cross_org_mode_is_explicit_and_audited(org_a: Organization, operator: Any, prom_env: Any) -> None:
    staff = bearer(org_a, operator)
    resp = staff.get(f"{BASE}/query", {"query": "count(org_secret_info)"})
    assert body(resp)["data"]["result"][0]["value"][1] == "1"  # without the header: scoped like anyone
    resp = staff.get(f"{BASE}/query", {"query": "count(org_secret_info)"}, HTTP_X_PORTAL_CROSS_ORG="incident 42")
    assert resp.status_code == 200
    assert body(resp)["data"]["result"][0]["value"][1] == "5"
    entry = AuditEntry.objects.all_orgs().filter(action="cross_org_query").get()
    assert entry.org is None and entry.actor == operator
    assert entry.changes["query"] == "count(org_secret_info)" and entry.changes["reason"] == "incident 42"


def test_cross_org_header_from_non_staff_is_403(acme: Client, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/query", {"query": "up"}, HTTP_X_PORTAL_CROSS_ORG="please")
    assert resp.status_code == 403
    assert body(resp)["status"] == "error"
    assert not AuditEntry.objects.all_orgs().filter(action="cross_org_query").exists()


def test_unsupported_method(org_a: Organization, alice: Any, acme: Client, prom_env: Any) -> None:
    # A write token reaches the view, which has no DELETE; a read token is refused before any view runs.
    assert bearer(org_a, alice, "write").delete(f"{BASE}/query").status_code == 405
    assert acme.delete(f"{BASE}/query").status_code == 403


def test_foreign_matcher_is_400_even_without_a_backend(acme: Client, settings: Any) -> None:
    settings.PROMETHEUS_URL = ""
    resp = acme.post(f"{BASE}/query", {"query": 'up{org_id="globex"}'})
    assert resp.status_code == 400
    assert acme.get(f"{BASE}/series", {"match[]": 'up{org_id!="acme"}'}).status_code == 400
    assert acme.get(f"{BASE}/query", {"query": "sum(up"}).status_code == 400


@pytest.mark.parametrize(("path", "params"), [
    ("query", {"query": 'only_globex_metric{org_id="globex"}'}),
    ("query_range", {"query": 'only_globex_metric{org_id="globex"}', "start": 0, "end": 60, "step": 15}),
    ("series", {"match[]": '{org_id="globex"}'}),
    ("labels", {"match[]": '{org_id=~"glob.*"}'}),
    ("label/secret/values", {"match[]": 'org_secret_info{org_id!="acme"}'}),
])
def test_every_endpoint_refuses_another_orgs_matcher(acme: Client, prom_env: Any, path: str,
                                                     params: dict[str, Any]) -> None:
    for resp in (acme.get(f"{BASE}/{path}", params), acme.post(f"{BASE}/{path}", params)):
        assert resp.status_code == 400, (path, resp.content)
        assert "data" not in body(resp) and body(resp)["errorType"] == "bad_data"


def test_metadata_of_another_orgs_metric_is_empty(acme: Client, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/metadata", {"metric": "only_globex_metric"})
    assert resp.status_code == 200 and body(resp)["data"] == {}


def test_oversized_form_is_400_not_500(acme: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    resp = acme.post(f"{BASE}/query", {"query": "up", "pad": "x" * 5000})
    assert resp.status_code == 400 and body(resp)["status"] == "error"
