"""The audit log: every create/update/delete of org configuration goes through `record`."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.forms.models import model_to_dict
from django.http import HttpRequest

from portal.core.client_ip import client_ip  # the client's address, behind trusted proxies too
from portal.tenancy.models import AuditEntry, Organization

# Never copied into the audit log, whatever the model calls them.
_SECRET_FIELDS = {"secret_hash", "password", "secret", "token", "webhook_url", "routing_key", "bearer_token"}


def snapshot(obj: models.Model) -> dict[str, Any]:
    data = model_to_dict(obj)
    return {k: _plain(v) for k, v in data.items() if k not in _SECRET_FIELDS and not k.endswith("_encrypted")}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return str(value)


def record(
    request: HttpRequest | Any | None,
    action: str,
    obj: models.Model,
    changes: Any = None,
    *,
    org: Organization | None = None,
    actor: Any = None,
) -> AuditEntry:
    """Record one change. The org is the object's own (or given); the actor the request's user."""
    django_request: HttpRequest | None = getattr(request, "_request", request)
    if actor is None and django_request is not None:
        actor = getattr(django_request, "user", None)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if org is None:
        org = obj if isinstance(obj, Organization) else getattr(obj, "org", None)
    clean = {k: v for k, v in dict(changes or {}).items() if k not in _SECRET_FIELDS}
    return AuditEntry.objects.all_orgs().create(
        org=org,
        actor=actor,
        actor_label=getattr(actor, "email", "") or getattr(actor, "username", "") or "system",
        action=action,
        object_type=obj._meta.model_name or type(obj).__name__.lower(),
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:200],
        changes=_jsonable(clean),
        ip=client_ip(django_request),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _plain(value)
