"""Celery tasks of logs_app: nightly retention (beat)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from logs_app.retention import apply_retention
from portal.celery import periodic
from portal.core.task_policy import task


@task("logs_app.tasks.apply_log_retention", time_limit=3600, soft_time_limit=3500)
def apply_log_retention() -> dict[str, Any]:
    """Drop expired partitions / delete expired rows for every org; returns what it removed."""
    result = apply_retention()
    return {"dropped_partitions": result.dropped_partitions, "deleted_rows": result.deleted_rows}


periodic("logs-retention", apply_log_retention, crontab(minute=23, hour="*/1"))
