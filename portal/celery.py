"""The Celery app. Broker and results come from REDIS_URL; without it tasks run in process."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each app appends its periodic tasks to BEAT_SCHEDULE in its tasks module; the dict lives here so that
# `celery beat` and the in-process runner see one schedule.
app.conf.beat_schedule = {
    "audit-prune": {"task": "portal.tenancy.tasks.prune_audit", "schedule": crontab(minute=17, hour=3)},
    # alerts_app: repair drift between the DB and Prometheus/Alertmanager; evaluate log-based rules.
    "alerts-reconcile": {"task": "alerts_app.tasks.reconcile_task", "schedule": 60.0},
    "alerts-log-rules": {"task": "alerts_app.tasks.evaluate_log_rules_task", "schedule": 60.0},
}


def _count(outcome: str) -> Any:
    def handler(sender: Any = None, **_: Any) -> None:
        from portal.core.metrics import TASKS

        name = getattr(sender, "name", None) or str(sender)
        TASKS.labels(task=name, outcome=outcome).inc()

    return handler


# Own metrics: task outcomes, exposed on /metrics of the process that ran them (the web process for
# in-process tasks; a worker exposes its own with `celery … worker` and CELERY_METRICS_PORT, summed over
# its prefork children when PROMETHEUS_MULTIPROC_DIR is set).
_handlers = {outcome: _count(outcome) for outcome in ("success", "failure", "retry")}
signals.task_success.connect(_handlers["success"], weak=False)
signals.task_failure.connect(_handlers["failure"], weak=False)
signals.task_retry.connect(_handlers["retry"], weak=False)


@signals.worker_ready.connect(weak=False)
def _worker_metrics(**_: Any) -> None:
    port = int(os.environ.get("CELERY_METRICS_PORT", "0") or 0)
    if port:
        from prometheus_client import start_http_server

        from portal.core.metrics import registry

        start_http_server(port, addr="127.0.0.1", registry=registry())
