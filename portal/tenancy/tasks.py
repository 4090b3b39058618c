from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from portal.tenancy.models import AuditEntry

AUDIT_KEEP_DAYS = 400


@shared_task(name="portal.tenancy.tasks.prune_audit")
def prune_audit() -> int:
    cutoff = timezone.now() - timedelta(days=AUDIT_KEEP_DAYS)
    deleted, _ = AuditEntry.objects.all_orgs().filter(created_at__lt=cutoff).delete()
    return deleted
