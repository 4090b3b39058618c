"""The alert sync task on a real Celery worker and broker (a private Redis) while Prometheus is down, then
back: the task retries with the policy's growing backoff and then loads the rules, with no test double."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery

from alerts_app.tasks import SYNC_RETRY
from tests import procs

pytestmark = pytest.mark.backends

ROOT = Path(__file__).resolve().parents[2]

# Run in the worker's own database: an org with one rule and a pending sync request.
SETUP = """
from alerts_app.models import OrgSync, Rule
from portal.tenancy import services
org = services.create_org("acme", "Acme Corp", "acme")
rule = Rule.objects.create(org=org, name="ServiceDown", kind="threshold", query="up", comparator="==",
                           threshold=0, for_duration="1m", severity="critical", annotations={"summary": "down"})
OrgSync.objects.all_orgs().update_or_create(org=org, defaults={"requested": 1})
print(org.pk, rule.pk)
"""

RETRY_LINE = re.compile(r"task alerts_app\.tasks\.sync_org_task failed \(try (\d+) of \d+\), retrying in (\d+) s")


@pytest.fixture
def broker() -> Iterator[procs.Proc]:
    p = procs.start_redis()
    yield p
    p.cleanup()


def _wait_for(predicate: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_sync_retries_with_backoff_while_prometheus_is_down_then_loads_rules(tmp_path: Path,
                                                                             broker: procs.Proc) -> None:
    prom_port = procs.free_port()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "REDIS_URL": broker.url,
           "CELERY_BROKER_URL": broker.url, "PORTAL_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/worker.sqlite3",
           "PROMETHEUS_URL": f"http://127.0.0.1:{prom_port}", "PROMETHEUS_RULES_DIR": str(rules_dir),
           "ALERTMANAGER_URL": "", "ALERTMANAGER_CONFIG_FILE": str(tmp_path / "am" / "alertmanager.yml")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    setup = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True)
    org_id, rule_id = (int(x) for x in setup.stdout.split()[-2:])  # after the shell's own banner

    worker_log = tmp_path / "worker.log"
    with open(worker_log, "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo",
                                   "--loglevel", "WARNING"], cwd=ROOT, env=env, stdout=log, stderr=log,
                                  start_new_session=True)
    # Not the current app: a later shared_task in this process must still resolve to the portal's (eager) app.
    client = Celery("probe", broker=broker.url, backend=broker.url, set_as_current=False)
    prom: procs.Proc | None = None
    try:
        result = client.send_task("alerts_app.tasks.sync_org_task", args=[org_id], ignore_result=False)

        def retries() -> list[tuple[int, int]]:
            return [(int(t), int(s)) for t, s in RETRY_LINE.findall(worker_log.read_text(errors="replace"))]

        # Prometheus is down: the worker has tried twice and scheduled each retry with the growing backoff.
        seen = _wait_for(lambda: retries() if len(retries()) >= 2 else None, "two retries in the worker log")
        assert seen[:2] == [(1, SYNC_RETRY.countdown(0)), (2, SYNC_RETRY.countdown(1))] == [(1, 2), (2, 4)]
        assert result.state == "RETRY"

        prom = procs.start_prometheus(rules_dir=rules_dir, port=prom_port)
        report = result.get(timeout=120)
        assert report["synced"] == 1 and report["errors"] == {}, report
        groups = httpx.get(prom.url + "/api/v1/rules").json()["data"]["groups"]
        loaded = [r for g in groups for r in g["rules"] if r.get("labels", {}).get("portal_rule") == str(rule_id)]
        assert len(loaded) == 1 and 'org_id="acme"' in loaded[0]["query"]
        assert len(retries()) < SYNC_RETRY.max_retries  # succeeded on a retry, not by running out of them
    finally:
        os.killpg(worker.pid, 15)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait(5)
        client.close()
        if prom is not None:
            prom.cleanup()
