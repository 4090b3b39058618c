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

# One schedule, seen by `celery beat` and the in-process runner (`beat_inprocess`); each app's tasks
# module adds its entries with `periodic`.
app.conf.beat_schedule = {}


def periodic(entry: str, task: Any, schedule: float | crontab) -> None:
    """Run `task` (a task object, so that only registered names get scheduled) on `schedule` (seconds or
    a crontab) under the beat entry `entry`. Registering the same entry twice for another task is a bug."""
    current = app.conf.beat_schedule.get(entry)
    if current is not None and current["task"] != task.name:
        raise ValueError(f"beat entry {entry!r} already runs {current['task']}, not {task.name}")
    app.conf.beat_schedule[entry] = {"task": task.name, "schedule": schedule}


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
