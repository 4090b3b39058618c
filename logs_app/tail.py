"""Live tail: the records newer than a cursor, as one page (polling API) or as a server-sent event stream.

The stream polls the store once a second and ends after a bounded time; the browser's EventSource then
reconnects by itself with `Last-Event-ID` (the cursor), so a connection never pins a worker for long and
no record between two connections is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from logs_app.exports.services import check_query
from portal.errors import ServiceError
from portal.tenancy.models import Organization

STREAM_SECONDS = 25.0
POLL_SECONDS = 1.0


def record_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "time": r.time.isoformat(), "level": r.level, "service": r.service, "body": r.body,
        "trace_id": r.trace_id, "span_id": r.span_id, "correlation_id": r.correlation_id,
        "user_id": r.user_id, "resource": r.resource, "attributes": r.attributes,
    }


def next_page(org: Organization, query: str, cursor: str | None, limit: int = 200) -> dict[str, Any]:
    """Records of `org` newer than `cursor` (none: a cursor at "now" and no records)."""
    from logs_app.query.errors import QueryError
    from logs_app.store import get_store
    from logs_app.store.records import CursorError

    check_query(query)
    try:
        page = get_store().tail(org, query, cursor or None, limit=limit)
    except CursorError as e:
        # A cursor of another org is rejected the same way as a broken one: it reveals nothing.
        raise ServiceError(404, "not_found", "Unknown tail cursor.") from e
    except QueryError as e:
        raise ServiceError(400, "bad_query", f"Invalid search: {e}", e.details()) from e
    return {"records": [record_json(r) for r in page.records], "cursor": page.next_cursor}


def stream(org: Organization, query: str, cursor: str | None, seconds: float = STREAM_SECONDS) -> Iterator[str]:
    """Server-sent events: a `records` event (id = the new cursor) whenever records arrive, a comment as
    heartbeat otherwise. The first page is fetched before streaming starts, so a bad query or cursor is a
    plain 4xx rather than a broken stream."""
    page = next_page(org, query, cursor)

    def events() -> Iterator[str]:
        nonlocal page
        deadline = time.monotonic() + seconds
        yield "retry: 1000\n\n"
        while True:
            if page["records"]:
                yield f"id: {page['cursor']}\nevent: records\ndata: {json.dumps(page['records'])}\n\n"
            else:
                yield f"id: {page['cursor']}\n: waiting\n\n"
            if time.monotonic() >= deadline:
                return
            time.sleep(POLL_SECONDS)
            page = next_page(org, query, page["cursor"])

    return events()
