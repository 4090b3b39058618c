"""Celery tasks of logs_app: nightly retention (beat)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.schedules import crontab

from logs_app.retention import apply_retention
from portal.celery import app


@shared_task(name="logs_app.tasks.apply_log_retention", time_limit=3600, soft_time_limit=3500)
def apply_log_retention() -> dict[str, Any]:
    """Drop expired partitions / delete expired rows for every org; returns what it removed."""
    result = apply_retention()
    return {"dropped_partitions": result.dropped_partitions, "deleted_rows": result.deleted_rows}


app.conf.beat_schedule["logs-retention"] = {
    "task": "logs_app.tasks.apply_log_retention", "schedule": crontab(minute=23, hour="*/1"),
}
