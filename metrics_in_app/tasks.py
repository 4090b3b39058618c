"""Celery tasks: write an org's file_sd file (after every change) and rewrite all of them (drift repair)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(bind=True, name="metrics_in_app.tasks.write_scrape_targets", max_retries=5, acks_late=True,
             time_limit=60)
def write_scrape_targets(self: Any, org_id: int) -> str:
    from metrics_in_app import file_sd
    from portal.tenancy.models import Organization

    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return "gone"
    try:
        return str(file_sd.write(org))
    except OSError as exc:
        if self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@shared_task(name="metrics_in_app.tasks.rewrite_all_scrape_targets", time_limit=300)
def rewrite_all_scrape_targets() -> int:
    from metrics_in_app import file_sd
    from portal.tenancy.models import Organization

    n = 0
    for org in Organization.objects.all():
        file_sd.write(org)
        n += 1
    return n


def _register_schedule() -> None:
    """Append this app's periodic task to the one beat schedule (portal/celery.py keeps the dict)."""
    from portal.celery import app

    app.conf.beat_schedule.setdefault(
        "metrics-in-file-sd", {"task": "metrics_in_app.tasks.rewrite_all_scrape_targets", "schedule": 300.0})


_register_schedule()
