"""Where to go from an alert: its rule, its expression in Explore at the firing time, and the logs, traces
and page of the service it is about, around the time it fired.

Every link is a path in the alert's own org (`/o/<org>/…`) carrying its whole state in the query string,
so a copied link opens the same view for another member of the org, and a 404 for anyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts_app.models import Rule, RuleKind
from portal.tenancy.models import Organization

AROUND = timedelta(minutes=15)  # logs and traces from this long before the alert started …
AFTER = timedelta(minutes=15)  # … to this long after (or now, if sooner)
SERVICE_LABELS = ("service", "service_name", "job")


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        parsed = parse_datetime(value.replace("Z", "+00:00"))
        if parsed is not None and parsed.year > 1:  # Alertmanager's "0001-01-01T00:00:00Z" means unset
            return parsed
    return None


def _search_value(value: str) -> str:
    """A value for the log search language, quoted unless it is a plain word (as the UI's searchValue)."""
    if value and all(c.isalnum() or c in "._/:{}-" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rules_of(org: Organization, alerts: Iterable[Mapping[str, Any]]) -> dict[str, Rule]:
    """The org's rules the alerts name (by their `portal_rule` label), in one query."""
    ids = {str((a.get("labels") or {}).get("portal_rule", "")) for a in alerts}
    ids = {i for i in ids if i.isdigit()}
    return {str(r.pk): r for r in Rule.objects.for_org(org).filter(pk__in=ids)} if ids else {}


def for_alert(org: Organization, labels: Mapping[str, Any], starts_at: Any, rules: Mapping[str, Rule],
              ends_at: Any = None) -> dict[str, str]:
    """name → link, only for what the alert has (a rule of this org, a service label, a start time)."""
    from alerts_app.validation import rule_expression

    base = f"/o/{org.slug}"
    links: dict[str, str] = {}
    start, end = _time(starts_at), _time(ends_at)
    window_start = window_end = timezone.now()
    if start is not None:
        window_start = start - AROUND
        window_end = min(window_end, (end if end is not None and end > start else start) + AFTER)
    rule = rules.get(str(labels.get("portal_rule", "")))
    if rule is not None:
        links["rule"] = f"{base}/alerts/rules/{rule.pk}/"
        if rule.kind != RuleKind.LOG and start is not None:
            params = {"query": rule_expression(org, rule), "from": str(int(window_start.timestamp())),
                      "to": str(int(window_end.timestamp()))}
            links["explore"] = f"{base}/explore/?{urlencode(params)}"
    service = next((str(labels[k]) for k in SERVICE_LABELS if labels.get(k)), "")
    if service:
        links["service"] = f"{base}/services/{quote(service, safe='')}/"
        if start is not None:
            window = {"start": window_start.isoformat(), "end": window_end.isoformat()}
            links["logs"] = f"{base}/logs/?{urlencode({'q': 'service=' + _search_value(service), **window})}"
            links["traces"] = f"{base}/traces/?{urlencode({'service': service, 'errors': '1', **window})}"
    return links
