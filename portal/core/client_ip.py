"""The address of the client that sent a request, for login throttling and the audit log.

`REMOTE_ADDR` is the peer: behind a reverse proxy or load balancer that is the proxy, for every client.
Only when the peer is one of `TRUSTED_PROXIES` is `X-Forwarded-For` read, from the right (the entries
the trusted proxies appended), skipping the proxies' own addresses: the first address no trusted proxy
owns is the client. Anything left of it was written by the client and could be anything. From any other
peer the header is ignored, so nobody escapes a per-IP limit by sending it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Sequence[str], setting: str = "TRUSTED_PROXIES") -> tuple[Network, ...]:
    """CIDRs or single addresses; a malformed entry stops the start (a typo must not trust everyone)."""
    networks = []
    for raw in values:
        try:
            networks.append(ipaddress.ip_network(raw.strip(), strict=False))
        except ValueError as e:
            raise ImproperlyConfigured(f"{setting}: {raw!r} is not an IP address or network ({e})") from e
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr.ipv4_mapped or addr if isinstance(addr, ipaddress.IPv6Address) else addr


def _is_trusted(addr: Address, networks: tuple[Network, ...]) -> bool:
    return any(addr.version == n.version and addr in n for n in networks)


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    peer = request.META.get("REMOTE_ADDR") or ""
    networks = _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    peer_addr = _address(peer)
    if not networks or peer_addr is None or not _is_trusted(peer_addr, networks):
        return peer or None
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    client = peer_addr
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:  # garbage from beyond the trusted chain: the last trusted hop is all we know
            break
        client = addr
        if not _is_trusted(addr, networks):
            break
    return str(client)


class ForwardedHeadersMiddleware:
    """Drops the proxy headers (`X-Forwarded-For`, the `SECURE_PROXY_SSL_HEADER`) from a peer that is not a
    trusted proxy, before anything reads them: Django's `is_secure()` would otherwise believe any client
    that claims HTTPS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        networks = _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
        peer = _address(request.META.get("REMOTE_ADDR") or "")
        if peer is None or not _is_trusted(peer, networks):
            request.META.pop("HTTP_X_FORWARDED_FOR", None)
            proto = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
            if proto:
                request.META.pop(proto[0], None)
        return self.get_response(request)
