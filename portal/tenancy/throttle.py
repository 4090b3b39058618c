"""Failed-login throttling: per account and per IP, in the cache, with a sliding window.

An attacker hammering one account locks only that account's *password attempts from anywhere* for the
window; others log in as usual. A noisy IP is slowed down without touching anyone else's IP.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from portal.core import cache


def _key(kind: str, value: str) -> str:
    return "login-fail:" + kind + ":" + hashlib.sha256(value.lower().encode()).hexdigest()[:32]


def blocked(username: str, ip: str) -> str | None:
    """A user-facing reason when a login attempt must wait, else None."""
    window_min = max(1, settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60)
    if cache.count(_key("user", username)) >= settings.LOGIN_FAILURES_PER_ACCOUNT:
        return f"Too many failed logins for this account. Try again in {window_min} minutes or reset your password."
    if cache.count(_key("ip", ip)) >= settings.LOGIN_FAILURES_PER_IP:
        return f"Too many failed logins from your network address. Try again in {window_min} minutes."
    return None


def record_failure(username: str, ip: str) -> None:
    ttl = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    for key in (_key("user", username), _key("ip", ip)):
        cache.incr(key, 1, ttl)


def clear(username: str) -> None:
    cache.delete(_key("user", username))


def password_reset_blocked(email: str, ip: str) -> str | None:
    """Count one password-reset request; a user-facing reason when it is one too many for the address asked
    for (mail bombing one inbox) or for the client's IP (probing many). The same answer whether or not an
    account has that address, so it reveals nothing."""
    ttl = settings.PASSWORD_RESET_WINDOW_SECONDS
    by_email = cache.incr("password-reset:email:" + _digest(email), 1, ttl)
    by_ip = cache.incr("password-reset:ip:" + _digest(ip), 1, ttl)
    if by_email > settings.PASSWORD_RESETS_PER_EMAIL or by_ip > settings.PASSWORD_RESETS_PER_IP:
        return (f"Too many password reset requests. Try again in {max(1, ttl // 60)} minutes; a link already "
                "sent stays valid.")
    return None


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
