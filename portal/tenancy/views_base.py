"""The one base for org-scoped browser pages: `/o/<org_slug>/…`.

`OrgViewMixin` resolves the org from the URL once, answers 404 to non-members (the org "does not
exist" for them), 403 to a viewer's POST, and remembers the org in the session for the switcher.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase

from portal.tenancy.auth import SESSION_ORG_KEY
from portal.tenancy.context import OrgContext, context_for
from portal.tenancy.models import Organization, Role

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def resolve_org(request: HttpRequest, slug: str, required_role: str = Role.VIEWER,
                write_role: str = Role.EDITOR) -> OrgContext:
    org = Organization.objects.filter(slug=slug).first()
    ctx = context_for(request.user, org) if org else None
    if ctx is None:
        raise Http404("Organization not found.")
    needed = required_role if request.method in SAFE_METHODS else max(
        required_role, write_role, key=lambda r: ["viewer", "editor", "admin"].index(r))
    if not ctx.has_role(needed):
        raise PermissionDenied(f"This needs the {needed} role in {org}.")
    request.org_ctx = ctx  # type: ignore[attr-defined]
    if request.session.get(SESSION_ORG_KEY) != slug:
        request.session[SESSION_ORG_KEY] = slug
    return ctx


class OrgViewMixin(LoginRequiredMixin):
    required_role: ClassVar[str] = Role.VIEWER
    write_role: ClassVar[str] = Role.EDITOR

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.org_ctx = resolve_org(request, kwargs["org_slug"], self.required_role, self.write_role)
        self.org = self.org_ctx.org
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc, no-any-return, return-value]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        ctx["org"] = self.org
        return ctx


def org_view(required_role: str = Role.VIEWER, write_role: str = Role.EDITOR) -> Callable[..., Any]:
    """The function-view form of OrgViewMixin: the view gets `request.org_ctx` set."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def inner(request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            resolve_org(request, org_slug, required_role, write_role)
            return view(request, *args, **kwargs)

        return inner

    return wrap
