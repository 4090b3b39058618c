"""One Prometheus file_sd file per org: `<PROMETHEUS_FILE_SD_DIR>/<org slug>.json`, written atomically.

The org label is a *target* label; the shipped scrape config has `honor_labels: false`, so a series an
exporter exposes with its own `org_id="B"` keeps the target's org and B's claim becomes
`exported_org_id`. Extra labels cannot name the org label, its exported form or `__` internals.
`__meta_portal_target_id` identifies the target in /api/v1/targets (meta labels never reach series).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from metrics_in_app.destination import org_label
from metrics_in_app.models import ScrapeTarget
from metrics_in_app.relay import relay_address, relay_path
from portal.backends import outbound
from portal.credentials import AuthType
from portal.errors import ServiceError
from portal.tenancy.models import Organization

log = logging.getLogger(__name__)
TARGET_ID_LABEL = "__meta_portal_target_id"
DEFAULT_TIMEOUT_SECONDS = 10


def path_for(org: Organization) -> Path:
    return Path(settings.PROMETHEUS_FILE_SD_DIR) / f"{org.slug}.json"


def render(org: Organization) -> list[dict[str, Any]]:
    label = org_label(org)
    groups = []
    for t in ScrapeTarget.objects.for_org(org).filter(enabled=True).order_by("id"):
        # Prometheus resolves the name itself when it scrapes: a name rebound after this check is out of
        # the portal's reach (targets with credentials go through the relay, which pins the address).
        try:
            outbound.check_target(t.address)
        except ServiceError as e:
            log.warning("scrape target %s of %s skipped: %s", t.pk, org.slug, e.message)
            continue
        labels = {k: str(v) for k, v in (t.labels or {}).items()}
        address, scheme, path = t.address, t.scheme, t.metrics_path
        if t.auth_type != AuthType.NONE:
            # file_sd cannot carry credentials: Prometheus scrapes the portal's relay, which adds them.
            scheme, address = relay_address()
            path = relay_path(t)
            labels.setdefault("instance", t.address)
        labels.update({
            "__metrics_path__": path,
            "__scheme__": scheme,
            "__scrape_interval__": f"{t.interval_seconds}s",
            "__scrape_timeout__": f"{min(t.interval_seconds, DEFAULT_TIMEOUT_SECONDS)}s",
            TARGET_ID_LABEL: str(t.pk),
            label.name: label.value,  # last: nothing above can override it
        })
        groups.append({"targets": [address], "labels": labels})
    return groups


def write(org: Organization) -> Path:
    """Write the org's file atomically (temp file in the same directory, fsync, rename). 0600 from
    creation (mkstemp), never widened: the relay paths in it are signed credentials to scrape through
    the portal with the target's secrets."""
    path = path_for(org)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(render(org), indent=2, sort_keys=True).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{org.slug}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
