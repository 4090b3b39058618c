"""Browser pages: login, org switcher, the org's home and its settings (members, tokens, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from portal.errors import ServiceError
from portal.tenancy import services, throttle
from portal.tenancy.api import filter_audit
from portal.tenancy.audit import actor_from, client_ip
from portal.tenancy.auth import SESSION_ORG_KEY
from portal.tenancy.context import context_for
from portal.tenancy.models import ApiToken, AuditEntry, IngestToken, Membership, Organization, Role, TokenScope
from portal.tenancy.views_base import OrgViewMixin


class ThrottledAuthForm(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) or "unknown"
        reason = throttle.blocked(username, ip)
        if reason:
            raise forms.ValidationError(reason, code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            throttle.record_failure(username, ip)
            raise


class ThrottledLoginView(auth_views.LoginView):
    form_class = ThrottledAuthForm

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        throttle.clear(form.cleaned_data.get("username") or "")
        return super().form_valid(form)


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form: Any) -> HttpResponse:
        reason = throttle.password_reset_blocked(form.cleaned_data["email"], client_ip(self.request) or "unknown")
        if reason:
            form.add_error(None, reason)
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(settings.PASSWORD_RESET_WINDOW_SECONDS)
            return response
        return super().form_valid(form)


@login_required
@require_POST
def switch_org(request: HttpRequest) -> HttpResponse:
    org = Organization.objects.filter(slug=request.POST.get("org", "")).first()
    if org is None or context_for(request.user, org) is None:
        raise Http404("Organization not found.")
    request.session[SESSION_ORG_KEY] = org.slug
    return redirect("org-home", org_slug=org.slug)


class OrgHomeView(OrgViewMixin, TemplateView):
    template_name = "tenancy/org_home.html"


class MemberForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)


class MembersView(OrgViewMixin, TemplateView):
    """Admins add, re-role and remove members; everyone else sees the list."""

    template_name = "tenancy/members.html"
    write_role = Role.ADMIN

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["members"] = Membership.objects.for_org(self.org).select_related("user").order_by("user__email")
        ctx["form"] = kwargs.get("form") or MemberForm()
        ctx["roles"] = Role.choices
        return ctx

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        op = request.POST.get("op", "add")
        try:
            if op == "add":
                form = MemberForm(request.POST)
                if not form.is_valid():
                    return self.render_to_response(self.get_context_data(form=form), status=400)
                services.add_member(self.org, form.cleaned_data["email"], form.cleaned_data["role"],
                                    actor=actor_from(request))
                messages.success(request, f"{form.cleaned_data['email']} is now {form.cleaned_data['role']}.")
            else:
                m = Membership.objects.for_org(self.org).filter(pk=request.POST.get("id") or 0).first()
                if m is None:
                    raise Http404("No such member.")
                if op == "role":
                    services.change_role(m, request.POST.get("role", ""), actor=actor_from(request))
                    messages.success(request, f"{m.user.email} is now {m.role}.")
                elif op == "remove":
                    services.remove_member(m, actor=actor_from(request))
                    messages.success(request, f"{m.user.email} was removed.")
        except ServiceError as e:
            messages.error(request, e.message)
        return HttpResponseRedirect(reverse("org-members", args=[self.org.slug]))


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=TokenScope.choices)
    expires_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class TokensView(OrgViewMixin, TemplateView):
    """The user's API tokens (admins: the org's ingest tokens too). A new secret is shown once."""

    template_name = "tenancy/tokens.html"
    write_role = Role.VIEWER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        tokens = ApiToken.objects.for_org(self.org).select_related("user")
        ctx["tokens"] = tokens if self.org_ctx.is_admin else tokens.filter(user=self.request.user)
        ctx["ingest_tokens"] = IngestToken.objects.for_org(self.org) if self.org_ctx.is_admin else []
        ctx["form"] = kwargs.get("form") or TokenForm()
        ctx["new_secret"] = self.request.session.pop("new_token_secret", None)
        return ctx

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        op = request.POST.get("op", "create")
        try:
            if op == "create":
                form = TokenForm(request.POST)
                if not form.is_valid():
                    return self.render_to_response(self.get_context_data(form=form), status=400)
                expires: datetime | None = form.cleaned_data.get("expires_at")
                if expires is not None and timezone.is_naive(expires):
                    expires = timezone.make_aware(expires)
                _, secret = services.create_api_token(self.org, request.user, form.cleaned_data["name"],
                                                      form.cleaned_data["scope"], expires, actor=actor_from(request))
                request.session["new_token_secret"] = secret
            elif op == "create_ingest":
                if not self.org_ctx.is_admin:
                    raise ServiceError(403, "permission_denied", "Only admins create ingest tokens.")
                _, secret = services.create_ingest_token(self.org, request.POST.get("name") or "ingest",
                                                         actor=actor_from(request))
                request.session["new_token_secret"] = secret
            elif op in ("revoke", "revoke_ingest"):
                model = ApiToken if op == "revoke" else IngestToken
                qs = model.objects.for_org(self.org)
                if op == "revoke" and not self.org_ctx.is_admin:
                    qs = qs.filter(user=request.user)
                elif op == "revoke_ingest" and not self.org_ctx.is_admin:
                    qs = qs.none()
                token = qs.filter(pk=request.POST.get("id") or 0).first()
                if token is None:
                    raise Http404("No such token.")
                services.revoke_token(token, actor=actor_from(request))
                messages.success(request, f"Token {token.name} revoked.")
        except ServiceError as e:
            messages.error(request, e.message)
        return HttpResponseRedirect(reverse("org-tokens", args=[self.org.slug]))


class AuditView(OrgViewMixin, TemplateView):
    template_name = "tenancy/audit.html"
    required_role = Role.ADMIN

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        try:
            qs = filter_audit(AuditEntry.objects.for_org(self.org), self.request.GET)
        except ServiceError as e:
            messages.error(self.request, e.message)
            qs = AuditEntry.objects.for_org(self.org)
        ctx["page"] = Paginator(qs, 50).get_page(self.request.GET.get("page"))
        ctx["filters"] = self.request.GET
        return ctx
