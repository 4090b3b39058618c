"""The one outbound-URL guard. Every URL or host:port the platform calls on an organization's behalf
(notification channels, the Alertmanager webhook relay, scrape targets and the scrape relay) is checked
here when it is saved and again when it is used.

Refused: every address that is not public (loopback, private, link-local, carrier-grade NAT,
192.0.0.0/24, 0.0.0.0/8, multicast, reserved, IPv4-mapped or -compatible IPv6, and 6to4 / NAT64 /
Teredo addresses embedding such an address), cloud metadata endpoints, and the platform's own services
(datasources from settings and the database, Alertmanager, the portal, Redis / the broker, the
database, the SMTP servers). `OUTBOUND_URL_ALLOW` opens named hosts, host:port pairs or networks for
development receivers; it never opens metadata endpoints or the platform's own services.

At use, a name is resolved once, every address is checked, and the connection goes to a checked
address (the Host header and TLS SNI keep the name): a name that re-resolves elsewhere (DNS rebinding)
cannot move the request. No proxy from the environment (it would resolve again), no redirects, and
`post` reports only the status, never the remote body.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal.errors import ServiceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4_SPECIAL: list[tuple[ipaddress.IPv4Network, str]] = [
    (ipaddress.IPv4Network("0.0.0.0/8"), "a 'this network' address (0.0.0.0/8)"),
    (ipaddress.IPv4Network("100.64.0.0/10"), "a carrier-grade NAT address (100.64.0.0/10)"),
    (ipaddress.IPv4Network("192.0.0.0/24"), "an IETF protocol assignment address (192.0.0.0/24)"),
]
_MULTICAST = "a multicast address"
_NOT_GLOBAL = "an address that is not globally routable"
_METADATA_IPS = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23")}
_METADATA_NAMES = {"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                   "instance-data.ec2.internal", "metadata.azure.internal"}
_NAT64 = [ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48")]
_DEFAULT_PORTS = {"http": 80, "https": 443, "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671}
_DB_PORTS = {"postgresql": 5432, "postgis": 5432, "mysql": 3306}

# Webhook headers an org may set. Authorization and custom X-… headers are what receivers need; these
# would let a channel impersonate the platform (tenant header, signature), smuggle requests or target
# a proxy.
HEADER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")
FORBIDDEN_HEADERS = frozenset({
    "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection",
    "keep-alive", "upgrade", "te", "trailer", "expect", "cookie", "forwarded", "x-real-ip", "x-scope-orgid",
    "x-portal-signature", "via"})
FORBIDDEN_HEADER_PREFIXES = ("proxy-", "x-forwarded-", "sec-")
MAX_HEADERS = 20
MAX_HEADER_VALUE = 4096


class OutboundRefused(ServiceError):
    """400 naming the field (when the check runs for one) and the reason."""

    def __init__(self, reason: str, field: str | None = None, code: str = "forbidden_target",
                 ip: str | None = None) -> None:
        details: dict[str, str] = {"reason": reason}
        if field:
            details["field"] = field
        if ip:
            details["ip"] = ip
        super().__init__(400, code, f"{field}: {reason}" if field else reason, details)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL as given and the addresses it may be reached at."""

    url: httpx.URL
    host: str
    port: int
    ips: tuple[IPAddress, ...]


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "detail": self.detail}


# --- addresses ---------------------------------------------------------------------------------------

def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in resolver order (the one seam tests may replace)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as e:
        raise OutboundRefused(f"host {host!r} does not resolve", code="unresolvable") from e
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def _v4_problem(ip: ipaddress.IPv4Address) -> str | None:
    for net, reason in _V4_SPECIAL:
        if ip in net:
            return reason
    for flag, reason in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                         ("is_multicast", _MULTICAST), ("is_reserved", "a reserved address"),
                         ("is_private", "a private address")):
        if getattr(ip, flag):
            return reason
    return None if ip.is_global else _NOT_GLOBAL


def address_problem(ip: IPAddress) -> tuple[str, bool] | None:
    """(why `ip` is refused, whether it stays refused even when allow-listed), or None when public."""
    if ip in _METADATA_IPS:
        return "a cloud metadata address", True
    if isinstance(ip, ipaddress.IPv4Address):
        reason = _v4_problem(ip)
        return (reason, reason in (_V4_SPECIAL[0][1], _MULTICAST)) if reason else None
    if ip.ipv4_mapped is not None:
        return f"an IPv4-mapped IPv6 address (of {ip.ipv4_mapped})", True
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return f"an IPv4-compatible IPv6 address (of {ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)})", True
    if ip.sixtofour is not None:
        inner = _v4_problem(ip.sixtofour)
        return (f"a 6to4 address embedding {ip.sixtofour}, {inner}", False) if inner else None
    if any(ip in net for net in _NAT64):
        v4 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        inner = _v4_problem(v4)
        return (f"a NAT64 address embedding {v4}, {inner}", False) if inner else None
    if ip.teredo is not None:
        server, client = ip.teredo
        return f"a Teredo address (server {server}, client {client})", False
    if ip.is_unspecified:
        return "the unspecified address (::)", True
    for flag, reason in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                         ("is_site_local", "a site-local address"), ("is_multicast", _MULTICAST),
                         ("is_private", "a private address (fc00::/7)"), ("is_reserved", "a reserved address")):
        if getattr(ip, flag):
            return reason, reason == _MULTICAST
    return None if ip.is_global else (_NOT_GLOBAL, False)


# --- the allow-list ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Allow:
    net: IPNetwork | None
    host: str | None
    port: int | None


def _allow_list() -> list[_Allow]:
    raw = settings.OUTBOUND_URL_ALLOW
    entries = [e.strip() for e in (raw.split(",") if isinstance(raw, str) else raw) if e.strip()]
    out: list[_Allow] = []
    for entry in entries:
        try:
            out.append(_Allow(ipaddress.ip_network(entry, strict=False), None, None))
            continue
        except ValueError:
            pass
        host, port = entry, None
        if entry.startswith("[") or entry.count(":") == 1:
            try:
                host, port = split_host_port(entry)
            except ServiceError as e:
                raise ImproperlyConfigured(f"OUTBOUND_URL_ALLOW entry {entry!r}: {e.message}") from e
        try:
            out.append(_Allow(ipaddress.ip_network(host), None, port))
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9.-]+", host):
                raise ImproperlyConfigured(f"OUTBOUND_URL_ALLOW entry {entry!r}: not a host, host:port or CIDR") \
                    from None
            out.append(_Allow(None, _norm(host), port))
    return out


def _allowed(host: str, ip: IPAddress, port: int) -> bool:
    return any((a.port is None or a.port == port) and ((a.net is not None and ip in a.net) or a.host == host)
               for a in _allow_list())


# --- the platform's own services ---------------------------------------------------------------------

def _norm(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _from_url(what: str, url: str) -> list[tuple[str, str, int | None]]:
    out: list[tuple[str, str, int | None]] = []
    for one in str(url or "").split(";"):
        parts = urlsplit(one.strip())
        if parts.hostname:
            try:
                port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
            except ValueError:
                port = None
            out.append((what, _norm(parts.hostname), port))
    return out


def platform_services() -> list[tuple[str, str, int | None]]:
    """(what, host, port) of every service the platform runs; port None: every port of that host."""
    from metrics_app.models import Datasource  # the app layer sits above portal.backends

    found: list[tuple[str, str, int | None]] = []
    for what, name in (("Prometheus", "PROMETHEUS_URL"), ("Alertmanager", "ALERTMANAGER_URL"),
                       ("portal", "PORTAL_BASE_URL"), ("portal's scrape relay", "METRICS_IN_RELAY_BASE_URL"),
                       ("portal's alert hook", "ALERTS_HOOK_BASE_URL"), ("Redis", "REDIS_URL"),
                       ("Celery broker", "CELERY_BROKER_URL"), ("Celery result backend", "CELERY_RESULT_BACKEND")):
        found += _from_url(what, getattr(settings, name, "") or "")
    for cache in settings.CACHES.values():
        locations = cache.get("LOCATION") or []
        for loc in [locations] if isinstance(locations, str) else locations:
            if "://" in loc:
                found += _from_url("cache", loc)
    for db in settings.DATABASES.values():
        if db.get("HOST") and not str(db["HOST"]).startswith("/"):
            engine = str(db.get("ENGINE", "")).rsplit(".", 1)[-1]
            found.append(("database", _norm(str(db["HOST"])), int(db.get("PORT") or _DB_PORTS.get(engine, 0)) or None))
    for what, hostport in (("SMTP server", f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"),
                           ("alert SMTP smarthost", getattr(settings, "ALERTS_SMTP_SMARTHOST", ""))):
        with contextlib.suppress(ServiceError):
            found.append((what, *split_host_port(hostport)))
    for ds in Datasource.objects.only("name", "url"):
        found += _from_url(f"datasource {ds.name!r}", ds.url)
    portal_ports = {p for what, _, p in found if what.startswith("portal")}
    for allowed_host in settings.ALLOWED_HOSTS:
        if allowed_host and allowed_host != "*":
            found += [("portal", allowed_host.lower() if allowed_host.startswith(".") else _norm(allowed_host), p)
                      for p in portal_ports]
    return found


def _platform_hit(host: str, port: int, ips: list[IPAddress]) -> str | None:
    for what, phost, pport in platform_services():
        if pport is not None and pport != port:
            continue
        if phost.startswith("."):  # ALLOWED_HOSTS subdomain pattern
            if host == phost[1:] or host.endswith(phost):
                return what
            continue
        if phost == host:
            return what
        try:
            pips = resolve(phost, pport or port)
        except ServiceError:
            continue
        for ip in ips:
            # A service on loopback (or on every interface) answers on every loopback address of the host.
            if ip in pips or (ip.is_loopback and any(p.is_loopback or p.is_unspecified for p in pips)):
                return what
    return None


# --- checks ------------------------------------------------------------------------------------------

def split_host_port(address: str) -> tuple[str, int]:
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


def check_host(host: str, port: int, field: str | None = None) -> list[IPAddress]:
    """The addresses `host:port` may be reached at; OutboundRefused when any of them is refused."""
    name = _norm(host)
    shown = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
    if name in _METADATA_NAMES:
        raise OutboundRefused(f"{shown} is a cloud metadata endpoint", field)
    try:
        ips = resolve(name, port)
    except OutboundRefused as e:
        raise OutboundRefused(e.reason, field, code="unresolvable") from e
    if not ips:
        raise OutboundRefused(f"host {name!r} does not resolve", field, code="unresolvable")
    if what := _platform_hit(name, port, ips):
        raise OutboundRefused(f"{shown} is the platform's own {what}; the platform does not call its own "
                              "services on an organization's behalf", field)
    for ip in ips:
        problem = address_problem(ip)
        if problem is None:
            continue
        reason, always = problem
        if always:
            raise OutboundRefused(f"{shown} resolves to {ip}, {reason}; never allowed", field, ip=str(ip))
        if not _allowed(name, ip, port):
            raise OutboundRefused(f"{shown} resolves to {ip}, {reason}; refused unless an operator allows it "
                                  "in OUTBOUND_URL_ALLOW", field, ip=str(ip))
    return ips


def check_url(url: str, field: str | None = None) -> Target:
    """Check an http(s) URL (parsed by the same parser that sends it: no parser differential)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        raise OutboundRefused("not a valid URL", field, code="invalid") from e
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundRefused("an http(s) URL with a host is required", field, code="invalid")
    if parsed.userinfo:
        raise OutboundRefused("credentials in the URL are not accepted; send them in a header", field,
                              code="invalid")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    ips = check_host(parsed.host, port, field)
    return Target(parsed, _norm(parsed.host), port, tuple(ips))


def check_target(address: str, field: str | None = "address") -> Target:
    """A scrape target `host:port`."""
    try:
        host, port = split_host_port(address)
    except ServiceError as e:
        raise OutboundRefused(e.message, field, code="invalid") from e
    ips = check_host(host, port, field)
    return Target(httpx.URL(f"http://{address.strip()}/"), _norm(host), port, tuple(ips))


def header_problem(name: Any, value: Any) -> str | None:
    """Why an org-supplied request header is refused, or None."""
    if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
        return f"{name!r} is not a header name (letters, digits and '-')"
    low = name.lower()
    if low in FORBIDDEN_HEADERS or low.startswith(FORBIDDEN_HEADER_PREFIXES):
        return f"header {name!r} is set by the platform or the transport and cannot be configured"
    if not isinstance(value, str) or len(value) > MAX_HEADER_VALUE or any(c in value for c in "\r\n\0"):
        return f"the value of {name!r} must be a single-line string of at most {MAX_HEADER_VALUE} characters"
    return None


def check_headers(headers: Any, field: str) -> dict[str, str]:
    if not isinstance(headers, dict):
        raise OutboundRefused("an object of header name → string value", field, code="invalid")
    if len(headers) > MAX_HEADERS:
        raise OutboundRefused(f"at most {MAX_HEADERS} headers", field, code="invalid")
    for name, value in headers.items():
        if problem := header_problem(name, value):
            raise OutboundRefused(problem, field, code="invalid")
    return dict(headers)


# --- sending -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def stream(method: str, url: str, *, headers: Mapping[str, str], timeout: httpx.Timeout | float,
           content: bytes | None = None) -> Iterator[httpx.Response]:
    """Send to a checked address of `url` and yield the unread response (closed on exit).

    OutboundRefused when the URL is refused now; httpx.HTTPError when no checked address answers."""
    target = check_url(url)
    host_header = target.url.netloc.decode("ascii")
    extensions = {"sni_hostname": target.url.raw_host.decode("ascii")} \
        if target.url.scheme == "https" and not _is_ip(target.host) else {}
    last: httpx.HTTPError | None = None
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for ip in target.ips:
            request = client.build_request(method, target.url.copy_with(host=str(ip)), content=content,
                                           headers={**headers, "Host": host_header}, extensions=extensions)
            try:
                resp = client.send(request, stream=True)
            except httpx.ConnectError as e:  # the next checked address may answer
                last = e
                continue
            try:
                yield resp
            finally:
                resp.close()
            return
    raise last or httpx.ConnectError(f"no address of {target.host}")


def post(url: str, content: bytes, headers: Mapping[str, str], timeout: httpx.Timeout | float) -> Delivery:
    """POST and say what happened: the status or the reason, never the receiver's body."""
    try:
        with stream("POST", url, headers=headers, timeout=timeout, content=content) as resp:
            status = resp.status_code
    except OutboundRefused as e:
        return Delivery(False, None, f"refused by the outbound guard: {e.reason}")
    except httpx.HTTPError as e:
        return Delivery(False, None, f"{type(e).__name__}: {e}")
    if 300 <= status < 400:
        return Delivery(False, status, f"HTTP {status} (redirects are not followed)")
    return Delivery(200 <= status < 300, status, f"HTTP {status}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
