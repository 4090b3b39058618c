"""The Celery app. Broker and results come from REDIS_URL; without it tasks run in process."""

from __future__ import annotations

import os

from celery import Celery
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
