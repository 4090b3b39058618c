"""The one answer to "which label carries this organization?", for every path that touches series:
reads (the PromQL enforcer), ingest (the forced label on OTLP and remote-write series, scrape targets)
and alerting (rendered rule labels and matchers, Alertmanager routes, silences, alert filters).

The datasource the org queries decides it (`Datasource.org_label`, default `org_id`); the org's own
`label_name` is the fallback when no datasource is configured. Asking anywhere else would let a series
be written under one label and read or alerted on under another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from metrics_app.models import Datasource

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

# Inside `one_lookup()`: the configured datasource, looked up once (a one-element list once known).
_PINNED: ContextVar[list[Datasource | None] | None] = ContextVar("metrics_label_datasource", default=None)


def org_label(org: Organization, datasource: Datasource | None = None) -> tuple[str, str]:
    """(label name, label value) of `org` on `datasource` (default: the datasource `org` queries)."""
    ds = datasource if datasource is not None else _configured(org)
    name = ds.org_label if ds is not None and ds.org_label else org.label_name
    return name, org.label_value


@contextmanager
def one_lookup() -> Iterator[None]:
    """Look the configured datasource up once for the whole block instead of once per call: a sync
    renders thousands of rules of every org, and the datasource is the same for all of them."""
    token = _PINNED.set([])
    try:
        yield
    finally:
        _PINNED.reset(token)


def _configured(org: Organization) -> Datasource | None:
    pinned = _PINNED.get()
    if pinned is None:
        return Datasource.configured_for(org)
    if not pinned:
        pinned.append(Datasource.configured_for(org))
    return pinned[0]
