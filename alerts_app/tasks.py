"""Celery tasks of the alerting app. They take ids, re-read, and are safe to replay."""

from __future__ import annotations

import logging
from typing import Any

from portal.backends.errors import BackendError
from portal.celery import periodic
from portal.core.task_policy import RetryPolicy, task

log = logging.getLogger(__name__)

# Prometheus or Alertmanager down or slow (the policy retries only errors whose `transient` is true), or
# another sync holding the lock. In process there is no broker to delay a retry: the error is reported and
# the per-minute reconcile retries instead.
SYNC_RETRY = RetryPolicy(retry_on=(BackendError, TimeoutError), max_retries=8, expires=3600,
                         in_process=lambda exc: {"error": str(exc)})


@task("alerts_app.tasks.sync_org_task", retry=SYNC_RETRY, acks_late=True, time_limit=300)
def sync_org_task(org_id: int) -> dict[str, Any]:
    from .sync import sync_org

    report = sync_org(org_id)
    return {"synced": report.synced, "coalesced": report.coalesced, "errors": report.errors}


@task("alerts_app.tasks.reconcile_task", time_limit=600)
def reconcile_task() -> dict[str, Any]:
    from .sync import reconcile

    try:
        report = reconcile()
    except (BackendError, TimeoutError) as exc:
        log.warning("alert reconcile failed: %s", exc)
        return {"error": str(exc)}
    return {"orgs": report.orgs, "written": report.files_written, "removed": report.files_removed,
            "am_written": report.am_written, "synced": report.synced}


@task("alerts_app.tasks.evaluate_log_rules_task", time_limit=300)
def evaluate_log_rules_task() -> dict[str, Any]:
    from .log_rules import evaluate_all

    return evaluate_all()


# Repair drift between the DB and Prometheus/Alertmanager; evaluate log-based rules.
periodic("alerts-reconcile", reconcile_task, 60.0)
periodic("alerts-log-rules", evaluate_log_rules_task, 60.0)
