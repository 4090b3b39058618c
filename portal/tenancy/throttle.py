"""Failed-login throttling: per account and per IP, in the cache, with a sliding window.

An attacker hammering one account locks only that account's *password attempts from anywhere* for the
window; others log in as usual. A noisy IP is slowed down without touching anyone else's IP.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    return "login-fail:" + kind + ":" + hashlib.sha256(value.lower().encode()).hexdigest()[:32]


def blocked(username: str, ip: str) -> str | None:
    """A user-facing reason when a login attempt must wait, else None."""
    window_min = max(1, settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60)
    if cache.get(_key("user", username), 0) >= settings.LOGIN_FAILURES_PER_ACCOUNT:
        return f"Too many failed logins for this account. Try again in {window_min} minutes or reset your password."
    if cache.get(_key("ip", ip), 0) >= settings.LOGIN_FAILURES_PER_IP:
        return f"Too many failed logins from your network address. Try again in {window_min} minutes."
    return None


def record_failure(username: str, ip: str) -> None:
    ttl = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    for key in (_key("user", username), _key("ip", ip)):
        cache.add(key, 0, ttl)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, ttl)


def clear(username: str) -> None:
    cache.delete(_key("user", username))
