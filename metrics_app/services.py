"""Datasource and platform series management (staff): atomic writes with audit; datasource secrets set
through the model's setters; a platform series change drops the allow-list cache and queues the rule sync."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from portal.core.task_policy import enqueue_on_commit
from portal.credentials import AuthType
from portal.tenancy import audit
from portal.tenancy.audit import Actor

from . import federation, platform_series
from .models import Datasource, PlatformSeries

SECRET_INPUTS = ("password", "bearer_token")


def _apply(ds: Datasource, data: dict[str, Any]) -> list[str]:
    """Copy validated fields; returns the names of secrets that changed (for the audit, values never)."""
    changed_secrets: list[str] = []
    for field, value in data.items():
        if field in SECRET_INPUTS:
            setattr(ds, field, value or "")
            changed_secrets.append(field)
        else:
            setattr(ds, field, value)
    if ds.auth_type == AuthType.NONE:
        ds.password_encrypted = ds.bearer_token_encrypted = ""
    return changed_secrets


def _make_only_default(ds: Datasource) -> None:
    if ds.is_default:
        Datasource.objects.exclude(pk=ds.pk).filter(is_default=True).update(is_default=False)


def create_datasource(actor: Actor, data: dict[str, Any]) -> Datasource:
    with transaction.atomic():
        ds = Datasource()
        secrets = _apply(ds, data)
        if ds.is_default:
            Datasource.objects.filter(is_default=True).update(is_default=False)
        elif not Datasource.objects.exists():
            ds.is_default = True  # the first one is the default: no second click needed
        ds.save()
        changes = audit.snapshot(ds)
        changes.update({f"{s}_changed": True for s in secrets})
        audit.record(actor, "create", ds, changes, org=None)
    return ds


def update_datasource(actor: Actor, ds: Datasource, data: dict[str, Any]) -> Datasource:
    with transaction.atomic():
        ds = Datasource.objects.select_for_update().get(pk=ds.pk)
        before = audit.snapshot(ds)
        secrets = _apply(ds, data)
        _make_only_default(ds)
        ds.save()
        changes = audit.diff(before, audit.snapshot(ds))
        changes.update({f"{s}_changed": True for s in secrets})
        audit.record(actor, "update", ds, changes, org=None)
    return ds


def delete_datasource(actor: Actor, ds: Datasource) -> None:
    with transaction.atomic():
        audit.record(actor, "delete", ds, {}, org=None)
        ds.delete()


def test_datasource(actor: Actor, ds: Datasource) -> dict[str, Any]:
    result = federation.test_connection(ds)
    audit.record(actor, "test", ds, {"ok": result["ok"]}, org=None)
    return result


# ---------------------------------------------------------------- platform series


def save_platform_series(actor: Actor, series: PlatformSeries, data: dict[str, Any], action: str) -> PlatformSeries:
    """Create or update (validated already), audited; the allow-list cache is dropped and the rule sync
    queued once the transaction commits."""
    with transaction.atomic():
        before = audit.snapshot(series) if series.pk else {}
        for field, value in data.items():
            setattr(series, field, value)
        series.save()
        after = audit.snapshot(series)
        audit.record(actor, action, series, audit.diff(before, after) if before else after, org=None)
        _platform_series_changed()
    return series


def delete_platform_series(actor: Actor, series: PlatformSeries) -> None:
    with transaction.atomic():
        audit.record(actor, "delete", series, {}, org=None)
        series.delete()
        _platform_series_changed()


def _platform_series_changed() -> None:
    # Dropped now (this process reads the DB again) and after commit (a reader that refilled the cache
    # from the old rows in between is corrected); the full rule sync writes the file and reloads.
    platform_series.invalidate()
    transaction.on_commit(platform_series.invalidate)
    from alerts_app.tasks import reconcile_task

    enqueue_on_commit(reconcile_task)
