"""The inbound Alertmanager webhook: one URL per receiver (`/hooks/alertmanager/<org_id>/<receiver>/`),
authenticated by a bearer credential derived from ALERTS_HOOK_SECRET for exactly that URL. The
`history` receiver feeds the portal's alert timeline; `ch<id>` receivers are relayed to Teams or a
generic webhook."""

from __future__ import annotations

import hmac
import json
import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from metrics_app.labels import org_label
from portal.errors import json_error
from portal.tenancy.models import Organization

from . import notify, render
from .models import AlertEvent, Channel

log = logging.getLogger(__name__)


def _when(value: Any) -> datetime | None:
    if not value or str(value).startswith("0001-"):
        return None
    return parse_datetime(str(value))


@csrf_exempt
@require_POST
def alertmanager_hook(request: HttpRequest, org_id: int, receiver: str) -> JsonResponse:
    auth = request.headers.get("Authorization", "")
    expected = "Bearer " + render.hook_token(org_id, receiver)
    if not hmac.compare_digest(auth.encode(), expected.encode()):
        return json_error(401, "authentication_failed", "Missing or wrong hook credential.")
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return json_error(404, "not_found", "Not found.")
    try:
        payload = json.loads(request.body)
    except ValueError:
        return json_error(400, "parse_error", "The body is not JSON.")
    # Only the org's own alerts: the route already matches the label, this guards against a bad config.
    label, value = org_label(org)
    alerts = [a for a in payload.get("alerts", []) if a.get("labels", {}).get(label) == value]
    payload = {**payload, "alerts": alerts}
    if not alerts:
        return JsonResponse({"accepted": 0})
    if receiver == "history":
        with transaction.atomic():
            AlertEvent.objects.all_orgs().bulk_create([AlertEvent(
                org=org, fingerprint=str(a.get("fingerprint", ""))[:64],
                alertname=str(a.get("labels", {}).get("alertname", ""))[:200], status=str(a.get("status", ""))[:16],
                severity=str(a.get("labels", {}).get("severity", ""))[:16], labels=a.get("labels", {}),
                annotations=a.get("annotations", {}), starts_at=_when(a.get("startsAt")),
                ends_at=_when(a.get("endsAt"))) for a in alerts])
        return JsonResponse({"accepted": len(alerts)})
    if not receiver.startswith("ch") or not receiver[2:].isdigit():
        return json_error(404, "not_found", "Not found.")
    channel = Channel.objects.for_org(org).filter(pk=int(receiver[2:])).first()
    if channel is None:
        return json_error(404, "not_found", "Not found.")
    result = notify.relay(channel, payload)
    if not result["ok"]:
        log.warning("relay to channel %s failed: %s", channel.pk, result)
        # 502 makes Alertmanager retry the notification.
        return json_error(502, "relay_failed", f"delivery to {channel.kind} failed: {result['detail']}")
    return JsonResponse({"accepted": len(alerts), "relayed": result["status"]})
