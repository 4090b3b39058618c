"""/healthz, /readyz (per component, 503 when a required one is down), /metrics."""

import pytest


def test_healthz_touches_nothing(client):
    # No django_db mark: any database access here would raise.
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_components(client, prometheus, settings):
    settings.PROMETHEUS_URL = prometheus.url
    r = client.get("/readyz")
    body = r.json()
    assert r.status_code == 200, body
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["prometheus"]["status"] == "up"
    prometheus.stop()
    r = client.get("/readyz")
    body = r.json()
    # An optional backend being down is reported, not fatal: the portal still serves its pages.
    assert r.status_code == 200 and body["components"]["prometheus"]["status"] == "down"
    assert body["components"]["prometheus"]["error"]


@pytest.mark.django_db
def test_readyz_503_when_redis_required_and_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["components"]["redis"]["status"] == "down"


@pytest.mark.django_db
def test_readyz_with_real_redis(client, settings):
    import os

    settings.REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    r = client.get("/readyz")
    assert r.json()["components"]["redis"]["status"] == "up"


@pytest.mark.django_db
def test_metrics_exposes_request_latency_per_view(client, settings):
    client.get("/healthz")
    client.get("/accounts/login/")
    text = client.get("/metrics").content.decode()
    assert "# TYPE portal_http_request_duration_seconds histogram" in text
    assert 'view="healthz"' in text and 'view="login"' in text
    assert "portal_celery_tasks_total" in text
    settings.METRICS_REQUIRE_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


@pytest.mark.django_db
def test_readyz_probes_stored_datasources(client, prometheus):
    from metrics_app.models import Datasource

    Datasource.objects.create(name="main", kind="prometheus", url=prometheus.url, is_default=True)
    Datasource.objects.create(name="gone", kind="prometheus", url="http://127.0.0.1:1")
    comps = client.get("/readyz").json()["components"]
    assert comps["datasource:main"]["status"] == "up"
    assert comps["datasource:gone"]["status"] == "down" and comps["datasource:gone"]["error"]
