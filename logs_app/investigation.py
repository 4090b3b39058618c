"""Security investigation: one timeline per user, client address or API key, from the org's security log
records and the portal's own audit log; and the record of platform staff's access to an org.

A timeline merges, newest first:
- log records matching SECURITY_EVENTS_QUERY (auth failures by default) whose user / address / key
  attribute is the subject's, read through the store's search (the org condition as for any search);
- audit entries of the org about the subject: its changes, token creation, use and revocation, exports
  downloaded, staff access; and the account events the portal records without an org (logins and failed
  logins, security_events.py), but only for accounts that are members of the org, so an org admin cannot
  probe other orgs' users or addresses.

Org admins see their org. Staff see the same across every org (`org=None`), the only cross-org path.
The query for the subject is built as a syntax tree (never by pasting the value into query text), so a
value cannot change the query's shape.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from logs_app.query import QueryError, parse
from logs_app.query.ast import And, Field, Node, Or
from logs_app.store import get_store
from portal.errors import ServiceError
from portal.tenancy.models import ApiToken, AuditEntry, Membership, Organization
from portal.tenancy.security_events import CROSS_ORG_QUERY, LOGIN, LOGIN_FAILED, STAFF_ACCESS

SUBJECTS = ("user", "ip", "key")
MAX_EVENTS = 500  # per source: a timeline is for reading, the export has the same bound and says so
MAX_ORGS = 50  # staff's cross-org timeline reads at most this many orgs' logs


@dataclass
class Event:
    time: datetime
    source: str  # "log" | "audit"
    kind: str  # the audit action or "auth_failure"-style log event
    org: str
    actor: str
    ip: str
    summary: str
    trace_id: str = ""
    record_id: str = ""
    token_id: int | None = None  # the API token the event is about (the page offers to revoke it)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    subject: str
    value: str
    start: datetime
    end: datetime
    events: list[Event]
    truncated: bool


def _subject_query(subject: str, value: str) -> Node:
    if subject == "user":
        names = ["user"]  # the search language's user field: every LOGS_USER_ATTRIBUTES attribute
    elif subject == "ip":
        names = list(settings.SECURITY_IP_ATTRIBUTES)
    else:
        names = list(settings.SECURITY_KEY_ATTRIBUTES)
    fields = tuple(Field(name, "=", value, 0) for name in names)
    return fields[0] if len(fields) == 1 else Or(fields)


def _events_query() -> Node:
    try:
        return parse(settings.SECURITY_EVENTS_QUERY)
    except QueryError as e:  # a deployment's setting, not the caller's input
        raise ServiceError(500, "server_error", f"SECURITY_EVENTS_QUERY is not a valid search: {e}") from e


def _log_events(org: Organization, subject: str, value: str, start: datetime, end: datetime) -> list[Event]:
    query = And((_events_query(), _subject_query(subject, value)))
    page = get_store().search(org, query, start, end, limit=MAX_EVENTS)
    out = []
    for r in page.records:
        attrs = r.attributes or {}
        ip = next((str(attrs[k]) for k in settings.SECURITY_IP_ATTRIBUTES if attrs.get(k)), "")
        kind = str(attrs.get("event") or ("auth_failure" if "auth_failure" in r.body else r.level))
        out.append(Event(r.time, "log", kind, org.slug, r.user_id, ip, f"{r.service}: {r.body}"[:500],
                         trace_id=r.trace_id, record_id=r.id))
    return out


def _members(org: Organization) -> QuerySet[Any]:
    return get_user_model().objects.filter(pk__in=Membership.objects.for_org(org).values("user_id"))


def _audit_rows(org: Organization | None, subject: str, value: str, start: datetime,
                end: datetime) -> QuerySet[AuditEntry]:
    base = AuditEntry.objects.all_orgs().select_related("org", "actor").filter(created_at__gte=start,
                                                                               created_at__lt=end)
    if subject == "user":
        about = Q(actor__email__iexact=value) | Q(actor_label__iexact=value) | \
            Q(object_type="user", object_repr__iexact=value) | Q(changes__email__iexact=value)
    elif subject == "ip":
        about = Q(ip=value)
    else:
        about = Q(object_type="apitoken", object_id=value) if value.isdigit() else Q(pk__in=[])
    rows = base.filter(about)
    if org is None:
        return rows
    # The org's own rows, and account events (no org) of its members only.
    members = _members(org)
    account = Q(org=None, action__in=[LOGIN, LOGIN_FAILED]) & (
        Q(actor__in=members) | Q(object_type="user", object_id__in=[str(pk) for pk in members.values_list(
            "pk", flat=True)]))
    return rows.filter(Q(org=org) | account)


def _audit_event(e: AuditEntry) -> Event:
    changes = e.changes if isinstance(e.changes, dict) else {}
    token_id = int(e.object_id) if e.object_type == "apitoken" and e.object_id.isdigit() else None
    what = f"{e.action} {e.object_type} {e.object_repr}".strip()
    if e.action in (STAFF_ACCESS, CROSS_ORG_QUERY) and changes.get("reason"):
        what += f" (reason: {changes['reason']})"
    return Event(e.created_at, "audit", e.action, e.org.slug if e.org else "", e.actor_label,
                 str(e.ip or ""), what[:500], token_id=token_id,
                 details={k: v for k, v in changes.items() if k in ("path", "name", "username", "reason")})


def timeline(org: Organization | None, subject: str, value: str, start: datetime, end: datetime) -> Timeline:
    """The subject's events in [start, end), newest first. `org=None`: every org (staff only)."""
    value = value.strip()
    if subject not in SUBJECTS:
        raise ServiceError(400, "invalid", f"subject must be one of {', '.join(SUBJECTS)}.",
                           {"param": "subject"})
    if not value or len(value) > 254 or any(c in value for c in "\x00\r\n"):
        raise ServiceError(400, "invalid", "Give the user, address or key to investigate as value= "
                           "(1-254 characters on one line).", {"param": "value"})
    orgs = [org] if org is not None else list(Organization.objects.order_by("slug")[:MAX_ORGS])
    events: list[Event] = []
    for o in orgs:
        events += _log_events(o, subject, value, start, end)
    audit_rows = list(_audit_rows(org, subject, value, start, end)[:MAX_EVENTS + 1])
    truncated = len(audit_rows) > MAX_EVENTS or any(
        sum(1 for e in events if e.org == o.slug) >= MAX_EVENTS for o in orgs)
    events += [_audit_event(e) for e in audit_rows[:MAX_EVENTS]]
    events.sort(key=lambda e: e.time, reverse=True)
    return Timeline(subject, value, start, end, events, truncated)


def staff_access(org: Organization, start: datetime, end: datetime, limit: int = MAX_EVENTS) -> list[Event]:
    """Every access by platform staff to the org's data: `staff_access` rows of the org, and the platform-wide
    (cross-org) PromQL queries, which read every org's series. A platform-wide query is shown with who,
    when and the stated reason, without its text (it may name other orgs)."""
    rows = AuditEntry.objects.all_orgs().select_related("org", "actor").filter(
        Q(org=org, action=STAFF_ACCESS) | Q(org=None, action=CROSS_ORG_QUERY),
        created_at__gte=start, created_at__lt=end)[:limit]
    out = []
    for e in rows:
        ev = _audit_event(e)
        if e.action == CROSS_ORG_QUERY:
            reason = (e.changes or {}).get("reason", "") if isinstance(e.changes, dict) else ""
            ev.summary = f"platform-wide metrics query (reason: {reason or 'unspecified'})"
            ev.details = {"reason": reason, "endpoint": (e.changes or {}).get("endpoint", "")}
            ev.org = org.slug
        out.append(ev)
    return out


def token_of(org: Organization, token_id: int) -> ApiToken | None:
    return ApiToken.objects.for_org(org).filter(pk=token_id).first()


CSV_COLUMNS = ("time", "source", "kind", "org", "actor", "ip", "summary", "trace_id", "record_id", "token_id")


def to_csv(t: Timeline) -> str:
    """The timeline as CSV (formula-escaped like the log exports), newest first."""
    from logs_app.exports.writer import escape_cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for e in t.events:
        row = asdict(e)
        w.writerow([escape_cell(row["time"].isoformat()) if c == "time" else escape_cell(str(row[c] or ""))
                    for c in CSV_COLUMNS])
    if t.truncated:
        w.writerow([f"# truncated: at most {MAX_EVENTS} events per source; narrow the range"])
    return buf.getvalue()
