from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab
from django.utils import timezone

from portal.celery import periodic
from portal.core.task_policy import task
from portal.tenancy.models import AuditEntry

AUDIT_KEEP_DAYS = 400


@task("portal.tenancy.tasks.prune_audit")
def prune_audit() -> int:
    cutoff = timezone.now() - timedelta(days=AUDIT_KEEP_DAYS)
    deleted, _ = AuditEntry.objects.all_orgs().filter(created_at__lt=cutoff).delete()
    return deleted


periodic("audit-prune", prune_audit, crontab(minute=17, hour=3))
