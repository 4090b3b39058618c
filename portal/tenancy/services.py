"""Org, membership and token changes. Every change is atomic and audited with the `Actor` that made it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from portal.errors import ServiceError
from portal.tenancy import audit, signals
from portal.tenancy.audit import Actor
from portal.tenancy.models import (
    ROLE_RANK,
    ApiToken,
    IngestToken,
    Membership,
    Organization,
    Role,
    TokenScope,
)

User = get_user_model()


@transaction.atomic
def create_org(slug: str, name: str = "", label_value: str = "", *, actor: Actor | None = None) -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise ServiceError(400, "exists", f"An organization with slug {slug!r} already exists.")
    org = Organization(slug=slug, name=name or slug, label_value=label_value or slug)
    org.full_clean()
    org.save()
    audit.record(actor, "create", org, audit.snapshot(org))
    return org


@transaction.atomic
def update_org(actor: Actor, org: Organization, values: dict[str, Any]) -> Organization:
    """Change the org's own settings (name, retention, token lifetime); the fields are validated by the caller."""
    org = Organization.objects.select_for_update().get(pk=org.pk)
    before = audit.snapshot(org)
    for key, value in values.items():
        setattr(org, key, value)
    org.save()
    audit.record(actor, "update", org, audit.diff(before, audit.snapshot(org)))
    return org


def get_or_create_user(email: str, password: str | None = None) -> Any:
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(username=email, email=email, password=password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def add_member(org: Organization, email: str, role: str, *, password: str | None = None,
               actor: Actor | None = None) -> Membership:
    if role not in Role.values:
        raise ServiceError(400, "invalid", f"role must be one of {', '.join(Role.values)}.")
    user = get_or_create_user(email, password)
    membership, created = Membership.objects.for_org(org).get_or_create(user=user, org=org, defaults={"role": role})
    if not created and membership.role != role:
        return change_role(membership, role, actor=actor)
    if created:
        audit.record(actor, "create", membership, {"email": user.email, "role": role}, org=org)
    return membership


def _other_admins(membership: Membership) -> bool:
    return Membership.objects.for_org(membership.org).filter(role=Role.ADMIN).exclude(pk=membership.pk).exists()


@transaction.atomic
def change_role(membership: Membership, role: str, *, actor: Actor | None = None) -> Membership:
    if role not in Role.values:
        raise ServiceError(400, "invalid", f"role must be one of {', '.join(Role.values)}.")
    # Lock the org's admin rows so two concurrent demotions cannot both pass the last-admin check.
    list(Membership.objects.for_org(membership.org).select_for_update().filter(role=Role.ADMIN))
    if membership.role == Role.ADMIN and role != Role.ADMIN and not _other_admins(membership):
        raise ServiceError(400, "last_admin", "The last admin of an organization cannot be demoted.")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(actor, "update", membership, {"role": {"from": before, "to": role}}, org=membership.org)
    if ROLE_RANK[Role(role)] < ROLE_RANK[Role(before)]:
        _reduce_access(membership.org, membership.user, role, actor=actor)
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, actor: Actor | None = None) -> None:
    list(Membership.objects.for_org(membership.org).select_for_update().filter(role=Role.ADMIN))
    if membership.role == Role.ADMIN and not _other_admins(membership):
        raise ServiceError(400, "last_admin", "The last admin of an organization cannot be removed.")
    audit.record(actor, "delete", membership, {"email": membership.user.email}, org=membership.org)
    membership.delete()
    _reduce_access(membership.org, membership.user, None, actor=actor)


def _reduce_access(org: Organization, user: Any, role: str | None, *, actor: Actor | None) -> None:
    """End what the member may no longer hold, in the caller's transaction: removed (role None) → every API
    token of theirs in the org is revoked; now a viewer → their write tokens become read tokens. Other apps
    (export schedules) act on the `access_reduced` signal."""
    tokens = ApiToken.objects.for_org(org).select_for_update().filter(user=user, revoked_at=None)
    if role is None:
        for token in tokens:
            revoke_token(token, actor=actor)
    elif ROLE_RANK[Role(role)] < ROLE_RANK[Role.EDITOR]:
        for token in tokens.filter(scope=TokenScope.WRITE):
            token.scope = TokenScope.READ
            token.save(update_fields=["scope"])
            audit.record(actor, "update", token, {"scope": {"from": TokenScope.WRITE, "to": TokenScope.READ},
                                                  "reason": f"owner's role lowered to {role}"})
    signals.access_reduced.send(sender=Membership, org=org, user=user, role=role, actor=actor)


def check_token_expiry(org: Organization, expires_at: datetime | None, via_token: ApiToken | None) -> None:
    """A new token may not outlive the token that creates it, nor the org's maximum token lifetime."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError(400, "invalid", "expires_at must be in the future.", {"expires_at": ["in the past"]})
    if via_token is not None and via_token.expires_at is not None:
        limit = via_token.expires_at.isoformat()
        if expires_at is None:
            raise ServiceError(400, "invalid", f"expires_at is required: the token making this request expires "
                               f"at {limit}, and a token cannot create one that outlives it.",
                               {"expires_at": [f"at most {limit}"]})
        if expires_at > via_token.expires_at:
            raise ServiceError(400, "invalid", f"expires_at may be at most {limit}: a token cannot create one "
                               "that outlives it.", {"expires_at": [f"at most {limit}"]})
    # Read from the database: a caller's Organization instance may predate an admin's change of the limit.
    days = Organization.objects.filter(pk=org.pk).values_list("token_max_lifetime_days", flat=True).first()
    if days:
        latest = timezone.now() + timedelta(days=days)
        if expires_at is None or expires_at > latest:
            raise ServiceError(400, "invalid", f"expires_at is required and may be at most {days} days from now "
                               f"(the maximum token lifetime of {org.slug}).",
                               {"expires_at": [f"at most {latest.isoformat()}"]})


@transaction.atomic
def create_api_token(org: Organization, user: Any, name: str, scope: str = TokenScope.READ,
                     expires_at: datetime | None = None, *, actor: Actor | None = None,
                     via_token: ApiToken | None = None) -> tuple[ApiToken, str]:
    """`via_token` is the token the request authenticated with, if any: the new one may not outlive it."""
    if scope not in TokenScope.values:
        raise ServiceError(400, "invalid", "scope must be read or write.")
    if not Membership.objects.for_org(org).filter(user=user).exists() and not user.is_staff:
        raise ServiceError(400, "not_member", f"{user.email} is not a member of {org.slug}.")
    check_token_expiry(org, expires_at, via_token)
    secret, lookup, hashed = ApiToken.new_secret()
    token = ApiToken.objects.create(org=org, user=user, name=name, scope=scope, lookup=lookup,
                                    secret_hash=hashed, expires_at=expires_at)
    audit.record(actor or Actor.of(user, org), "create", token, {"name": name, "scope": scope, "user": user.email})
    return token, secret


@transaction.atomic
def create_ingest_token(org: Organization, name: str = "ingest", *,
                        actor: Actor | None = None) -> tuple[IngestToken, str]:
    secret, lookup, hashed = IngestToken.new_secret()
    token = IngestToken.objects.create(org=org, name=name, lookup=lookup, secret_hash=hashed)
    audit.record(actor, "create", token, {"name": name})
    return token, secret


@transaction.atomic
def revoke_token(token: ApiToken | IngestToken, *, actor: Actor | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor, "revoke", token, {"name": token.name})
