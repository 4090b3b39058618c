"""Where an org's samples are written, and under which label: its datasource (metrics_app).

`Datasource.for_org(org)` knows the remote-write URL (Prometheus `/api/v1/write`, VictoriaMetrics,
Mimir `/api/v1/push`), the headers (auth; `X-Scope-OrgID` for Mimir) and the org label the read side
enforces; writing under the same label name is what makes the samples readable by their org only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics_app.labels import org_label as metrics_org_label
from metrics_app.models import Datasource
from metrics_in_app.series import OrgLabel
from portal.tenancy.models import Organization


@dataclass(frozen=True)
class WriteTarget:
    url: str
    name: str
    label: OrgLabel
    headers: dict[str, str] = field(default_factory=dict)


def write_target(org: Organization) -> WriteTarget:
    """The org's write endpoint; ServiceError 503 when no datasource is configured."""
    ds = Datasource.for_org(org)
    return WriteTarget(url=ds.remote_write_url, name=f"{ds.kind} datasource {ds.name!r}",
                       label=OrgLabel(*metrics_org_label(org, ds)), headers=ds.headers_for(org))


def org_label(org: Organization) -> OrgLabel:
    """metrics_app.labels.org_label as the series module's OrgLabel (also for scrape targets: no
    datasource needed to write a file_sd file)."""
    return OrgLabel(*metrics_org_label(org))
