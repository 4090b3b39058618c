"""Organizations, memberships, tokens and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from portal.tenancy.scoping import OrgManager, OrgOwned

label_value_validator = RegexValidator(r"^[A-Za-z0-9_.:-]{1,128}\Z", "letters, digits, _ . : - only (1-128)")
label_name_validator = RegexValidator(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z", "a Prometheus label name")


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    label_value = models.CharField(
        max_length=128, unique=True, validators=[label_value_validator],
        help_text="The value this org's telemetry carries in the org label.",
    )
    label_name = models.CharField(max_length=64, default="org_id", validators=[label_name_validator])
    log_retention_days = models.PositiveIntegerField(default=14)
    token_max_lifetime_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Longest life of an API token of this org, in days; empty: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgManager["Membership"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "org"], name="membership_unique_user_org"),
        ]
        ordering: ClassVar[list[str]] = ["org__slug", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} as {self.role}"


def _hash(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; a slow KDF would only cost latency.
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"


class TokenBase(OrgOwned):
    PREFIX: ClassVar[str] = ""
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @classmethod
    def new_secret(cls) -> tuple[str, str, str]:
        """Returns (full token shown once, lookup part, hash stored)."""
        lookup = secrets.token_hex(6)
        token = f"{cls.PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
        return token, lookup, _hash(token)

    @classmethod
    def parse_lookup(cls, token: str) -> str | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != cls.PREFIX:
            return None
        return parts[1]

    def matches(self, token: str) -> bool:
        return secrets.compare_digest(self.secret_hash, _hash(token))

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}_{self.lookup}_…)"


class ApiToken(TokenBase):
    """A user's token for one org; its rights are the lesser of its scope and the user's role."""

    PREFIX = "pt"
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]


class IngestToken(TokenBase):
    """Write-only token for telemetry senders (OTLP, remote write); it grants nothing else."""

    PREFIX = "pi"

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]


class AuditEntry(models.Model):
    """Who changed what in an org's configuration. `org` is null only for platform-level changes."""

    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=16)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = OrgManager["AuditEntry"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type} {self.object_repr}"
