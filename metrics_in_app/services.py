"""Scrape-target and ingest-limit services: validation (outbound-URL guard, labels), audited writes, file_sd
scheduling."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from metrics_in_app import limits as limits_mod
from metrics_in_app.destination import org_label
from metrics_in_app.models import IngestLimits, ScrapeTarget
from metrics_in_app.target_health import health_for
from portal.backends import outbound
from portal.core.task_policy import enqueue_on_commit
from portal.credentials import AuthType
from portal.errors import ServiceError
from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization
from portal.tenancy.writes import ModelWrites

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
MAX_EXTRA_LABELS = 20


def _bad(field: str, message: str) -> ServiceError:
    return ServiceError(400, "invalid", f"{field}: {message}", {"field": field})


def clean_labels(org: Organization, labels: Any) -> dict[str, str]:
    if labels in (None, ""):
        return {}
    if not isinstance(labels, dict):
        raise _bad("labels", "must be an object of label name → value")
    if len(labels) > MAX_EXTRA_LABELS:
        raise _bad("labels", f"at most {MAX_EXTRA_LABELS} extra labels")
    label = org_label(org)
    out: dict[str, str] = {}
    for k, v in labels.items():
        name = str(k)
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise _bad("labels", f"{name!r} is not a usable label name")
        if name in (label.name, label.exported):
            raise _bad("labels", f"{name!r} is set by the platform (the organization label)")
        if not isinstance(v, str | int | float) or len(str(v)) > 256:
            raise _bad("labels", f"value of {name!r} must be a string of at most 256 characters")
        out[name] = str(v)
    return out


def clean_target(org: Organization, attrs: dict[str, Any], instance: ScrapeTarget | None = None) -> dict[str, Any]:
    """Validate target fields (partial for updates); the SSRF guard runs on every address change."""
    if "address" in attrs:
        attrs["address"] = str(attrs["address"]).strip()
        outbound.check_target(attrs["address"], field="address")
    if "labels" in attrs:
        attrs["labels"] = clean_labels(org, attrs["labels"])
    auth = attrs.get("auth_type", instance.auth_type if instance else AuthType.NONE)
    if auth == AuthType.BASIC:
        has_password = attrs.get("password") or (instance and instance.password_encrypted)
        if not (attrs.get("username") or (instance and instance.username)) or not has_password:
            raise _bad("auth_type", "basic auth needs username and password")
    if auth == AuthType.BEARER and not (attrs.get("bearer_token") or (instance and instance.bearer_token_encrypted)):
        raise _bad("auth_type", "bearer auth needs bearer_token")
    return attrs


def schedule_file_sd(org: Organization) -> None:
    """Rewrite the org's file_sd file once the surrounding transaction commits."""
    from metrics_in_app.tasks import write_scrape_targets

    enqueue_on_commit(write_scrape_targets, org.pk)


class TargetWrites(ModelWrites[ScrapeTarget]):
    """Scrape targets: validated (outbound-URL guard) on every write, secrets encrypted by the model's
    setters, and the org's file_sd file rewritten once the change commits."""

    def save(self, obj: ScrapeTarget, data: dict[str, Any]) -> None:
        org = obj.org
        attrs = clean_target(org, data, obj if obj.pk else None)
        password = attrs.pop("password", None)
        bearer = attrs.pop("bearer_token", None)
        if ScrapeTarget.objects.for_org(org).filter(name=attrs.get("name", obj.name)).exclude(pk=obj.pk).exists():
            raise _bad("name", "a scrape target with this name already exists")
        self.assign(obj, attrs)
        if password:
            obj.password = password
        if bearer:
            obj.bearer_token = bearer
        if obj.auth_type != AuthType.BASIC:
            obj.username, obj.password_encrypted = "", ""
        if obj.auth_type != AuthType.BEARER:
            obj.bearer_token_encrypted = ""
        obj.save()

    def changed(self, actor: Actor, org: Organization, obj: ScrapeTarget | None) -> None:
        schedule_file_sd(org)


TARGETS = TargetWrites(ScrapeTarget)


def targets_with_health(org: Organization) -> list[dict[str, Any]]:
    targets = list(ScrapeTarget.objects.for_org(org))
    try:
        health = health_for(org, {t.pk for t in targets})
        error = ""
    except ServiceError as e:
        health, error = {}, e.message
    out = []
    for t in targets:
        h = health.get(t.pk) or {"health": "unknown" if t.enabled else "disabled", "last_scrape": None,
                                 "last_error": error, "scrape_url": "", "last_scrape_duration": None}
        if t.auth_type != AuthType.NONE and h.get("scrape_url"):
            # The relay path is a bearer capability for the exporter's content: never shown.
            h = {**h, "scrape_url": f"{t.scheme}://{t.address}{t.metrics_path} (via the portal's relay)"}
        out.append({"id": t.pk, "name": t.name, "address": t.address, "enabled": t.enabled, **h})
    return out


def effective_limits(org: Organization) -> dict[str, int]:
    return dict(limits_mod.limits_for(org).__dict__)


def set_limits(org: Organization, values: dict[str, Any], *, actor: Actor | None = None) -> dict[str, int]:
    clean: dict[str, int | None] = {}
    for k, v in values.items():
        if k not in limits_mod.LIMIT_FIELDS:
            raise _bad(k, "unknown limit")
        if v is None:
            clean[k] = None
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise _bad(k, "must be a positive integer or null (the default)")
        clean[k] = v
    with transaction.atomic():
        row, _ = IngestLimits.objects.for_org(org).select_for_update().get_or_create(org=org)
        before = audit.snapshot(row)
        for k, v in clean.items():
            setattr(row, k, v)
        row.save()
        audit.record(actor, "update", row, audit.diff(before, audit.snapshot(row)))
    limits_mod.forget(org)
    return effective_limits(org)
