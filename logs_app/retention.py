"""Log/trace retention: each org keeps `log_retention_days` (capped by the staff maximum
LOGS_MAX_RETENTION_DAYS). PostgreSQL drops whole daily partitions older than the longest retention
any org has; what lies between an org's own cutoff and that point is deleted in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from logs_app.store import get_store
from portal.tenancy.models import Organization


def max_retention_days() -> int:
    return max(1, int(getattr(settings, "LOGS_MAX_RETENTION_DAYS", 90)))


def effective_days(org: Organization) -> int:
    """The org's retention, never above the staff maximum and never below one day."""
    return max(1, min(int(org.log_retention_days or 1), max_retention_days()))


@dataclass
class RetentionResult:
    dropped_partitions: list[str] = field(default_factory=list)
    deleted_rows: dict[str, int] = field(default_factory=dict)


def apply_retention(now: datetime | None = None) -> RetentionResult:
    """Idempotent: running it twice deletes nothing more. `now` is injectable so tests move the clock."""
    now = now or timezone.now()
    store = get_store()
    result = RetentionResult()
    orgs = list(Organization.objects.all())
    longest = max((effective_days(o) for o in orgs), default=max_retention_days())
    # Partitions are shared by all orgs: only days past every org's retention can go whole.
    result.dropped_partitions = store.drop_partitions_before(now - timedelta(days=longest))
    prepare = getattr(store, "ensure_upcoming_partitions", None)
    if prepare is not None:
        prepare(now)
    for org in orgs:
        result.deleted_rows[org.slug] = store.delete_older_than(org, now - timedelta(days=effective_days(org)))
    return result
