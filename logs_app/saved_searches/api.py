"""REST endpoints of saved searches (`/api/v1/logs/saved-searches/`): every member reads them, editors
create, rename and delete them (the org's default role rule)."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from logs_app.saved_searches.models import SavedSearch
from logs_app.saved_searches.services import SAVED_SEARCHES
from portal.tenancy.api_base import OrgScopedViewSet


class SavedSearchSerializer(serializers.ModelSerializer[SavedSearch]):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = SavedSearch
        fields: ClassVar[list[str]] = ["id", "name", "query", "window", "created_by", "created_at", "updated_at"]
        read_only_fields: ClassVar[list[str]] = ["created_by", "created_at", "updated_at"]
        # Uniqueness per org is checked by the write service (the org is not a field of the request).
        validators: ClassVar[list[Any]] = []

    def get_created_by(self, obj: SavedSearch) -> str | None:
        return obj.created_by.email if obj.created_by else None


class SavedSearchViewSet(OrgScopedViewSet):
    """The org's saved log searches (name, query, window)."""

    model = SavedSearch
    serializer_class = SavedSearchSerializer
    writes = SAVED_SEARCHES
    lookup_value_regex = r"\d+"

    def scope_queryset(self, qs: Any) -> Any:
        return qs.select_related("created_by")
