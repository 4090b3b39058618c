"""Role and scope checks for the API; the org itself was resolved by authentication."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from portal.tenancy.context import OrgContext
from portal.tenancy.models import Role
from portal.tenancy.token_rights import READ_ONLY_MESSAGE, scope_allows


def org_ctx_of(request: Request) -> OrgContext:
    ctx = request.auth if isinstance(request.auth, OrgContext) else None
    if ctx is None:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        # Logged in but not acting for an org they belong to: the org "does not exist" for them.
        raise exceptions.NotFound("Organization not found (send X-Portal-Org with an org you belong to).")
    return ctx


class IsOrgMember(permissions.BasePermission):
    """Members read; writes need an editor role and a write-scoped token; views may ask for more
    with `required_role` (every method) or `write_role` (unsafe methods)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        ctx = org_ctx_of(request)
        needed = getattr(view, "required_role", Role.VIEWER)
        if request.method not in permissions.SAFE_METHODS:
            needed = max(needed, getattr(view, "write_role", Role.EDITOR), key=_rank)
            # The same rule TokenRightsMiddleware applies before any view: kept here for views run without it.
            match = getattr(request._request, "resolver_match", None)
            if not scope_allows(ctx.scope, request.method or "", match.view_name if match else None):
                raise exceptions.PermissionDenied(READ_ONLY_MESSAGE)
        if not ctx.has_role(needed):
            raise exceptions.PermissionDenied(f"This needs the {needed} role in {ctx.org.slug}.")
        return True


class IsStaff(permissions.BasePermission):
    """Platform operators only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not request.user.is_staff:
            raise exceptions.PermissionDenied("Platform operators (staff) only.")
        return True


def _rank(role: str) -> int:
    return {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}[Role(role)]
