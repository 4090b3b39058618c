"""Live tail: the records newer than a cursor, as one page (polling API) or as a server-sent event stream.

The stream polls the store once a second and ends after a bounded time; the browser's EventSource then
reconnects by itself with `Last-Event-ID` (the cursor), so a connection never pins a worker for long and
no record between two connections is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

from logs_app.exports.services import check_query
from logs_app.record_json import log_json
from portal.errors import ServiceError
from portal.tenancy.models import Organization

STREAM_SECONDS = 25.0
POLL_SECONDS = 1.0


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
        raise ServiceError(400, "invalid_query", f"Invalid search: {e}", e.details()) from e
    return {"records": [log_json(r) for r in page.records], "cursor": page.next_cursor}


def recheck_seconds() -> float:
    """How often an open stream re-checks that its viewer may still read the org."""
    return float(settings.LOGS_TAIL_RECHECK_SECONDS)


def stream(org: Organization, query: str, cursor: str | None, seconds: float = STREAM_SECONDS,
           still_allowed: Callable[[], bool] | None = None) -> Iterator[str]:
    """Server-sent events: a `records` event (id = the new cursor) whenever records arrive, a comment as
    heartbeat otherwise. The first page is fetched before streaming starts, so a bad query or cursor is a
    plain 4xx rather than a broken stream. Every `recheck_seconds()` the stream asks `still_allowed`; once
    the viewer's access has ended (removed from the org, logged out) it sends an `end` event and closes,
    and the browser's reconnect is refused."""
    page = next_page(org, query, cursor)
    every = recheck_seconds()

    def events() -> Iterator[str]:
        nonlocal page
        deadline = time.monotonic() + seconds
        next_check = time.monotonic() + every
        yield "retry: 1000\n\n"
        while True:
            if still_allowed is not None and time.monotonic() >= next_check:
                if not still_allowed():
                    yield 'event: end\ndata: {"reason": "access ended"}\n\n'
                    return
                next_check = time.monotonic() + every
            if page["records"]:
                yield f"id: {page['cursor']}\nevent: records\ndata: {json.dumps(page['records'])}\n\n"
            else:
                yield f"id: {page['cursor']}\n: waiting\n\n"
            if time.monotonic() >= deadline:
                return
            time.sleep(min(POLL_SECONDS, every))
            page = next_page(org, query, page["cursor"])

    return events()
