"""Celery tasks of the exports: they take ids, re-read, and are safe to replay (see services)."""

from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from portal.celery import app

# Periodic: start due scheduled exports every minute; delete expired files every 15 minutes.
app.conf.beat_schedule.update({
    "logs-exports-run-schedules": {"task": "logs_app.exports.tasks.run_due_schedules", "schedule": crontab()},
    "logs-exports-cleanup": {"task": "logs_app.exports.tasks.cleanup_expired", "schedule": crontab(minute="*/15")},
})


@shared_task(name="logs_app.exports.tasks.run_export", acks_late=True, soft_time_limit=6 * 3600,
             time_limit=6 * 3600 + 60)
def run_export(export_id: int) -> str:
    from logs_app.exports import services

    return services.run_export(export_id)


@shared_task(name="logs_app.exports.tasks.run_due_schedules")
def run_due_schedules() -> list[int]:
    from logs_app.exports import services

    return services.run_due_schedules()


@shared_task(name="logs_app.exports.tasks.cleanup_expired")
def cleanup_expired() -> int:
    from logs_app.exports import services

    return services.cleanup_expired()
