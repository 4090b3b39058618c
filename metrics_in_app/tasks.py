"""Celery tasks: write an org's file_sd file (after every change) and rewrite all of them (drift repair)."""

from __future__ import annotations

import logging

from portal.celery import periodic
from portal.core.task_policy import RetryPolicy, task

log = logging.getLogger(__name__)

# A full disk or a volume briefly away; the five-minute rewrite repairs whatever this gives up on.
FILE_RETRY = RetryPolicy(retry_on=(OSError,), max_retries=5, expires=600)


@task("metrics_in_app.tasks.write_scrape_targets", retry=FILE_RETRY, acks_late=True, time_limit=60)
def write_scrape_targets(org_id: int) -> str:
    from metrics_in_app import file_sd
    from portal.tenancy.models import Organization

    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return "gone"
    return str(file_sd.write(org))


@task("metrics_in_app.tasks.rewrite_all_scrape_targets", time_limit=300)
def rewrite_all_scrape_targets() -> int:
    from metrics_in_app import file_sd
    from portal.tenancy.models import Organization

    n = 0
    for org in Organization.objects.all():
        file_sd.write(org)
        n += 1
    return n


periodic("metrics-in-file-sd", rewrite_all_scrape_targets, 300.0)
