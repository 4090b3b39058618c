"""Alertmanager's own rules for every value the portal copies into its config, checked at the API.

The config is shared by every org: a value Alertmanager refuses must be a 400 naming the field, never a
config that `amtool check-config` rejects (the sync isolates such an org, but it should not get there).
Rules follow Alertmanager 0.25 (prometheus/common `model.ParseDuration`, `model.LabelName.IsValid`,
`config.Route.UnmarshalYAML`)."""

from __future__ import annotations

import re
from typing import Any

# model.ParseDuration: units in this order, each at most once, ASCII digits only ("\d" would take any
# Unicode digit, which Go's [0-9] does not).
_DURATION_RE = re.compile(r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?"
                          r"(?:([0-9]+)s)?(?:([0-9]+)ms)?")
_MS = 1_000_000
_UNIT_NS = (365 * 86_400_000 * _MS, 7 * 86_400_000 * _MS, 86_400_000 * _MS, 3_600_000 * _MS, 60_000 * _MS,
            1000 * _MS, _MS)
_MAX_NS = (1 << 63) - 1  # time.Duration
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Slack: "#channel", "@user" or a channel id. Kept plain so it can never carry a Go template.
_SLACK_CHANNEL_RE = re.compile(r"[#@]?[A-Za-z0-9._-]{1,80}")
# PagerDuty Events API v2 integration keys are 32 characters; allow any printable token, no whitespace.
_ROUTING_KEY_RE = re.compile(r"[!-~]{1,128}")

# Route fields Alertmanager refuses when zero ("group_interval cannot be zero", "repeat_interval cannot
# be zero"). group_wait 0 would load, but a zero wait defeats grouping for every alert, so it is refused too.
POSITIVE_DURATIONS = ("group_wait", "group_interval", "repeat_interval")
CHANNEL_CONFIG_KEYS: dict[str, frozenset[str]] = {
    "email": frozenset({"addresses"}),
    "slack": frozenset({"channel"}),
    "teams": frozenset(),
    "pagerduty": frozenset(),
    "webhook": frozenset(),
}


def duration_error(value: Any, *, positive: bool = True) -> str | None:
    """None when Alertmanager parses `value` as a duration (and it is > 0 when `positive`)."""
    if not isinstance(value, str) or not value:
        return "a duration like 30s, 5m, 4h is required"
    if value == "0":
        total = 0
    else:
        m = _DURATION_RE.fullmatch(value)
        if m is None:
            return f"{value!r} is not a duration like 30s, 5m, 1h30m (units y, w, d, h, m, s, ms, largest first)"
        total = sum(int(g) * unit for g, unit in zip(m.groups(), _UNIT_NS, strict=True) if g)
    if total > _MAX_NS:
        return f"{value!r} is out of range (at most about 292 years)"
    if positive and total == 0:
        return f"{value!r}: Alertmanager requires a duration greater than zero"
    return None


def group_by_error(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        return "a list of label names"
    seen: set[str] = set()
    for name in value:
        if name != "..." and not _LABEL_NAME_RE.fullmatch(name):
            return f"{name!r} is not a valid label name"
        if name in seen:
            return f"{name!r} is listed twice"
        seen.add(name)
    if "..." in seen and len(seen) > 1:
        return "'...' (group by every label) cannot be combined with other labels"
    return None


def channel_config_error(kind: str, config: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) for a config value Alertmanager would refuse or evaluate as a template."""
    allowed = CHANNEL_CONFIG_KEYS.get(kind, frozenset())
    if unknown := sorted(set(config) - allowed):
        return f"config.{unknown[0]}", f"not a setting of a {kind} channel"
    if kind == "email":
        for a in config.get("addresses") or []:
            # Django's email check allows '{' and '}'; Alertmanager expands `to` as a Go template.
            if isinstance(a, str) and ("{" in a or "}" in a or "," in a):
                return "config.addresses", f"{a!r} is not an email address"
    if kind == "slack" and config.get("channel") not in (None, ""):
        channel = config["channel"]
        if not isinstance(channel, str) or not _SLACK_CHANNEL_RE.fullmatch(channel):
            return "config.channel", "a Slack channel like #ops, @user or a channel id"
    return None


def routing_key_error(value: Any) -> str | None:
    if not isinstance(value, str) or not _ROUTING_KEY_RE.fullmatch(value):
        return "the Events API v2 routing key: printable characters, no spaces, at most 128"
    return None
