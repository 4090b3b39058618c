"""Security events the portal audits about itself: logins and failed logins, API token use, and every
access by platform staff to an org's data.

- Logins and failed logins are account events, not an org's: recorded with no org (`org=None`), the user
  (or, for a failed login, the name that was tried) and the client address. An org's security view shows
  those of its own members.
- Token use: the first use of an API token from an address in each hour (one row per token, address and
  hour, not one per request), in the token's org.
- Staff access: platform operators see every org as admins (`context_for`). The first time in each hour a
  staff user acts in an org, the org's audit log gets a `staff_access` row, so the tenant sees who of the
  operator looked at its data and when; cross-org PromQL queries are audited with their stated reason by
  metrics_app.federation as `cross_org_query`.

The hourly de-duplication counts in the shared cache (portal/core/cache.py); while it is down, counting
falls back to this process, so an outage records more rows, never fewer.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from portal.core import cache
from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.models import ApiToken, Organization

ONCE_PER_SECONDS = 3600
LOGIN, LOGIN_FAILED, TOKEN_USE, STAFF_ACCESS = "login", "login_failed", "token_use", "staff_access"
CROSS_ORG_QUERY = "cross_org_query"


def _first_in_window(*parts: object) -> bool:
    key = "security-event:" + ":".join(str(p) for p in parts)
    return cache.incr(key, ttl=ONCE_PER_SECONDS) == 1


def _ip(request: HttpRequest | None) -> str | None:
    return audit.client_ip(request) if request is not None else None


def _record(actor: Actor, action: str, obj: Any, changes: dict[str, Any], org: Organization | None) -> None:
    audit.record_event(actor, action, org=org, object_type=obj._meta.model_name, object_id=str(obj.pk),
                       object_repr=str(obj), changes=changes)


@receiver(user_logged_in, dispatch_uid="portal-audit-login")
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    _record(Actor(user=user, ip=_ip(request)), LOGIN, user, {"email": getattr(user, "email", "")}, None)


@receiver(user_login_failed, dispatch_uid="portal-audit-login-failed")
def _on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
                     **kwargs: Any) -> None:
    from django.contrib.auth import get_user_model

    tried = str(credentials.get("username") or credentials.get("email") or "")[:254]
    user = get_user_model().objects.filter(email__iexact=tried).first() if tried else None
    # The row names the account that was tried when it exists, so that account's timeline has it.
    audit.record_event(Actor(ip=_ip(request)), LOGIN_FAILED, org=None, object_type="user",
                       object_id=str(user.pk) if user is not None else "",
                       object_repr=tried if user is not None else f"{tried} (no such account)",
                       changes={"username": tried}, actor_label=tried or "unknown")


def token_used(token: ApiToken, request: HttpRequest) -> None:
    ip = _ip(request)
    if _first_in_window(TOKEN_USE, token.pk, ip):
        actor = Actor(user=token.user, org=token.org, token_id=int(token.pk), ip=ip)
        _record(actor, TOKEN_USE, token, {"name": token.name, "path": request.path[:200]}, token.org)


def staff_in_org(user: Any, org: Organization, request: HttpRequest | None = None) -> None:
    if _first_in_window(STAFF_ACCESS, user.pk, org.pk):
        _record(Actor(user=user, org=org, ip=_ip(request)), STAFF_ACCESS, org,
                {"path": request.path[:200] if request is not None else ""}, org)
