"""SSRF guard for scrape targets: the platform's Prometheus must not be pointed at internal services.

Refused unless the staff setting METRICS_IN_SCRAPE_ALLOW_NETS lists the network: loopback, link-local
(cloud metadata lives there), private, carrier-grade NAT, multicast, unspecified and reserved
addresses, for every address the host name resolves to. The platform's own service endpoints
(Prometheus, Alertmanager, Redis, the database, the portal) are refused always, allow-list or not.
The check runs when a target is saved and again when the file_sd file is written, so a name that
later resolves somewhere internal drops out at the next write.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from portal.errors import ServiceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def split_address(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port); ServiceError 400 when malformed."""
    text = address.strip()
    if not text or "/" in text or "@" in text or " " in text:
        raise ServiceError(400, "invalid", f"address {address!r} must be host:port")
    parsed = urlsplit(f"//{text}")
    try:
        port = parsed.port
    except ValueError as e:
        raise ServiceError(400, "invalid", f"address {address!r}: bad port") from e
    host = parsed.hostname or ""
    if not host or port is None or not 0 < port < 65536:
        raise ServiceError(400, "invalid", f"address {address!r} must be host:port with a port 1-65535")
    return host, port


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise ServiceError(400, "unresolvable", f"host {host!r} does not resolve: {e.strerror or e}") from e
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def _internal(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_multicast or ip.is_unspecified
                or ip.is_reserved or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT))


def _allowed(ip: IPAddress) -> bool:
    for net in settings.METRICS_IN_SCRAPE_ALLOW_NETS:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def platform_endpoints() -> set[tuple[str, int]]:
    """(host, port) of every service the platform itself runs."""
    urls = [settings.PROMETHEUS_URL, getattr(settings, "ALERTMANAGER_URL", ""), getattr(settings, "REDIS_URL", ""),
            getattr(settings, "PORTAL_BASE_URL", "")]
    found: set[tuple[str, int]] = set()
    defaults = {"http": 80, "https": 443, "redis": 6379, "rediss": 6379}
    for url in urls:
        if not url:
            continue
        parts = urlsplit(url)
        if parts.hostname:
            found.add((parts.hostname, parts.port or defaults.get(parts.scheme, 0)))
    db = settings.DATABASES["default"]
    if db.get("HOST"):
        found.add((str(db["HOST"]), int(db.get("PORT") or 5432)))
    return found


def check_target(address: str) -> None:
    host, port = split_address(address)
    ips = resolve(host, port)
    for phost, pport in platform_endpoints():
        if pport != port:
            continue
        try:
            platform_ips = set(resolve(phost, pport))
        except ServiceError:
            continue
        if platform_ips & set(ips) or phost == host:
            raise ServiceError(400, "forbidden_target",
                               f"{address} is one of the platform's own services; it cannot be a scrape target.")
    for ip in ips:
        if _internal(ip) and not _allowed(ip):
            raise ServiceError(400, "forbidden_target",
                               f"{address} resolves to {ip}, a loopback, link-local or private address; such "
                               "targets are refused unless an operator allows the network "
                               "(METRICS_IN_SCRAPE_ALLOW_NETS).", {"address": address, "ip": str(ip)})
