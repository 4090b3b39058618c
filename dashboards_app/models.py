"""Org dashboards, their version history, and each user's Explore query history."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models

from portal.tenancy.scoping import OrgManager, OrgOwned


def new_uid() -> str:
    return secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")[:12]


class Dashboard(OrgOwned):
    """The current state of one org dashboard; `spec` is the canonical document (see spec.py).

    title/description/tags are copies of the spec's, kept for listing and search without JSON lookups.
    """

    uid = models.CharField(max_length=40, default=new_uid, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    spec = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=200, blank=True, default="",
                              help_text="Where it came from: '', 'grafana:<uid>', 'builtin:<slug>', 'import'.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgManager["Dashboard"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["title", "id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "title"])]

    def __str__(self) -> str:
        return self.title


class DashboardVersion(OrgOwned):
    """One saved state; every save (create, update, restore, import) appends one."""

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    message = models.CharField(max_length=300, blank=True, default="")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgManager["DashboardVersion"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-version"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["dashboard", "version"], name="dashboard_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dashboard_id} v{self.version}"


class QueryHistory(OrgOwned):
    """A PromQL query a user ran in Explore, per org and per user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    query = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgManager["QueryHistory"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "user", "-created_at"])]

    def __str__(self) -> str:
        return self.query[:60]




class ModelPrice(models.Model):
    """What one model costs per 1,000 tokens, in USD: a platform-wide table kept by staff.

    Not org-owned (every org pays the same list price), so it has no `org` and no OrgManager; members read it,
    only staff write it (dashboards_app/prices/). Spend is computed in PromQL from it (dashboards_app/pricing.py).
    """

    model = models.CharField(max_length=200, unique=True,
                             help_text="The gen_ai_request_model label value, e.g. gpt-4o.")
    usd_per_1k_input = models.DecimalField(max_digits=12, decimal_places=6)
    usd_per_1k_output = models.DecimalField(max_digits=12, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["model"]

    def __str__(self) -> str:
        return self.model
