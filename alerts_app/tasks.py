"""Celery tasks of the alerting app. They take ids, re-read, and are safe to replay."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from portal.backends.alertmanager import BackendUnavailable

log = logging.getLogger(__name__)

MAX_RETRIES = 8


def backoff(retries: int) -> int:
    """2, 4, 8 … 256 s: a backend restart is usually over within the first few tries."""
    return int(min(2 ** (retries + 1), 300))


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, time_limit=300)
def sync_org_task(self: Any, org_id: int) -> dict[str, Any]:
    from .sync import sync_org

    try:
        report = sync_org(org_id)
    except (BackendUnavailable, TimeoutError) as exc:
        log.warning("alert sync of org %s failed, will retry: %s", org_id, exc)
        if self.request.is_eager:
            # In-process mode has no broker to delay a retry; the per-minute reconcile retries instead.
            return {"error": str(exc)}
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    return {"synced": report.synced, "coalesced": report.coalesced, "errors": report.errors}


@shared_task(bind=True, max_retries=0, time_limit=600)
def reconcile_task(self: Any) -> dict[str, Any]:
    from .sync import reconcile

    try:
        report = reconcile()
    except (BackendUnavailable, TimeoutError) as exc:
        log.warning("alert reconcile failed: %s", exc)
        return {"error": str(exc)}
    return {"orgs": report.orgs, "written": report.files_written, "removed": report.files_removed,
            "am_written": report.am_written, "synced": report.synced}


@shared_task(time_limit=300)
def evaluate_log_rules_task() -> dict[str, Any]:
    from .log_rules import evaluate_all

    return evaluate_all()
