"""Log analytics for an org (facets, counts over time by a field): the same query/org/time-range resolution
as a search (services.resolve), then one statement in the store (store/facets.py).

Each facet value comes with the search terms that filter it in and out, spelled here (not in the browser) so
that a value with spaces, quotes or operator characters still makes a query that parses.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from logs_app import services
from logs_app.query import QueryError
from logs_app.query.sql import LOG_COLUMNS
from logs_app.store import get_store
from logs_app.store.facets import (
    DEFAULT_SAMPLE,
    DEFAULT_TOP,
    MAX_SAMPLE,
    MAX_TOP,
    Facets,
    FacetsUnsupported,
    FacetValue,
    GroupedCounts,
    InvalidField,
    facets,
    grouped_counts,
)
from portal.core import params
from portal.errors import ServiceError
from portal.tenancy.context import OrgContext

_BARE_VALUE = re.compile(r"^[A-Za-z0-9_./:{}@-]+\Z")
_NAME = re.compile(r"^[a-z_@][a-z0-9_.\-@/]*\Z")  # a field name the parser keeps as written (it lower-cases)
_PREFIXES = ("attr.", "attributes.", "resource.")


def search_value(value: str) -> str:
    """A value in the search language: bare when it is one word, else quoted with \\ and " escaped."""
    if _BARE_VALUE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def attribute_field(key: str) -> str | None:
    """How a query names attribute `key`: as itself, or `attr.<key>` when a column or `org` has that name;
    None when the language cannot name it (upper case, spaces: field names are lower-cased words)."""
    if not _NAME.match(key):
        return None
    if key in LOG_COLUMNS or key == "org" or key.startswith(_PREFIXES):
        return "attr." + key
    return key


def terms(field: str | None, value: str | None) -> dict[str, str] | None:
    """The terms that keep (`include`) or drop (`exclude`) records with `field` = `value`."""
    if field is None or value is None:
        return None
    term = f"{field}={search_value(value)}"
    return {"include": term, "exclude": "-" + term}


def _values(field: str | None, values: list[FacetValue]) -> list[dict[str, Any]]:
    return [{"value": v.value, "count": v.count, "filter": terms(field, v.value)} for v in values]


def facets_json(result: Facets) -> dict[str, Any]:
    return {
        "sample": {"limit": result.sample_limit, "records": result.sampled, "complete": result.complete},
        "service": _values("service", result.service),
        "level": _values("level", result.level),
        "attributes": [{"key": a.key, "count": a.count, "field": attribute_field(a.key),
                        "values": _values(attribute_field(a.key), a.values)} for a in result.attributes],
    }


def _store_errors(q: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except FacetsUnsupported as e:
        raise ServiceError(503, "backend_not_configured", str(e), {"backend": "logs"}) from e
    except QueryError as e:
        raise services.query_error(e, q) from e


def log_facets(ctx: OrgContext, q: str, start: str | None, end: str | None, top: str | None,
               keys: str | None, sample: str | None) -> tuple[services.Search, Facets]:
    n_top = params.parse_int(top, "top", default=DEFAULT_TOP, minimum=1, maximum=MAX_TOP)
    n_keys = params.parse_int(keys, "keys", default=DEFAULT_TOP, minimum=0, maximum=MAX_TOP)
    n_sample = params.parse_int(sample, "sample", default=DEFAULT_SAMPLE, minimum=1, maximum=MAX_SAMPLE)
    s = services.resolve(ctx, q, start, end)
    result = _store_errors(q, facets, get_store(), s.org, s.query, s.start, s.end, top=n_top, keys=n_keys,
                           sample=n_sample)
    return s, result


def log_counts(ctx: OrgContext, q: str, start: str | None, end: str | None, by: str | None,
               buckets: str | None, top: str | None) -> tuple[services.Search, GroupedCounts]:
    if not by:
        raise params.bad_param("by", "invalid_param", "by (the field to group by) is required, e.g. by=service.")
    n_buckets = params.parse_int(buckets, "buckets", default=60, minimum=1, maximum=services.MAX_BUCKETS)
    n_top = params.parse_int(top, "top", default=DEFAULT_TOP, minimum=1, maximum=MAX_TOP)
    s = services.resolve(ctx, q, start, end)
    try:
        result = _store_errors(q, grouped_counts, get_store(), s.org, s.query, s.start, s.end, by,
                               buckets=n_buckets, top=n_top)
    except InvalidField as e:
        raise params.bad_param("by", "invalid_param", str(e)) from e
    return s, result


def group_field(by: str) -> str | None:
    """How a query names the field a count was grouped by (None: it cannot, see attribute_field)."""
    if by.lower() in LOG_COLUMNS:
        return by.lower()
    for prefix in _PREFIXES:
        if by.lower().startswith(prefix):
            return attribute_field(by[len(prefix):])
    return attribute_field(by)


def counts_json(s: services.Search, result: GroupedCounts) -> dict[str, Any]:
    group = group_field(result.field)
    return {
        "org": s.org.slug, "start": s.start, "end": s.end, "by": result.field,
        "step_seconds": result.step_us / 1e6, "buckets": result.buckets,
        # "" is also "the record has no such attribute", which no `field=value` term selects.
        "series": [{**asdict(x), "filter": None if x.value == "" and group not in LOG_COLUMNS
                    else terms(group, x.value)} for x in result.series],
    }
