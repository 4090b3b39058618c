"""Target health (up, last scrape, last error) as the scraping Prometheus reports it, for one org only."""

from __future__ import annotations

from typing import Any

from metrics_in_app.destination import org_label
from metrics_in_app.file_sd import TARGET_ID_LABEL
from portal.backends.errors import BackendError, BackendTimeout, BackendUnavailable
from portal.backends.prometheus import managed_prometheus
from portal.error_codes import BACKEND_PROMETHEUS
from portal.errors import ServiceError, backend_not_configured
from portal.tenancy.models import Organization


def health_for(org: Organization, target_ids: set[int]) -> dict[int, dict[str, Any]]:
    """{target id: {health, last_scrape, last_error, scrape_url, last_scrape_duration}} for the org's targets.

    Filtered twice: by the target ids the org owns and by the org label on the target, so a foreign
    target can never show up even if ids collided.
    """
    prom = managed_prometheus()
    if not prom.configured:
        raise backend_not_configured("prometheus", "No Prometheus is configured (PROMETHEUS_URL).")
    label = org_label(org)
    try:
        active = prom.targets("active")
    except BackendTimeout as e:
        raise ServiceError(504, "backend_timeout", f"Prometheus at {prom.base_url} did not answer the "
                           f"targets request in time: {e}", {"backend": BACKEND_PROMETHEUS}) from e
    except BackendUnavailable as e:
        raise ServiceError(503, "backend_unavailable", f"Prometheus at {prom.base_url} did not answer "
                           f"the targets request: {e}", {"backend": BACKEND_PROMETHEUS}) from e
    except BackendError as e:
        raise ServiceError(502, "backend_error", f"Prometheus at {prom.base_url} answered the targets "
                           f"request with an error: {e}", {"backend": BACKEND_PROMETHEUS}) from e
    out: dict[int, dict[str, Any]] = {}
    for t in active:
        raw_id = (t.get("discoveredLabels") or {}).get(TARGET_ID_LABEL, "")
        if not raw_id.isdigit() or int(raw_id) not in target_ids:
            continue
        if (t.get("labels") or {}).get(label.name) != label.value:
            continue
        out[int(raw_id)] = {
            "health": t.get("health", "unknown"),
            "last_scrape": t.get("lastScrape"),
            "last_error": t.get("lastError", ""),
            "scrape_url": t.get("scrapeUrl", ""),
            "last_scrape_duration": t.get("lastScrapeDuration"),
        }
    return out
