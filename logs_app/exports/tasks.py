"""Celery tasks of the exports: they take ids, re-read, and are safe to replay (see services)."""

from __future__ import annotations

from celery.schedules import crontab

from portal.celery import periodic
from portal.core.task_policy import task


@task("logs_app.exports.tasks.run_export", acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 60)
def run_export(export_id: int) -> str:
    from logs_app.exports import services

    return services.run_export(export_id)


@task("logs_app.exports.tasks.run_due_schedules")
def run_due_schedules() -> list[int]:
    from logs_app.exports import services

    return services.run_due_schedules()


@task("logs_app.exports.tasks.cleanup_expired")
def cleanup_expired() -> int:
    from logs_app.exports import services

    return services.cleanup_expired()


# Start due scheduled exports every minute; delete expired files every 15 minutes.
periodic("logs-exports-run-schedules", run_due_schedules, crontab())
periodic("logs-exports-cleanup", cleanup_expired, crontab(minute="*/15"))
