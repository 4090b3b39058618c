"""Notifications the portal sends itself: the relay for every channel with an org-supplied URL (Slack;
Teams, which Alertmanager 0.25 lacks; generic webhooks with custom headers + HMAC-SHA256 body signature)
and "send test notification" for every channel kind. Every request goes through the outbound-URL guard
(portal.backends.outbound): checked again at send time, pinned to the checked address, no redirects,
and the result names the status or the failure, never the receiver's body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail

from metrics_app.labels import org_label
from portal.backends import outbound

from . import secrets
from .models import Channel, ChannelKind

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
SIGNATURE_HEADER = "X-Portal-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return outbound.post(url, body, {"Content-Type": "application/json", **headers}, TIMEOUT).as_dict()


def teams_card(payload: dict[str, Any]) -> dict[str, Any]:
    status = payload.get("status", "firing")
    labels = payload.get("commonLabels", {})
    facts = [{"name": a.get("labels", {}).get("alertname", ""),
              "value": a.get("annotations", {}).get("summary", "") or json.dumps(a.get("labels", {}))}
             for a in payload.get("alerts", [])]
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
            "themeColor": "2DC72D" if status == "resolved" else "E81123",
            "summary": f"[{status.upper()}] {labels.get('alertname', 'alert')}",
            "title": f"[{status.upper()}] {labels.get('alertname', 'alert')}",
            "sections": [{"facts": facts}], "portal": {"status": status, "commonLabels": labels}}


def slack_message(channel: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    status = str(payload.get("status", "firing"))
    title = f"[{status.upper()}] {payload.get('commonLabels', {}).get('alertname', 'alert')}"
    lines = [f"{a.get('annotations', {}).get('summary', '')} {json.dumps(a.get('labels', {}), sort_keys=True)}"
             for a in payload.get("alerts", [])]
    body: dict[str, Any] = {"text": "\n".join([title, *lines]), "attachments": [{"title": title}]}
    if channel.config.get("channel"):
        body["channel"] = channel.config["channel"]
    return body


def relay(channel: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    """Forward one Alertmanager webhook payload to a Slack, Teams or generic-webhook channel."""
    sec = secrets.read(channel)
    if channel.kind == ChannelKind.SLACK:
        return _post(sec.get("webhook_url", ""), json.dumps(slack_message(channel, payload)).encode(), {})
    if channel.kind == ChannelKind.TEAMS:
        return _post(sec.get("webhook_url", ""), json.dumps(teams_card(payload)).encode(), {})
    if channel.kind == ChannelKind.WEBHOOK:
        body = json.dumps(payload, sort_keys=True).encode()
        # Checked at save too; again here so a header stored before the rule existed is never sent.
        headers = {str(k): str(v) for k, v in (sec.get("headers") or {}).items()
                   if outbound.header_problem(k, v) is None}
        if sec.get("hmac_secret"):
            headers[SIGNATURE_HEADER] = signature(sec["hmac_secret"], body)
        return _post(sec.get("url", ""), body, headers)
    return {"ok": False, "status": None, "detail": f"{channel.kind} channels are delivered by Alertmanager"}


def test_payload(channel: Channel) -> dict[str, Any]:
    org = channel.org
    label, value = org_label(org)
    labels = {"alertname": "PortalTestNotification", "severity": "info", label: value}
    return {"version": "4", "status": "firing", "receiver": channel.receiver_name, "groupLabels": labels,
            "commonLabels": labels, "commonAnnotations": {"summary": "Test notification from the portal"},
            "alerts": [{"status": "firing", "labels": labels,
                        "annotations": {"summary": "Test notification from the portal"}}]}


def send_test(channel: Channel) -> dict[str, Any]:
    """Deliver a test notification directly (not through Alertmanager) and say what happened."""
    payload = test_payload(channel)
    sec = secrets.read(channel)
    if channel.kind == ChannelKind.EMAIL:
        try:
            sent = send_mail(f"[{channel.org.slug}] Test notification", "Test notification from the portal.",
                             settings.ALERTS_SMTP_FROM, list(channel.config.get("addresses", [])))
        except Exception as exc:  # noqa: BLE001 - SMTP errors come in many types; report them all
            return {"ok": False, "status": None, "detail": f"{type(exc).__name__}: {exc}"}
        return {"ok": sent > 0, "status": None, "detail": f"sent to {sent} message(s)"}
    if channel.kind == ChannelKind.PAGERDUTY:
        event = {"routing_key": sec.get("routing_key", ""), "event_action": "trigger",
                 "payload": {"summary": "Test notification from the portal", "severity": "info",
                             "source": "observability-portal"}}
        return _post(settings.ALERTS_PAGERDUTY_URL, json.dumps(event).encode(), {})
    return relay(channel, payload)
