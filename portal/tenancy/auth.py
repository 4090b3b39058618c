"""Who is calling and for which org: API tokens, sessions, and ingest tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.tenancy.context import OrgContext, context_for
from portal.tenancy.models import ApiToken, IngestToken, Organization, TokenBase

ORG_HEADER = "HTTP_X_PORTAL_ORG"
SESSION_ORG_KEY = "portal_org_slug"


class TokenError(Exception):
    """401: the message says why, never which part of a credential was wrong."""

    def __init__(self, message: str = "Invalid or missing token.") -> None:
        super().__init__(message)
        self.message = message


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _find_token(model: type[TokenBase], raw: str) -> Any:
    lookup = model.parse_lookup(raw)
    if lookup is None:
        raise TokenError()
    token = model.objects.all_orgs().select_related("org").filter(lookup=lookup).first()
    if token is None or not token.matches(raw):
        raise TokenError()
    if token.revoked_at is not None:
        raise TokenError("This token has been revoked.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise TokenError("This token has expired.")
    # Throttle the write: one UPDATE per token per minute is plenty for a "last used" column.
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        model.objects.all_orgs().filter(pk=token.pk).update(last_used_at=now)
    return token


def authenticate_api_token(raw: str, request: HttpRequest | None = None) -> tuple[Any, OrgContext]:
    """An API token → (user, context). Its rights never exceed the user's current membership. With the
    request, the use is audited (once per token, address and hour: security_events.token_used)."""
    token: ApiToken = _find_token(ApiToken, raw)
    days = token.org.token_max_lifetime_days
    if days and token.created_at + timedelta(days=days) <= timezone.now():
        # Lowering the org's maximum lifetime also ends the older tokens it already has.
        raise TokenError("This token is older than its organization's maximum token lifetime.")
    user = token.user
    if not user.is_active:
        raise TokenError()
    ctx = context_for(user, token.org, scope=token.scope, token=token)
    if ctx is None:
        raise TokenError("This token's user is no longer a member of its organization.")
    if request is not None:
        from portal.tenancy import security_events

        security_events.token_used(token, request)
    return user, ctx


def authenticate_ingest(request: HttpRequest) -> Organization:
    """The org of an ingest token. Only ingest tokens are accepted: API tokens cannot write telemetry."""
    raw = bearer_token(request)
    if raw is None:
        raise TokenError("Missing ingest token: send 'Authorization: Bearer <ingest token>'.")
    return ingest_token_org(raw)


def ingest_token_org(raw: str) -> Organization:
    """The org a raw ingest token writes to; TokenError when it is unknown, revoked, expired or an API token."""
    if ApiToken.parse_lookup(raw) is not None:
        raise TokenError("This is an API token; telemetry needs the organization's ingest token.")
    token: IngestToken = _find_token(IngestToken, raw)
    return token.org


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, OrgContext] | None:
        raw = bearer_token(request._request)
        if raw is None:
            return None
        try:
            user, ctx = authenticate_api_token(raw, request._request)
        except TokenError as e:
            raise exceptions.AuthenticationFailed(e.message) from e
        request._request.org_ctx = ctx  # type: ignore[attr-defined]
        return user, ctx

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class SessionOrgAuthentication(authentication.SessionAuthentication):
    """Session login for the browser's own API calls; the org comes from X-Portal-Org or the session."""

    def authenticate(self, request: Request) -> tuple[Any, OrgContext | None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        slug = request.META.get(ORG_HEADER) or request._request.session.get(SESSION_ORG_KEY)
        ctx = None
        if slug:
            org = Organization.objects.filter(slug=slug).first()
            ctx = context_for(user, org) if org else None
        if ctx is not None:
            request._request.org_ctx = ctx  # type: ignore[attr-defined]
        return user, ctx
