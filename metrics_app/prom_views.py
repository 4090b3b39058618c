"""The per-org Prometheus-compatible read API (`/prometheus/api/v1/…`): thin views over federation.

Authentication: an org-bound API token (`Authorization: Bearer pt_…`) or, for the portal's own pages,
a session plus `X-Portal-Org`. Responses and errors use Prometheus's format
(`{"status": "error", "errorType": …, "error": …}`) so any Prometheus client or Grafana works.

Parameters are read from the query string *and* the form body together (as Prometheus's
`r.FormValue` does). A single-valued parameter that arrives more than once with different values is
rejected rather than resolved, so no part of a request can carry an unenforced query; every `match[]`
from either place is enforced. Nothing of the incoming request is forwarded: federation builds a new
request from the enforced values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from portal import error_codes
from portal.errors import ServiceError
from portal.tenancy.audit import Actor, client_ip
from portal.tenancy.auth import ORG_HEADER, SESSION_ORG_KEY, TokenError, authenticate_api_token, bearer_token
from portal.tenancy.context import OrgContext, context_for
from portal.tenancy.models import Organization

from . import federation

log = logging.getLogger(__name__)

CROSS_ORG_HEADER = "HTTP_X_PORTAL_CROSS_ORG"

_ERROR_TYPES = {400: "bad_data", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "bad_data",
                422: "execution", 429: "execution", 502: "unavailable", 503: "unavailable", 504: "timeout"}


class PromResponse(HttpResponse):
    def __init__(self, body: dict[str, Any], status: int = 200, cache: str | None = None) -> None:
        super().__init__(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")
        if cache:
            self["X-Cache"] = cache


def prom_error(status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None,
               error_type: str | None = None) -> PromResponse:
    """Prometheus's error body; `code` (from portal/error_codes.py) is an extra key Prometheus clients
    ignore, so a condition has the same code here as in the portal's own API."""
    error_codes.emitted(status, code)
    body: dict[str, Any] = {"status": "error", "errorType": error_type or _ERROR_TYPES.get(status, "internal"),
                            "error": message, "code": code}
    if details:
        body["details"] = details
    resp = PromResponse(body, status=status)
    for k, v in (headers or {}).items():
        resp[k] = v
    return resp


class Params:
    """Query string and form body, merged."""

    def __init__(self, request: HttpRequest) -> None:
        self.values: dict[str, list[str]] = {}
        for source in (request.GET, request.POST if request.method == "POST" else None):
            if source is None:
                continue
            for key in source:
                self.values.setdefault(key, []).extend(source.getlist(key))

    def one(self, name: str) -> str | None:
        vals = self.values.get(name) or []
        distinct = set(vals)
        if len(distinct) > 1:
            raise ServiceError(400, "invalid_param",
                               f"parameter {name!r} given more than once with different values",
                               {"param": name})
        return vals[0] if vals else None

    def many(self, name: str) -> list[str]:
        return list(self.values.get(name) or [])


def _authenticate(request: HttpRequest) -> OrgContext:
    raw = bearer_token(request)
    if raw is not None:
        _, ctx = authenticate_api_token(raw, request)
        return ctx
    if request.user.is_authenticated:
        slug = request.META.get(ORG_HEADER) or request.session.get(SESSION_ORG_KEY)
        org = Organization.objects.filter(slug=slug).first() if slug else None
        session_ctx = context_for(request.user, org) if org else None
        if session_ctx is not None:
            return session_ctx
    raise TokenError("Missing or invalid API token: send 'Authorization: Bearer <token>'.")


def prom_view(handler: Callable[[HttpRequest, OrgContext, Params, federation.CrossOrg | None], federation.Result],
              ) -> Callable[..., HttpResponse]:
    """Auth, parameter merge, error translation and the X-Cache header, around one federation call."""

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return prom_error(405, "method_not_allowed", f"method {request.method} not allowed",
                              headers={"Allow": "GET, POST"})
        try:
            ctx = _authenticate(request)
        except TokenError as e:
            return prom_error(401, "authentication_failed", e.message,
                              headers={"WWW-Authenticate": 'Bearer realm="prometheus"'})
        try:
            params = Params(request)
            cross = _cross_org(request, ctx)
            request.prom_kwargs = kwargs  # type: ignore[attr-defined]
            result = handler(request, ctx, params, cross)
        except ServiceError as e:
            return prom_error(e.status_code, e.code, e.message, e.details, e.headers)
        except SuspiciousOperation as e:  # body too large, too many fields
            return prom_error(400, "bad_request", f"bad request: {e}")
        except Exception:  # a bug: still answer in Prometheus's format, which clients can show
            log.exception("prometheus API %s failed", request.path)
            return prom_error(500, "server_error", "internal error; it has been logged", error_type="internal")
        return PromResponse({"status": "success", "data": result.data}, cache=result.cache)

    view.__name__ = handler.__name__
    return view


def _cross_org(request: HttpRequest, ctx: OrgContext) -> federation.CrossOrg | None:
    """Staff opt in per request with `X-Portal-Cross-Org: <reason>`; everyone else is refused loudly."""
    reason = request.META.get(CROSS_ORG_HEADER)
    if reason is None:
        return None
    if not ctx.is_staff:
        raise ServiceError(403, "permission_denied",
                           "Cross-organization queries are for platform operators (staff) only.")
    user = request.user if request.user.is_authenticated else _token_user(ctx)
    actor = Actor(user=user, org=ctx.org, token_id=ctx.token.pk if ctx.token else None, ip=client_ip(request))
    return federation.CrossOrg(actor=actor, reason=reason or "unspecified")


def _use_cache(request: HttpRequest) -> bool:
    """`Cache-Control: no-cache` (as browsers send on a hard refresh) skips the result cache."""
    return "no-cache" not in request.META.get("HTTP_CACHE_CONTROL", "").lower()


def _token_user(ctx: OrgContext) -> Any:
    return ctx.token.user if ctx.token is not None else None


@prom_view
def query(request: HttpRequest, ctx: OrgContext, p: Params, cross: federation.CrossOrg | None) -> federation.Result:
    return federation.run_query(ctx.org, p.one("query") or "", p.one("time"), timeout=p.one("timeout"),
                                cross_org=cross, use_cache=_use_cache(request))


@prom_view
def query_range(request: HttpRequest, ctx: OrgContext, p: Params,
                cross: federation.CrossOrg | None) -> federation.Result:
    for name in ("start", "end", "step"):
        if p.one(name) in (None, ""):
            raise ServiceError(400, "invalid_param", f"invalid parameter {name!r}: missing", {"param": name})
    return federation.run_query_range(ctx.org, p.one("query") or "", p.one("start"), p.one("end"), p.one("step"),
                                      timeout=p.one("timeout"), cross_org=cross, use_cache=_use_cache(request))


@prom_view
def series(request: HttpRequest, ctx: OrgContext, p: Params, cross: federation.CrossOrg | None) -> federation.Result:
    return federation.run_series(ctx.org, p.many("match[]"), p.one("start"), p.one("end"),
                                 cross_org=cross, use_cache=_use_cache(request))


@prom_view
def labels(request: HttpRequest, ctx: OrgContext, p: Params, cross: federation.CrossOrg | None) -> federation.Result:
    return federation.run_labels(ctx.org, p.many("match[]"), p.one("start"), p.one("end"),
                                 cross_org=cross, use_cache=_use_cache(request))


@prom_view
def label_values(request: HttpRequest, ctx: OrgContext, p: Params,
                 cross: federation.CrossOrg | None) -> federation.Result:
    name = request.prom_kwargs["name"]  # type: ignore[attr-defined]
    return federation.run_label_values(ctx.org, name, p.many("match[]"), p.one("start"), p.one("end"),
                                       cross_org=cross, use_cache=_use_cache(request))


@prom_view
def metadata(request: HttpRequest, ctx: OrgContext, p: Params,
             cross: federation.CrossOrg | None) -> federation.Result:
    return federation.run_metadata(ctx.org, p.one("metric"), cross_org=cross, use_cache=_use_cache(request))


@prom_view
def buildinfo(request: HttpRequest, ctx: OrgContext, p: Params,
              cross: federation.CrossOrg | None) -> federation.Result:
    """Grafana probes this to pick its Prometheus dialect; we present as a Prometheus 2.42."""
    return federation.Result(data={"version": "2.42.0", "revision": "portal", "branch": "", "buildUser": "",
                                   "buildDate": "", "goVersion": ""}, cache="miss")
