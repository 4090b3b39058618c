"""The one backend error family, shown for every client in portal/backends: no connection →
BackendUnavailable, no answer in time → BackendTimeout (both transient), 5xx → BackendUnavailable
(transient), 4xx → BackendRejected (permanent, with the status and the backend's words).

Against the real Prometheus and Alertmanager wherever they can be made to answer so (a closed port, a bad
rule file, a bad silence, a too-old sample); httpx.MockTransport only for what they cannot be made to do
on demand (hang past a timeout, a proxy's 502 in front of them)."""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from portal.backends.alertmanager import AlertmanagerClient
from portal.backends.errors import BackendError, BackendRejected, BackendTimeout, BackendUnavailable
from portal.backends.prometheus import PrometheusClient
from portal.backends.remote_write import RemoteWriteClient
from tests import procs
from tests.metrics.remote_write import encode

Call = Callable[[str, httpx.BaseTransport | None], object]
SAMPLE = encode([({"__name__": "family_test", "job": "t"}, [(1, 1.0)])])  # 1 ms after the epoch: too old

CLIENTS: dict[str, Call] = {
    "prometheus-query": lambda url, t: PrometheusClient(url, name="prometheus", timeout=2.0, transport=t).query("1"),
    "prometheus-rules": lambda url, t: PrometheusClient(url, name="prometheus", timeout=2.0,
                                                        transport=t).rule_groups(),
    "prometheus-targets": lambda url, t: PrometheusClient(url, name="prometheus", timeout=2.0,
                                                          transport=t).targets(),
    "prometheus-reload": lambda url, t: PrometheusClient(url, name="prometheus", timeout=2.0, transport=t).reload(),
    "alertmanager": lambda url, t: AlertmanagerClient(url, transport=t).status(),
    "remote-write": lambda url, t: RemoteWriteClient(timeout=2.0, transport=t).write(
        url + "/api/v1/write", SAMPLE, backend="prometheus"),
}
NAMES = {"prometheus-query": "prometheus", "prometheus-rules": "prometheus", "prometheus-targets": "prometheus",
         "prometheus-reload": "prometheus", "alertmanager": "alertmanager", "remote-write": "prometheus"}


def raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def fails(call: Call, url: str, transport: httpx.BaseTransport | None = None) -> BackendError:
    with pytest.raises(BackendError) as e:
        call(url, transport)
    return e.value


@pytest.mark.parametrize("name", CLIENTS)
def test_refused_connection_is_unavailable_and_transient(name: str) -> None:
    url = f"http://127.0.0.1:{procs.free_port()}"  # nothing listens there
    e = fails(CLIENTS[name], url)
    assert type(e) is BackendUnavailable and e.transient and e.status is None
    assert e.backend == NAMES[name] and str(e).startswith(f"{NAMES[name]} unavailable: ")


@pytest.mark.parametrize("name", CLIENTS)
def test_read_timeout_is_timeout_and_connect_timeout_is_unavailable(name: str) -> None:
    e = fails(CLIENTS[name], "http://backend.invalid", raising(httpx.ReadTimeout("slow")))
    assert type(e) is BackendTimeout and e.transient and e.status is None
    e = fails(CLIENTS[name], "http://backend.invalid", raising(httpx.ConnectTimeout("away")))
    assert type(e) is BackendUnavailable and e.transient


@pytest.mark.parametrize("name", CLIENTS)
def test_5xx_from_a_proxy_is_unavailable_and_transient(name: str) -> None:
    proxy = httpx.MockTransport(lambda _: httpx.Response(502, text="<html>Bad Gateway</html>"))
    e = fails(CLIENTS[name], "http://backend.invalid", proxy)
    assert type(e) is BackendUnavailable and e.transient and e.status == 502


def test_prometheus_real_5xx_and_4xx(prometheus: procs.Proc) -> None:
    client = PrometheusClient(prometheus.url, name="prometheus", timeout=5.0)
    bad = fails(lambda url, t: PrometheusClient(url, timeout=5.0).query("sum(("), prometheus.url)
    assert type(bad) is BackendRejected and not bad.transient and bad.status == 400
    assert "parse error" in bad.message
    Path(prometheus.files["rules_dir"], "broken.yml").write_text("groups: [{name: x, rules: [{alert: }]}]\n")
    refused = fails(lambda url, t: client.reload(), prometheus.url)
    assert type(refused) is BackendUnavailable and refused.transient and refused.status == 500


def test_alertmanager_real_5xx_and_4xx(alertmanager: procs.Proc) -> None:
    am = AlertmanagerClient(alertmanager.url)
    bad = fails(lambda url, t: am.create_silence("org_id", "acme", {
        "matchers": [], "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z",
        "createdBy": "t", "comment": "ends before it starts"}), alertmanager.url)
    assert type(bad) is BackendRejected and not bad.transient and bad.status == 400 and bad.message
    Path(alertmanager.files["config"]).write_text("route: [not, a, route]\n")
    refused = fails(lambda url, t: am.reload(), alertmanager.url)
    assert type(refused) is BackendUnavailable and refused.transient and refused.status == 500


def test_remote_write_real_4xx(prometheus: procs.Proc) -> None:
    # Once the head holds a sample of now, one from 1970 is out of its bounds: Prometheus answers 400.
    now = encode([({"__name__": "family_test", "job": "t"}, [(int(time.time() * 1000), 1.0)])])
    RemoteWriteClient().write(prometheus.url + "/api/v1/write", now, backend="prometheus")
    e = fails(CLIENTS["remote-write"], prometheus.url)
    assert type(e) is BackendRejected and not e.transient and e.status == 400
    assert "out of bounds" in e.message


def test_the_family_survives_a_celery_round_trip() -> None:
    """Celery stores a task's exception: it must come back as the same class with its fields."""
    for exc in (BackendUnavailable("prometheus", "down", status=503), BackendTimeout("alertmanager", "slow"),
                BackendRejected("prometheus", "bad", status=400)):
        back = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, as Celery's result backend does
        assert type(back) is type(exc) and str(back) == str(exc) and back.status == exc.status
        assert back.transient is exc.transient


def test_backends_are_called_only_from_portal_backends() -> None:
    """Every backend call goes through a client in portal/backends (its timeouts, its error family): no
    app module opens its own httpx client or calls httpx.get/post."""
    root = Path(__file__).resolve().parents[2]
    direct = re.compile(r"\bhttpx\.(Client|AsyncClient|get|post|put|patch|delete|head|request|stream)\(")
    offenders = []
    for app in sorted(p for p in root.iterdir() if p.is_dir() and (p.name == "portal" or p.name.endswith("_app"))):
        for path in app.rglob("*.py"):
            rel = path.relative_to(root)
            if rel.parts[:2] == ("portal", "backends"):
                continue
            offenders += [f"{rel}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                          if direct.search(line)]
    assert offenders == []


def test_task_retry_policy_follows_transient() -> None:
    """A task that lists the family retries what may pass (down, slow) and never a refusal."""
    from alerts_app.tasks import SYNC_RETRY

    assert SYNC_RETRY.retries(BackendUnavailable("prometheus", "down"))
    assert SYNC_RETRY.retries(BackendTimeout("alertmanager", "slow"))
    assert not SYNC_RETRY.retries(BackendRejected("prometheus", "lifecycle API is not enabled", status=403))
