"""Every `code` the JSON error shape (portal/errors.py) may carry, with its HTTP status and meaning.

The list is closed: tests fail on a code that is not here (a static scan of the sources and a check of
every error the suite emits), and docs/api-errors.md is generated from it
(`python -m portal.error_codes --write-docs`). A condition has one code and one status in every app.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


class ErrorCode(NamedTuple):
    status: int | None  # None: the generic fallback, which keeps the status of the response it replaces
    meaning: str


CODES: dict[str, ErrorCode] = {
    # -- the request itself ----------------------------------------------------------------------------
    "invalid": ErrorCode(400, "A field of the request failed validation; `details.field` names it."),
    "invalid_param": ErrorCode(400, "A query parameter is missing, repeated with different values or "
                                    "malformed; `details.param` names it."),
    "invalid_time": ErrorCode(400, "A time parameter is not a time (RFC 3339, Unix seconds, `now-1h`)."),
    "invalid_range": ErrorCode(400, "The start of a time range is not before its end."),
    "range_too_large": ErrorCode(400, "The time range is longer than the longest one allowed for this search."),
    "invalid_duration": ErrorCode(400, "A duration (step, interval, `for`) is not a positive duration like `5m`."),
    "invalid_limit": ErrorCode(400, "A limit or page size is not an integer in the allowed range."),
    "invalid_cursor": ErrorCode(400, "A pagination or tail cursor is malformed."),
    "invalid_promql": ErrorCode(400, "A PromQL query does not parse (or is too long); "
                                     "`details.position` points at the error."),
    "foreign_org_matcher": ErrorCode(400, "A PromQL query names another organization; `details.matcher` "
                                          "is the matcher."),
    "invalid_query": ErrorCode(400, "A log or trace search does not parse; `details.position` points at "
                                    "the error."),
    "invalid_trace_id": ErrorCode(400, "A trace id is not 32 hexadecimal characters."),
    "invalid_variable": ErrorCode(400, "A dashboard variable value cannot be substituted safely."),
    "invalid_dashboard": ErrorCode(400, "A dashboard definition (or Grafana import) is malformed; "
                                        "`details.field` names the first bad field."),
    "invalid_panel": ErrorCode(400, "A panel reference is not a panel id of the dashboard."),
    "invalid_silence": ErrorCode(400, "Alertmanager rejected the silence (matchers, times)."),
    "invalid_rule_file": ErrorCode(400, "An imported rule file is not YAML, not a Prometheus rule file, or "
                                        "`promtool check rules` rejects it."),
    "forbidden_target": ErrorCode(400, "An outbound URL (channel, scrape target) points at an address the "
                                       "outbound guard refuses; `details.reason` says why."),
    "unresolvable": ErrorCode(400, "The host of an outbound URL does not resolve."),
    "parse_error": ErrorCode(400, "The request body cannot be decoded: malformed JSON, protobuf or "
                                  "compression."),
    "bad_request": ErrorCode(400, "Django refused the request before any view ran (e.g. a bad Host header "
                                  "or too many fields)."),
    "exists": ErrorCode(400, "An object with this unique name already exists."),
    "last_admin": ErrorCode(400, "The change would leave the organization without an admin."),
    "not_member": ErrorCode(400, "The user is not a member of the organization."),
    "partially_rejected": ErrorCode(400, "Some samples of a remote-write request were refused (the rest "
                                         "were written); `details.reasons` counts them."),
    "backend_rejected": ErrorCode(400, "The metrics backend refused the query as invalid (its own 400/422); "
                                       "the message is the backend's."),
    # -- who is asking ----------------------------------------------------------------------------------
    "not_authenticated": ErrorCode(401, "No credentials were sent (no session, no token)."),
    "authentication_failed": ErrorCode(401, "The credentials sent (API, ingest or hook token) are wrong, "
                                            "expired or revoked."),
    "permission_denied": ErrorCode(403, "Authenticated, but the role or token scope does not allow this "
                                        "(or the CSRF check failed)."),
    "not_found": ErrorCode(404, "No such object in your organization, or no such endpoint."),
    "method_not_allowed": ErrorCode(405, "The HTTP method is not allowed on this endpoint."),
    "not_acceptable": ErrorCode(406, "No representation matches the Accept header."),
    # -- state ------------------------------------------------------------------------------------------
    "version_conflict": ErrorCode(409, "The object changed since the version the edit was based on."),
    "quota_exceeded": ErrorCode(409, "The organization already has as many of these as allowed."),
    "finished": ErrorCode(409, "The export has already finished, failed or been cancelled."),
    "running": ErrorCode(409, "The export is still running; cancel it first."),
    "no_prices": ErrorCode(409, "Spend cannot be computed: the staff model price table is empty."),
    "body_too_large": ErrorCode(413, "The request body is larger than the configured limit."),
    "unsupported_media_type": ErrorCode(415, "The Content-Type is not one this endpoint reads."),
    "unsupported_encoding": ErrorCode(415, "The Content-Encoding is not one this endpoint reads."),
    "limit_exceeded": ErrorCode(422, "A configured query limit was hit; `details.limit` names it and "
                                     "`details.value` is its value."),
    "rate_limited": ErrorCode(429, "Too many requests or samples for this organization; retry after "
                                   "`Retry-After`."),
    "queue_full": ErrorCode(429, "The forwarding queue is full; retry after `Retry-After`."),
    # -- the portal and its backends --------------------------------------------------------------------
    "server_error": ErrorCode(500, "A bug in the portal; it has been logged."),
    "backend_error": ErrorCode(502, "A backend answered with an error or something unreadable; "
                                    "`details.backend` names it."),
    "relay_failed": ErrorCode(502, "A notification relayed from Alertmanager could not be delivered "
                                   "(Alertmanager retries)."),
    "backend_unavailable": ErrorCode(503, "A backend (metrics, Alertmanager, the database) is down or "
                                          "unreachable; `details.backend` names it."),
    "backend_not_configured": ErrorCode(503, "This installation has no such backend configured; "
                                             "`details.backend` names it."),
    "backend_timeout": ErrorCode(504, "A backend did not answer in time; `details.backend` names it."),
    "query_timeout": ErrorCode(504, "A log or trace search ran past its time budget and was stopped."),
    "error": ErrorCode(None, "Any other HTTP error without a more specific code; the status is the "
                             "response's."),
}

# Codes DRF produces under another name for a condition that already has a code here.
DRF_ALIASES: dict[str, str] = {"throttled": "rate_limited"}

BACKEND_PROMETHEUS = "prometheus"  # details.backend of every metrics backend (Prometheus API, remote write)

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "api-errors.md"
TABLE_START = "<!-- error-codes:start (generated by `python -m portal.error_codes --write-docs`) -->"
TABLE_END = "<!-- error-codes:end -->"

_observers: list[Callable[[int, str], None]] = []


def observe(observer: Callable[[int, str], None]) -> Callable[[], None]:
    """Call `observer(status, code)` for every error built (tests use it); returns the unsubscribe."""
    _observers.append(observer)
    return lambda: _observers.remove(observer)


def emitted(status: int, code: str) -> None:
    for observer in list(_observers):
        observer(status, code)


def problem(status: int, code: str) -> str | None:
    """Why (status, code) is not a registered pair, or None when it is."""
    entry = CODES.get(code)
    if entry is None:
        return f"error code {code!r} is not registered in portal/error_codes.py"
    if entry.status is not None and entry.status != status:
        return f"error code {code!r} is registered with status {entry.status}, emitted with {status}"
    return None


def render_table() -> str:
    rows = ["| code | status | meaning |", "|---|---|---|"]
    for code, entry in sorted(CODES.items(), key=lambda kv: (kv[1].status or 999, kv[0])):
        rows.append(f"| `{code}` | {entry.status if entry.status is not None else 'any'} | {entry.meaning} |")
    return "\n".join([TABLE_START, *rows, TABLE_END])


def documented_table(text: str) -> str:
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    return text[start:end]


def write_docs(path: Path = DOC_PATH) -> None:
    text = path.read_text()
    path.write_text(text.replace(documented_table(text), render_table()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-docs"]:
        write_docs()
    else:
        sys.stdout.write(render_table() + "\n")
