"""The audit log: every create/update/delete of org configuration goes through `record`.

Who made a change travels as one typed `Actor`, built once from the request (`actor_from`) by the view
and handed to the service that does the write; tasks and commands act as `SYSTEM` or `Actor.of(user)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.forms.models import model_to_dict
from django.http import HttpRequest
from rest_framework.request import Request

from portal.core.client_ip import client_ip  # the client's address, behind trusted proxies too
from portal.tenancy.context import OrgContext
from portal.tenancy.models import AuditEntry, Organization

# Never copied into the audit log, whatever the model calls them.
_SECRET_FIELDS = {"secret_hash", "password", "secret", "token", "webhook_url", "routing_key", "bearer_token"}

__all__ = ["SYSTEM", "Actor", "actor_from", "client_ip", "diff", "record", "record_event", "snapshot"]


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the signed-in user (None for the system), the org they act for, the API token
    the request authenticated with and the client's address."""

    user: Any = None  # an authenticated user model instance, or None
    org: Organization | None = None
    token_id: int | None = None
    ip: str | None = None

    @classmethod
    def of(cls, user: Any, org: Organization | None = None) -> Actor:
        """A user acting outside a request (a command, a task acting for the export's owner)."""
        return cls(user=user if getattr(user, "is_authenticated", False) else None, org=org)

    @property
    def label(self) -> str:
        return getattr(self.user, "email", "") or getattr(self.user, "username", "") or "system"


SYSTEM = Actor()


def actor_from(request: HttpRequest | Request) -> Actor:
    """The actor of a request (DRF or plain Django), read once in the view."""
    django_request: HttpRequest = getattr(request, "_request", request)
    user = getattr(request, "user", None)
    ctx = getattr(request, "auth", None)
    if not isinstance(ctx, OrgContext):
        ctx = getattr(django_request, "org_ctx", None)
    org_ctx = ctx if isinstance(ctx, OrgContext) else None
    return Actor(
        user=user if getattr(user, "is_authenticated", False) else None,
        org=org_ctx.org if org_ctx else None,
        token_id=int(org_ctx.token.pk) if org_ctx and org_ctx.token is not None else None,
        ip=client_ip(django_request),
    )


def snapshot(obj: models.Model) -> dict[str, Any]:
    data = model_to_dict(obj)
    return {k: _plain(v) for k, v in data.items() if k not in _SECRET_FIELDS and not k.endswith("_encrypted")}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return str(value)


def record(actor: Actor | None, action: str, obj: models.Model, changes: Any = None, *,
           org: Organization | None = None) -> AuditEntry:
    """Record one change, in the caller's transaction. The org is the object's own (or given)."""
    if org is None:
        org = obj if isinstance(obj, Organization) else getattr(obj, "org", None)
    return record_event(actor, action, org=org, object_type=obj._meta.model_name or type(obj).__name__.lower(),
                        object_id=str(obj.pk or ""), object_repr=str(obj), changes=changes)


def record_event(actor: Actor | None, action: str, *, org: Organization | None, object_type: str,
                 object_id: str = "", object_repr: str = "", changes: Any = None,
                 actor_label: str | None = None) -> AuditEntry:
    """Record one event that is not a model change (a failed login for a name with no account, …)."""
    actor = actor or SYSTEM
    clean = {k: v for k, v in dict(changes or {}).items() if k not in _SECRET_FIELDS}
    return AuditEntry.objects.all_orgs().create(
        org=org,
        actor=actor.user,
        actor_label=(actor_label if actor_label is not None else actor.label)[:254],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        changes=_jsonable(clean),
        ip=actor.ip,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _plain(value)
