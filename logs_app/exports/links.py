"""Signed, expiring download links. The signature binds the export id, its org id *and* the member who
requested the export; the download view looks the export up within that org and serves it only while that
member is still an active member of the org, so a forged or foreign (export, org) pair reads as missing and
a link dies with its requester's membership."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from logs_app.exports.models import Export

SALT = "logs_app.exports.download"


@dataclass(frozen=True)
class LinkClaim:
    export_id: int
    org_id: int
    user_id: int


def make_token(export: Export) -> str:
    payload = {"e": export.pk, "o": export.org_id, "u": export.created_by_id,
               "x": int(export.expires_at.timestamp())}
    return signing.dumps(payload, salt=SALT, compress=False)


def download_path(export: Export) -> str:
    return reverse("logs-export-download", kwargs={"token": make_token(export)})


def download_url(export: Export) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + download_path(export)


def read_token(token: str, now: datetime | None = None) -> LinkClaim | None:
    """The claim of a valid, unexpired token, or None (bad signature, tampered, expired)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    # A link without a requester (signed before links were bound, or an export nobody requested) is refused.
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("e", "o", "u", "x")):
        return None
    now = now or timezone.now()
    if data["x"] <= now.timestamp():
        return None
    return LinkClaim(export_id=data["e"], org_id=data["o"], user_id=data["u"])
