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


def test_metrics_under_gunicorn_sum_every_worker(tmp_path):
    """deploy/gunicorn.conf.py as deployed, three workers: every scrape, whichever worker answers it,
    counts all the requests (not the answering worker's share), and a restarted worker's samples stay."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from tests.procs import free_port

    root = Path(__file__).resolve().parents[2]
    port = free_port()
    env = dict(os.environ, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="3", GUNICORN_THREADS="1",
               PORTAL_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               DEBUG="0", ALLOWED_HOSTS="127.0.0.1", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi:application", "-c",
                               "deploy/gunicorn.conf.py"], cwd=root, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def healthz_count(text: str) -> float:
        found = re.search(r'portal_http_requests_total\{[^}]*view="healthz"[^}]*\} ([0-9.e+]+)', text)
        return float(found.group(1)) if found else 0.0

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/metrics")
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)
            # A fresh connection per request, so that the requests spread over the workers.
            for _ in range(30):
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            counts = {healthz_count(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text) for _ in range(6)}
            assert counts == {30.0}
            # A worker killed and replaced: what it counted is still in the sum.
            workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            os.kill(int(workers[0]), signal.SIGKILL)
            time.sleep(2)
            assert healthz_count(client.get("/metrics").text) == 30.0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
