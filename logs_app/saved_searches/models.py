"""Saved log searches: a named query and time window, shared by everyone in the org."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from portal.tenancy.scoping import OrgOwned


class SavedSearch(OrgOwned):
    """A logs-explorer search the org keeps: opening it runs `query` over the last `window`."""

    name = models.CharField(max_length=200)
    query = models.CharField(max_length=4000, blank=True)
    window = models.CharField(max_length=16, default="1h", help_text="How far back from now: 15m, 1h, 24h, 7d.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "name"], name="logs_savedsearch_org_name"),
        ]

    def __str__(self) -> str:
        return self.name
