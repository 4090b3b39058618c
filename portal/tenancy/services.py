"""Org, membership and token changes. Every change is atomic and audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from portal.errors import ServiceError
from portal.tenancy import audit
from portal.tenancy.models import ApiToken, IngestToken, Membership, Organization, Role, TokenScope

User = get_user_model()


@transaction.atomic
def create_org(slug: str, name: str = "", label_value: str = "", *, request: Any = None,
               actor: Any = None) -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise ServiceError(400, "exists", f"An organization with slug {slug!r} already exists.")
    org = Organization(slug=slug, name=name or slug, label_value=label_value or slug)
    org.full_clean()
    org.save()
    audit.record(request, "create", org, audit.snapshot(org), actor=actor)
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
               request: Any = None, actor: Any = None) -> Membership:
    if role not in Role.values:
        raise ServiceError(400, "invalid", f"role must be one of {', '.join(Role.values)}.")
    user = get_or_create_user(email, password)
    membership, created = Membership.objects.for_org(org).get_or_create(user=user, org=org, defaults={"role": role})
    if not created and membership.role != role:
        return change_role(membership, role, request=request, actor=actor)
    if created:
        audit.record(request, "create", membership, {"email": user.email, "role": role}, org=org, actor=actor)
    return membership


def _other_admins(membership: Membership) -> bool:
    return Membership.objects.for_org(membership.org).filter(role=Role.ADMIN).exclude(pk=membership.pk).exists()


@transaction.atomic
def change_role(membership: Membership, role: str, *, request: Any = None, actor: Any = None) -> Membership:
    if role not in Role.values:
        raise ServiceError(400, "invalid", f"role must be one of {', '.join(Role.values)}.")
    # Lock the org's admin rows so two concurrent demotions cannot both pass the last-admin check.
    list(Membership.objects.for_org(membership.org).select_for_update().filter(role=Role.ADMIN))
    if membership.role == Role.ADMIN and role != Role.ADMIN and not _other_admins(membership):
        raise ServiceError(400, "last_admin", "The last admin of an organization cannot be demoted.")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(request, "update", membership, {"role": {"from": before, "to": role}}, org=membership.org,
                 actor=actor)
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, request: Any = None, actor: Any = None) -> None:
    list(Membership.objects.for_org(membership.org).select_for_update().filter(role=Role.ADMIN))
    if membership.role == Role.ADMIN and not _other_admins(membership):
        raise ServiceError(400, "last_admin", "The last admin of an organization cannot be removed.")
    audit.record(request, "delete", membership, {"email": membership.user.email}, org=membership.org, actor=actor)
    membership.delete()
    # The user's tokens for this org die with the membership.
    ApiToken.objects.for_org(membership.org).filter(user=membership.user, revoked_at=None).update(
        revoked_at=timezone.now())


@transaction.atomic
def create_api_token(org: Organization, user: Any, name: str, scope: str = TokenScope.READ,
                     expires_at: datetime | None = None, *, request: Any = None,
                     actor: Any = None) -> tuple[ApiToken, str]:
    if scope not in TokenScope.values:
        raise ServiceError(400, "invalid", "scope must be read or write.")
    if not Membership.objects.for_org(org).filter(user=user).exists() and not user.is_staff:
        raise ServiceError(400, "not_member", f"{user.email} is not a member of {org.slug}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError(400, "invalid", "expires_at must be in the future.")
    secret, lookup, hashed = ApiToken.new_secret()
    token = ApiToken.objects.create(org=org, user=user, name=name, scope=scope, lookup=lookup,
                                    secret_hash=hashed, expires_at=expires_at)
    audit.record(request, "create", token, {"name": name, "scope": scope, "user": user.email},
                 actor=actor or user)
    return token, secret


@transaction.atomic
def create_ingest_token(org: Organization, name: str = "ingest", *, request: Any = None,
                        actor: Any = None) -> tuple[IngestToken, str]:
    secret, lookup, hashed = IngestToken.new_secret()
    token = IngestToken.objects.create(org=org, name=name, lookup=lookup, secret_hash=hashed)
    audit.record(request, "create", token, {"name": name}, actor=actor)
    return token, secret


@transaction.atomic
def revoke_token(token: ApiToken | IngestToken, *, request: Any = None, actor: Any = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(request, "revoke", token, {"name": token.name}, actor=actor)
