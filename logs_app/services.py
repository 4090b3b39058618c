"""Log and trace search for an org: query/org resolution, time ranges and store calls.

Views parse the request and call one function here; every error is a ServiceError in the one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from logs_app.query import QueryError, parse, split_org_terms
from logs_app.query.ast import Node
from logs_app.store import get_store
from logs_app.store.records import CursorError, ForeignCursorError, HistogramBucket, LogPage, Trace, TraceSummary
from portal.core import params
from portal.errors import ServiceError
from portal.tenancy.context import OrgContext
from portal.tenancy.models import Organization

MAX_LIMIT = 1000
MAX_BUCKETS = 500
_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}\Z")


@dataclass(frozen=True)
class Search:
    """A validated search: the org it runs in, the parsed query (org= terms removed), the range."""

    org: Organization
    query: Node
    start: datetime
    end: datetime


def time_range(start: str | None, end: str | None, default_span: timedelta = timedelta(hours=1)
               ) -> tuple[datetime, datetime]:
    """A search window, at most the retention period (plus a day) long."""
    max_days = int(getattr(settings, "LOGS_MAX_RETENTION_DAYS", 90)) + 1
    r = params.time_range(start, end, default_span=default_span, max_span=timedelta(days=max_days))
    return r.start, r.end


def query_error(e: QueryError, query: str) -> ServiceError:
    details = e.details()
    details["query"] = query
    details["caret"] = " " * e.position + "^"
    return ServiceError(400, "invalid_query", e.message, details)


def resolve(ctx: OrgContext, q: str, start: str | None, end: str | None) -> Search:
    """Parse the query and decide its org: the caller's own; staff may pick another with `org=`.

    An org user naming another org gets 404, as for any other org's object (it "does not exist")."""
    if "\x00" in (q or ""):
        raise query_error(QueryError("The query contains a NUL character", q.index("\x00"), q), q)
    try:
        node, org_terms = split_org_terms(parse(q or ""))
    except QueryError as e:
        raise query_error(e, q) from e
    org = ctx.org
    values = {t.value for t in org_terms}
    if len(values) > 1:
        raise ServiceError(400, "invalid_query", "Only one org= value per search.")
    if values:
        wanted = values.pop()
        if wanted not in (ctx.org.slug, ctx.org.label_value):
            found = Organization.objects.filter(Q(slug=wanted) | Q(label_value=wanted)).first()
            if not ctx.is_staff or found is None:
                raise ServiceError(404, "not_found", "Organization not found.")
            org = found
    start_t, end_t = time_range(start, end)
    return Search(org, node, start_t, end_t)


def _store_call(q: str, fn: object, *args: object, **kwargs: object) -> object:
    try:
        return fn(*args, **kwargs)  # type: ignore[operator]
    except QueryError as e:
        raise query_error(e, q) from e
    except ForeignCursorError as e:
        raise ServiceError(404, "not_found", "Unknown cursor.") from e
    except CursorError as e:
        raise ServiceError(400, "invalid_cursor", str(e)) from e


def search_logs(ctx: OrgContext, q: str, start: str | None, end: str | None, limit: int,
                cursor: str | None) -> tuple[Search, LogPage]:
    s = resolve(ctx, q, start, end)
    page = _store_call(q, get_store().search, s.org, s.query, s.start, s.end, limit=limit, cursor=cursor or None)
    assert isinstance(page, LogPage)
    return s, page


def histogram(ctx: OrgContext, q: str, start: str | None, end: str | None,
              buckets: int) -> tuple[Search, list[HistogramBucket]]:
    s = resolve(ctx, q, start, end)
    result = _store_call(q, get_store().histogram, s.org, s.query, s.start, s.end, buckets=buckets)
    assert isinstance(result, list)
    return s, result


def search_traces(ctx: OrgContext, q: str, start: str | None, end: str | None,
                  limit: int) -> tuple[Search, list[TraceSummary]]:
    s = resolve(ctx, q, start, end)
    result = _store_call(q, get_store().search_traces, s.org, s.query, s.start, s.end, limit=limit)
    assert isinstance(result, list)
    return s, result


def get_trace(org: Organization, trace_id: str) -> Trace:
    if not _TRACE_ID.match(trace_id):
        raise ServiceError(400, "invalid_trace_id", "A trace id is 32 hexadecimal characters.")
    trace = get_store().get_trace(org, trace_id)
    if trace is None:
        raise ServiceError(404, "not_found", "Trace not found.")
    return trace


def exceptions(ctx: OrgContext, q: str, start: str | None, end: str | None, buckets: int) -> tuple[Search, object]:
    """Exception span events of the window grouped by type and service (logs_app/store/exceptions.py)."""
    from logs_app.store.exceptions import find_exceptions

    s = resolve(ctx, q, start, end)
    return s, _store_call(q, find_exceptions, get_store(), s.org, s.query, s.start, s.end, buckets=buckets)
