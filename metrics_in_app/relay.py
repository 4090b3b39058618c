"""Scrape relay for targets with basic or bearer auth.

A Prometheus file_sd file carries targets and labels, not credentials, and per-target scrape configs
would mean rewriting the shared prometheus.yml. So a target with auth is listed in the org's file_sd
file with the portal itself as `__address__` and a signed relay path as `__metrics_path__`; the portal
fetches the exporter with the stored (encrypted) credentials and passes the exposition through.
The org label is still a target label with `honor_labels: false`, so the relay changes nothing about
isolation. The signature binds org and target id; the outbound-URL guard runs again on every fetch and
the connection goes to the address it checked (no second resolution, no redirects).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from metrics_in_app.models import ScrapeTarget
from portal.backends import outbound

SALT = "metrics_in.scrape_relay"
MAX_BODY_BYTES = 32 * 1024 * 1024


def relay_path(target: ScrapeTarget) -> str:
    token = signing.dumps({"o": target.org_id, "t": target.pk}, salt=SALT, compress=True)
    return f"/api/v1/metrics-in/relay/{token}/"


def relay_address() -> tuple[str, str]:
    """(scheme, host:port) Prometheus uses to reach the portal."""
    parts = urlsplit(settings.METRICS_IN_RELAY_BASE_URL or settings.PORTAL_BASE_URL)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme or "http", f"{parts.hostname}:{port}"


@require_GET
def scrape_relay(request: HttpRequest, token: str) -> HttpResponse:
    try:
        claims = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return HttpResponse("bad relay token\n", status=404, content_type="text/plain")
    # Machine path bound by the signature to one org and target: the one lookup across orgs here.
    target = ScrapeTarget.objects.all_orgs().filter(pk=claims.get("t"), org_id=claims.get("o"), enabled=True).first()
    if target is None:
        return HttpResponse("no such target\n", status=404, content_type="text/plain")
    headers = target.auth_headers()
    accept = request.META.get("HTTP_ACCEPT")
    if accept:
        headers["Accept"] = accept
    url = f"{target.scheme}://{target.address}{target.metrics_path}"
    timeout = min(float(target.interval_seconds), 10.0)
    try:
        with outbound.stream("GET", url, headers=headers, timeout=timeout) as resp:
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    return HttpResponse(f"exporter answer larger than {MAX_BODY_BYTES} bytes\n", status=502,
                                        content_type="text/plain")
                chunks.append(chunk)
            status, ctype = resp.status_code, resp.headers.get("Content-Type", "text/plain; version=0.0.4")
    except outbound.OutboundRefused as e:
        return HttpResponse(f"{e.reason}\n", status=403, content_type="text/plain")
    except httpx.HTTPError as e:
        return HttpResponse(f"exporter {target.address} unreachable: {e}\n", status=502, content_type="text/plain")
    if status != 200:
        return HttpResponse(f"exporter {target.address} answered HTTP {status}\n", status=502,
                            content_type="text/plain")
    return HttpResponse(b"".join(chunks), content_type=ctype)
