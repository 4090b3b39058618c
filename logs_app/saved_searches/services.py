"""Writes of saved searches: the query must parse, the window be a duration within retention, the name unique
in the org; the creator is whoever saves it first."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings

from logs_app import services as search_services
from logs_app.query import QueryError, parse, split_org_terms
from logs_app.query.sql import POSTGRES, Compiler
from logs_app.saved_searches.models import SavedSearch
from portal.errors import ServiceError
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization
from portal.tenancy.writes import ModelWrites

_WINDOW = re.compile(r"^([1-9]\d{0,5})([smhdw])\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window_span(window: str) -> timedelta:
    """The window as a duration; ServiceError (400, field `window`) unless it is `<n><s|m|h|d|w>` within the
    longest search range (retention plus a day)."""
    m = _WINDOW.match(window or "")
    if m is None:
        raise ServiceError(400, "invalid", "window is a duration such as 15m, 1h, 24h or 7d.", {"field": "window"})
    span = timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    longest = timedelta(days=int(getattr(settings, "LOGS_MAX_RETENTION_DAYS", 90)) + 1)
    if span > longest:
        raise ServiceError(400, "invalid", f"window is longer than the longest search ({longest.days} days).",
                           {"field": "window"})
    return span


def check_query(query: str) -> None:
    """The saved query must be one a search accepts (org= terms are the searcher's business, not saved)."""
    try:
        node, org_terms = split_org_terms(parse(query or ""))
        Compiler(POSTGRES).compile(node)  # what only compiling finds (an unknown level)
    except QueryError as e:
        raise search_services.query_error(e, query) from e
    if org_terms:
        raise ServiceError(400, "invalid_query", "A saved search cannot name an organization (org=).",
                           {"query": query, "position": org_terms[0].position})


class SavedSearchWrites(ModelWrites[SavedSearch]):
    def create(self, actor: Actor, org: Organization, data: dict[str, Any]) -> SavedSearch:
        return super().create(actor, org, {**data, "created_by": actor.user})

    def save(self, obj: SavedSearch, data: dict[str, Any]) -> None:
        self.assign(obj, data)
        check_query(obj.query)
        window_span(obj.window)
        duplicate = SavedSearch.objects.for_org(obj.org).filter(name=obj.name).exclude(pk=obj.pk).exists()
        if duplicate:
            raise ServiceError(400, "exists", f"A saved search named {obj.name!r} already exists.",
                               {"field": "name"})
        obj.save()


SAVED_SEARCHES = SavedSearchWrites(SavedSearch)
