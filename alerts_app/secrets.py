"""Channel secrets at rest: one encrypted JSON blob per channel (portal.crypto Fernet)."""

from __future__ import annotations

import json
from typing import Any

from portal.crypto import DecryptionError, decrypt, encrypt

from .models import Channel, ChannelKind

# The secret fields of each channel kind: written through the API, never returned by it.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    ChannelKind.EMAIL: (),
    ChannelKind.SLACK: ("webhook_url",),
    ChannelKind.TEAMS: ("webhook_url",),
    ChannelKind.PAGERDUTY: ("routing_key",),
    ChannelKind.WEBHOOK: ("url", "hmac_secret", "headers"),
}


def read(channel: Channel) -> dict[str, Any]:
    if not channel.secrets_encrypted:
        return {}
    try:
        data: dict[str, Any] = json.loads(decrypt(channel.secrets_encrypted))
    except (DecryptionError, ValueError):
        return {}
    return data


def write(channel: Channel, values: dict[str, Any]) -> None:
    """Merge new secret values into the stored ones (an omitted secret keeps its old value)."""
    merged = {**read(channel), **{k: v for k, v in values.items() if v not in (None, "")}}
    channel.secrets_encrypted = encrypt(json.dumps(merged, sort_keys=True)) if merged else ""


def configured(channel: Channel) -> list[str]:
    """Names of the secrets that are set (so the UI can say 'set' without showing them)."""
    return sorted(k for k, v in read(channel).items() if v)
