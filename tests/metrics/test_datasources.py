"""Datasources: the model (secrets encrypted at rest, headers, URLs, env default) and the staff-only
REST API (CRUD, secrets never returned, "test connection", audited)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from metrics_app import federation
from metrics_app.models import Datasource, DatasourceKind
from portal import crypto
from portal.credentials import AuthType
from portal.errors import ServiceError
from portal.tenancy.models import AuditEntry, Organization
from tests import procs
from tests.conftest import token_client

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

URL = "/api/v1/datasources/"


@pytest.fixture
def staff_api(operator: Any) -> APIClient:
    client = APIClient()
    client.force_login(operator)
    return client


# ---------------------------------------------------------------- crypto and model


def test_crypto_round_trip_and_wrong_key(settings: Any) -> None:
    token = crypto.encrypt("s3cret")
    assert token != "s3cret" and "s3cret" not in token
    assert crypto.decrypt(token) == "s3cret"
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""
    settings.FIELD_ENCRYPTION_KEY = "another passphrase"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_secrets_are_encrypted_at_rest() -> None:
    ds = Datasource(name="p", url="http://x:9090", auth_type=AuthType.BEARER)
    ds.bearer_token = "tok-123"
    ds.save()
    raw = Datasource.objects.values("bearer_token_encrypted").get(pk=ds.pk)["bearer_token_encrypted"]
    assert "tok-123" not in raw
    assert Datasource.objects.get(pk=ds.pk).bearer_token == "tok-123"


def test_headers_and_urls(org_a: Organization) -> None:
    prom = Datasource(name="p", kind=DatasourceKind.PROMETHEUS, url="http://p:9090/", auth_type=AuthType.BASIC,
                      username="u")
    prom.password = "pw"
    assert prom.remote_write_url == "http://p:9090/api/v1/write"
    assert prom.headers_for(org_a) == {"Authorization": "Basic dTpwdw=="}
    vm = Datasource(name="v", kind=DatasourceKind.VICTORIAMETRICS, url="http://vm:8428")
    assert vm.remote_write_url == "http://vm:8428/api/v1/write" and vm.headers_for(org_a) == {}
    mimir = Datasource(name="m", kind=DatasourceKind.MIMIR, url="http://mimir:8080", auth_type=AuthType.BEARER)
    mimir.bearer_token = "t"
    assert mimir.remote_write_url == "http://mimir:8080/api/v1/push"
    assert mimir.query_url == "http://mimir:8080/prometheus"
    assert mimir.headers_for(org_a) == {"Authorization": "Bearer t", "X-Scope-OrgID": "acme"}
    assert mimir.is_multi_tenant and not prom.is_multi_tenant


def test_multi_tenant_backend_gets_no_label_but_still_parses(org_a: Organization) -> None:
    mimir = Datasource(name="m", kind=DatasourceKind.MIMIR, url="http://127.0.0.1:1")
    with pytest.raises(ServiceError) as e:
        federation.query(org_a, "sum(up", datasource=mimir)
    assert e.value.status_code == 400


def test_for_org_default_env_and_none(org_a: Organization, settings: Any) -> None:
    settings.PROMETHEUS_URL = ""
    assert Datasource.configured_for(org_a) is None
    with pytest.raises(ServiceError) as e:
        Datasource.for_org(org_a)
    assert e.value.status_code == 503
    settings.PROMETHEUS_URL = "http://127.0.0.1:9090"
    env_ds = Datasource.for_org(org_a)
    assert env_ds.pk is None and env_ds.url == "http://127.0.0.1:9090" and env_ds.org_label == "org_id"
    Datasource.objects.create(name="b", url="http://b:9090")
    default = Datasource.objects.create(name="c", url="http://c:9090", is_default=True)
    assert Datasource.for_org(org_a) == default


# ---------------------------------------------------------------- REST API


def test_staff_only(api_alice: APIClient, org_a: Organization, alice: Any) -> None:
    assert api_alice.get(URL).status_code == 403
    assert api_alice.post(URL, {"name": "x", "url": "http://x:9090"}, format="json").status_code == 403
    ds = Datasource.objects.create(name="x", url="http://x:9090")
    assert api_alice.get(f"{URL}{ds.pk}/").status_code == 403
    assert api_alice.post(f"{URL}{ds.pk}/test/").status_code == 403
    assert APIClient().get(URL).status_code == 401


def test_crud_never_returns_secrets_and_is_audited(staff_api: APIClient) -> None:
    resp = staff_api.post(URL, {"name": "prom", "kind": "prometheus", "url": "http://prom:9090/",
                                "auth_type": "basic", "username": "reader", "password": "hunter2",
                                "timeout_seconds": 12, "org_label": "tenant"}, format="json")
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert "password" not in data and "bearer_token" not in data and "hunter2" not in resp.content.decode()
    assert data["has_secret"] is True and data["url"] == "http://prom:9090" and data["is_default"] is True
    assert data["remote_write_url"] == "http://prom:9090/api/v1/write"
    ds = Datasource.objects.get(pk=data["id"])
    assert ds.password == "hunter2" and "hunter2" not in ds.password_encrypted

    listed = staff_api.get(URL).content.decode()
    assert "hunter2" not in listed and ds.password_encrypted not in listed

    resp = staff_api.patch(f"{URL}{ds.pk}/", {"password": "new-pw", "timeout_seconds": 5}, format="json")
    assert resp.status_code == 200 and "new-pw" not in resp.content.decode()
    assert Datasource.objects.get(pk=ds.pk).password == "new-pw"

    assert staff_api.delete(f"{URL}{ds.pk}/").status_code == 204
    entries = list(AuditEntry.objects.all_orgs().filter(object_type="datasource").order_by("created_at", "id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    for e in entries:
        text = str(e.changes)
        assert "hunter2" not in text and "new-pw" not in text and "encrypted" not in text
        assert e.org is None
    assert entries[1].changes["password_changed"] is True
    assert entries[1].changes["timeout_seconds"] == {"from": 12.0, "to": 5.0}


@pytest.mark.parametrize("payload", [
    {"name": "x", "url": "ftp://x"},
    {"name": "x", "url": "http://x:9090", "auth_type": "basic", "username": "u"},
    {"name": "x", "url": "http://x:9090", "auth_type": "bearer"},
    {"name": "x", "url": "http://x:9090", "kind": "graphite"},
    {"name": "x", "url": "http://x:9090", "org_label": "not a label"},
    {"name": "x", "url": "http://x:9090", "timeout_seconds": 0},
])
def test_invalid_input_is_400_and_writes_nothing(staff_api: APIClient, payload: dict[str, Any]) -> None:
    resp = staff_api.post(URL, payload, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["status"] == 400
    assert not Datasource.objects.exists()


def test_only_one_default(staff_api: APIClient) -> None:
    a = staff_api.post(URL, {"name": "a", "url": "http://a:9090"}, format="json").json()
    b = staff_api.post(URL, {"name": "b", "url": "http://b:9090", "is_default": True}, format="json").json()
    assert b.get("is_default") is True, b
    assert Datasource.objects.get(pk=a["id"]).is_default is False
    staff_api.patch(f"{URL}{a['id']}/", {"is_default": True}, format="json")
    assert list(Datasource.objects.filter(is_default=True).values_list("name", flat=True)) == ["a"]


def test_test_connection_action(staff_api: APIClient, prometheus: procs.Proc) -> None:
    good = Datasource.objects.create(name="good", url=prometheus.url)
    bad = Datasource.objects.create(name="bad", url=f"http://127.0.0.1:{procs.free_port()}")
    resp = staff_api.post(f"{URL}{good.pk}/test/")
    assert resp.status_code == 200 and resp.json()["ok"] is True
    resp = staff_api.post(f"{URL}{bad.pk}/test/")
    assert resp.status_code == 200 and resp.json()["ok"] is False and "bad" in resp.json()["message"]
    assert AuditEntry.objects.all_orgs().filter(action="test", object_type="datasource").count() == 2


@pytest.fixture
def vm_with_basic_auth() -> Iterator[procs.Proc]:
    workdir = Path(tempfile.mkdtemp(prefix="vm-auth-"))
    port = procs.free_port()
    args = [procs.VICTORIA, f"-storageDataPath={workdir / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
            "-httpAuth.username=reader", "-httpAuth.password=s3cret", "-loggerLevel=WARN"]
    p = procs.Proc("victoria-metrics", f"http://127.0.0.1:{port}", port, workdir, args)
    p.start(ready_path="/health")
    yield p
    p.cleanup()


def test_basic_auth_against_a_real_backend(staff_api: APIClient, vm_with_basic_auth: procs.Proc,
                                           org_a: Organization) -> None:
    resp = staff_api.post(URL, {"name": "vm-auth", "kind": "victoriametrics", "url": vm_with_basic_auth.url,
                                "auth_type": "basic", "username": "reader", "password": "wrong"}, format="json")
    ds_id = resp.json()["id"]
    assert staff_api.post(f"{URL}{ds_id}/test/").json()["ok"] is False
    staff_api.patch(f"{URL}{ds_id}/", {"password": "s3cret"}, format="json")
    assert staff_api.post(f"{URL}{ds_id}/test/").json()["ok"] is True
    assert federation.query(org_a, "up")["resultType"] == "vector"


def test_staff_token_also_works(org_a: Organization, operator: Any) -> None:
    client = token_client(org_a, operator, "write")
    assert client.get(URL).status_code == 200
