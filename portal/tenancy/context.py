"""The org a request acts for: resolved once per request, then read everywhere as `request.org_ctx`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portal.tenancy.models import ROLE_RANK, Membership, Organization, Role, TokenScope

if TYPE_CHECKING:
    from django.http import HttpRequest

    from portal.tenancy.models import ApiToken


@dataclass(frozen=True)
class OrgContext:
    org: Organization
    role: str
    scope: str = TokenScope.WRITE
    token: ApiToken | None = None
    is_staff: bool = False

    def has_role(self, needed: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(needed)]

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE and self.has_role(Role.EDITOR)

    @property
    def is_admin(self) -> bool:
        return self.scope == TokenScope.WRITE and self.has_role(Role.ADMIN)


def context_for(user: Any, org: Organization, **extra: Any) -> OrgContext | None:
    """The user's context in org, or None when they may not see it. Staff see every org as admins."""
    if not user.is_authenticated:
        return None
    if getattr(user, "is_staff", False):
        from portal.tenancy import security_events  # it imports audit, which imports this module

        security_events.staff_in_org(user, org)  # the org's admins see every operator access
        return OrgContext(org=org, role=Role.ADMIN, is_staff=True, **extra)
    membership = Membership.objects.for_org(org).filter(user=user).only("role").first()
    if membership is None:
        return None
    return OrgContext(org=org, role=membership.role, **extra)


def orgs_for(user: Any) -> list[Organization]:
    if not user.is_authenticated:
        return []
    if getattr(user, "is_staff", False):
        return list(Organization.objects.all())
    return list(Organization.objects.filter(memberships__user=user).order_by("slug"))


def org_context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: the current org and the switcher's list."""
    ctx: OrgContext | None = getattr(request, "org_ctx", None)
    return {
        "current_org": ctx.org if ctx else None,
        "org_ctx": ctx,
        "user_orgs": orgs_for(request.user) if hasattr(request, "user") else [],
    }
