"""The same federation code path against a real VictoriaMetrics (Debian `victoria-metrics`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from metrics_app import federation
from metrics_app.models import Datasource, DatasourceKind
from portal.tenancy import services
from portal.tenancy.models import Organization
from tests import procs
from tests.metrics import remote_write
from tests.metrics.conftest import ORG_SERIES, three_org_series

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

BASE = "/prometheus/api/v1"


@pytest.fixture(scope="module")
def vm3() -> Iterator[procs.Proc]:
    p = procs.start_victoriametrics()
    now_ms = int(time.time() * 1000)
    ds = Datasource(name="vm", kind=DatasourceKind.VICTORIAMETRICS, url=p.url)
    remote_write.push(ds.remote_write_url, three_org_series(now_ms))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # VictoriaMetrics makes fresh samples searchable within ~1s
        r = httpx.get(p.url + "/api/v1/series", params={"match[]": '{__name__=~".+"}'}).json()
        if len(r.get("data", [])) >= 5 * ORG_SERIES:
            break
        time.sleep(0.3)
    yield p
    p.cleanup()


@pytest.fixture
def vm_ds(vm3: procs.Proc, db: Any) -> Datasource:
    return Datasource.objects.create(name="vm", kind=DatasourceKind.VICTORIAMETRICS, url=vm3.url, is_default=True)


@pytest.fixture
def acme(org_a: Organization, alice: Any) -> Client:
    _, secret = services.create_api_token(org_a, alice, "vm", "read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_query_and_range_see_only_the_org(acme: Any, vm_ds: Datasource) -> None:
    now = time.time()
    resp = acme.get(f"{BASE}/query", {"query": '{__name__=~".+"}', "time": now})
    assert resp.status_code == 200, resp.content
    result = json.loads(resp.content)["data"]["result"]
    assert len(result) == ORG_SERIES and {r["metric"]["org_id"] for r in result} == {"acme"}
    resp = acme.post(f"{BASE}/query_range", {"query": "sum(org_secret_info) or up", "start": now - 300,
                                             "end": now, "step": 30})
    assert resp.status_code == 200
    values = [float(v) for r in json.loads(resp.content)["data"]["result"] for _, v in r["values"]]
    assert values and max(values) < 1000


def test_foreign_matcher_rejected_before_vm(acme: Any, vm_ds: Datasource) -> None:
    resp = acme.get(f"{BASE}/query", {"query": 'up{org_id=~"glob.*"}'})
    assert resp.status_code == 400


def test_series_labels_values(acme: Any, vm_ds: Datasource, org_a: Organization, org_b: Organization) -> None:
    series = json.loads(acme.get(f"{BASE}/series", {"match[]": "org_secret_info"}).content)["data"]
    assert [s["secret"] for s in series] == ["acme-secret"]
    assert federation.label_values(org_a, "org_id") == ["acme"]
    assert "only_globex_metric" not in federation.label_values(org_a, "__name__")
    assert "only_globex_metric" in federation.label_values(org_b, "__name__")  # it is there, for its org
    assert "secret" in federation.labels(org_a)


def test_adversarial_subset(org_a: Organization, vm_ds: Datasource) -> None:
    for q in ['count({__name__=~".+"})', "sum(up) or sum(org_secret_info)", 'label_replace(up, "org_id", "x", "", "")',
              "max_over_time(sum(org_secret_info)[5m:30s])", "absent(org_secret_info)"]:
        data = federation.query(org_a, q)
        for r in data["result"]:
            assert float(r["value"][1]) < 1000, (q, r)


def test_test_connection_and_remote_write_url(vm_ds: Datasource) -> None:
    assert vm_ds.remote_write_url.endswith("/api/v1/write")
    assert federation.test_connection(vm_ds)["ok"] is True
