"""Dashboard operations: save (always a new version), restore, diff, import/export, clone, panel data.

Typed functions taking the org; every lookup is `for_org(org)`, so another org's uid is simply "not found".
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dashboards_app import builtin, forecast, grafana, interpolate, pricing, querying, spec
from dashboards_app.models import Dashboard, DashboardVersion, QueryHistory
from metrics_app import labels
from portal.errors import ServiceError
from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization

HISTORY_KEEP = 100
EXPORT_FORMAT = "portal-dashboard/v1"


def get_dashboard(org: Organization, uid: str) -> Dashboard:
    dash = Dashboard.objects.for_org(org).filter(uid=uid).first()
    if dash is None:
        raise ServiceError(404, "not_found", "Dashboard not found.")
    return dash


def get_builtin(slug: str) -> dict[str, Any]:
    doc = builtin.get(slug)
    if doc is None:
        raise ServiceError(404, "not_found", "Built-in dashboard not found.")
    return doc


def document(dash: Dashboard) -> dict[str, Any]:
    return {**dash.spec, "uid": dash.uid, "version": dash.version}


def _user(actor: Actor | None) -> Any:
    return actor.user if actor is not None else None


def _apply(dash: Dashboard, doc: dict[str, Any]) -> None:
    dash.spec = doc
    dash.title = doc["title"]
    dash.description = doc["description"]
    dash.tags = doc["tags"]


def create_dashboard(org: Organization, doc: Any, actor: Actor | None = None, *, source: str = "",
                     message: str = "created") -> Dashboard:
    normalized = spec.normalize(doc)
    with transaction.atomic():
        dash = Dashboard(org=org, created_by=_user(actor), source=source[:200])
        _apply(dash, normalized)
        dash.version = 1
        dash.save()
        DashboardVersion.objects.create(org=org, dashboard=dash, version=1, spec=normalized, message=message[:300],
                                        author=dash.created_by)
        audit.record(actor, "create", dash, {"title": dash.title, "source": source}, org=org)
    return dash


def save_dashboard(org: Organization, uid: str, doc: Any, actor: Actor | None = None, *,
                   expected_version: int | None = None, message: str = "saved") -> Dashboard:
    """Replace the dashboard's document and append a version. `expected_version` guards against
    overwriting someone else's save (409 when it moved on)."""
    normalized = spec.normalize(doc)
    with transaction.atomic():
        dash = Dashboard.objects.for_org(org).select_for_update().filter(uid=uid).first()
        if dash is None:
            raise ServiceError(404, "not_found", "Dashboard not found.")
        if expected_version is not None and expected_version != dash.version:
            raise ServiceError(409, "version_conflict",
                               f"The dashboard was saved by someone else (now version {dash.version}); reload it.",
                               {"current_version": dash.version})
        if normalized == dash.spec:
            return dash  # nothing changed: no empty version
        before = {"title": dash.title, "version": dash.version}
        _apply(dash, normalized)
        dash.version = F("version") + 1
        dash.save()
        dash.refresh_from_db()
        author = _user(actor)
        DashboardVersion.objects.create(org=org, dashboard=dash, version=dash.version, spec=normalized,
                                        message=message[:300], author=author)
        _trim_history(org, dash)
        audit.record(actor, "update", dash, {"from": before, "to": {"title": dash.title, "version": dash.version}},
                     org=org)
    return dash


def _trim_history(org: Organization, dash: Dashboard) -> None:
    old = DashboardVersion.objects.for_org(org).filter(dashboard=dash).order_by("-version")[HISTORY_KEEP:]
    ids = list(old.values_list("id", flat=True))
    if ids:
        DashboardVersion.objects.for_org(org).filter(id__in=ids).delete()


def delete_dashboard(org: Organization, uid: str, actor: Actor | None = None) -> None:
    with transaction.atomic():
        dash = get_dashboard(org, uid)
        audit.record(actor, "delete", dash, {"title": dash.title}, org=org)
        dash.delete()


def versions(org: Organization, uid: str) -> list[DashboardVersion]:
    dash = get_dashboard(org, uid)
    return list(DashboardVersion.objects.for_org(org).filter(dashboard=dash).select_related("author"))


def get_version(org: Organization, uid: str, version: int) -> DashboardVersion:
    dash = get_dashboard(org, uid)
    ver = DashboardVersion.objects.for_org(org).filter(dashboard=dash, version=version).first()
    if ver is None:
        raise ServiceError(404, "not_found", f"Version {version} of this dashboard not found.")
    return ver


def diff_versions(org: Organization, uid: str, a: int, b: int) -> dict[str, Any]:
    """A unified diff of the two versions' JSON plus a per-field summary of what changed."""
    va, vb = get_version(org, uid, a), get_version(org, uid, b)
    ta = json.dumps(va.spec, indent=2, sort_keys=True).splitlines()
    tb = json.dumps(vb.spec, indent=2, sort_keys=True).splitlines()
    changed = sorted(k for k in set(va.spec) | set(vb.spec) if va.spec.get(k) != vb.spec.get(k))
    panels_a = {p["id"]: p for p in va.spec.get("panels", [])}
    panels_b = {p["id"]: p for p in vb.spec.get("panels", [])}
    return {
        "from": a, "to": b,
        "changed": changed,
        "panels": {
            "added": sorted(set(panels_b) - set(panels_a)),
            "removed": sorted(set(panels_a) - set(panels_b)),
            "changed": sorted(i for i in set(panels_a) & set(panels_b) if panels_a[i] != panels_b[i]),
        },
        "unified": "\n".join(difflib.unified_diff(ta, tb, f"v{a}", f"v{b}", lineterm="")),
    }


def restore_version(org: Organization, uid: str, version: int, actor: Actor | None = None) -> Dashboard:
    ver = get_version(org, uid, version)
    return save_dashboard(org, uid, ver.spec, actor, message=f"restored version {version}")


def export_dashboard(dash: Dashboard) -> dict[str, Any]:
    return {"format": EXPORT_FORMAT, "dashboard": dash.spec}


def import_dashboard(org: Organization, payload: Any, actor: Actor | None = None
                     ) -> tuple[Dashboard, dict[str, Any]]:
    """Import a portal export, a bare portal document, or a Grafana dashboard (detected)."""
    if not isinstance(payload, dict):
        raise ServiceError(400, "invalid_dashboard", "The import must be a JSON object.")
    if payload.get("format") == EXPORT_FORMAT and isinstance(payload.get("dashboard"), dict):
        doc, report = payload["dashboard"], {"source": "portal"}
        source = "import"
    elif grafana.is_grafana(payload):
        doc, report = grafana.convert(payload)
        inner: dict[str, Any] = payload["dashboard"] if isinstance(payload.get("dashboard"), dict) else payload
        source = f"grafana:{inner.get('uid') or ''}"
    else:
        doc, report, source = payload, {"source": "portal"}, "import"
    dash = create_dashboard(org, doc, actor, source=source, message=f"imported ({report['source']})")
    return dash, report


def clone_builtin(org: Organization, slug: str, actor: Actor | None = None, title: str = "") -> Dashboard:
    doc = get_builtin(slug)
    doc["title"] = title or f"{doc['title']} (copy)"
    doc["tags"] = [t for t in doc["tags"] if t != "builtin"]
    return create_dashboard(org, doc, actor, source=f"builtin:{slug}", message=f"cloned from built-in {slug}")


def clone_dashboard(org: Organization, uid: str, actor: Actor | None = None, title: str = "") -> Dashboard:
    dash = get_dashboard(org, uid)
    doc = dict(dash.spec)
    doc["title"] = title or f"{dash.title} (copy)"
    return create_dashboard(org, doc, actor, source=f"clone:{uid}", message=f"cloned from {uid}")


# --- variables and panel data -------------------------------------------------------------------------

def variable_options(org: Organization, definitions: list[dict[str, Any]], chosen: dict[str, Any],
                     start: float, end: float, cross_org: Any = None) -> dict[str, list[str]]:
    """Options of each variable; query variables ask federation for label values (in order, so a later
    variable's selector may use an earlier one's value)."""
    out: dict[str, list[str]] = {}
    for var in definitions:
        if var["type"] != "query":
            out[var["name"]] = list(var.get("options") or [])
            continue
        parsed = spec.parse_label_values(var["query"])
        if parsed is None:
            out[var["name"]] = []
            continue
        match, label = parsed
        values = interpolate.resolve_variables([v for v in definitions if v["name"] in out], chosen, out)
        match = interpolate.interpolate(match, values, {}) if match else ""
        out[var["name"]] = sorted(querying.label_values(org, label, match or None, start, end, cross_org))[:500]
    return out


def run_targets(org: Organization, panel_type: str, targets: list[dict[str, Any]], variables: dict[str, Any],
                start: float, end: float, step: int, cross_org: Any = None) -> list[dict[str, Any]]:
    """Query every target of a panel. Instant panels (table, bar) ask for the value at `end`; the others a
    range. One target failing (bad PromQL) reports its error without hiding the other targets' data."""
    builtins = interpolate.macros(start, end, step, labels.org_label(org)[0])
    results = []
    for t in targets:
        # A legend may name the org label too (`{{$__org_label}}`): the browser then reads the real label.
        legend = str(t.get("legend", "")).replace("$__org_label", builtins["__org_label"])
        item: dict[str, Any] = {"refId": t.get("refId", "A"), "legend": legend, "expr": t["expr"]}
        try:
            expr = item["expr"] = interpolate.interpolate(t["expr"], variables, builtins)
        except pricing.NoPricesSet as exc:  # this target says so; the panel's other targets still draw
            results.append({**item, "error": {"status": exc.status_code, "code": exc.code, "message": exc.message}})
            continue
        try:
            if panel_type in ("table", "bar"):
                data = querying.query_instant(org, expr, end, step, cross_org)
            else:
                data = querying.query_range(org, expr, start, end, step, cross_org)
            item["resultType"] = data.get("resultType")
            item["result"] = data.get("result", [])
        except ServiceError as exc:
            if exc.status_code >= 500:
                raise  # backend down or timeout: the whole panel fails, naming the backend
            item["error"] = {"status": exc.status_code, "code": exc.code, "message": exc.message,
                             "details": exc.details}
        results.append(item)
    return results


def panel_data(org: Organization, doc: dict[str, Any], panel_ids: list[int] | None, chosen: dict[str, Any],
               start_raw: Any, end_raw: Any, step_raw: Any = None, cross_org: Any = None) -> dict[str, Any]:
    """Data of a dashboard's panels (all, or `panel_ids`); `cross_org` is staff's platform-wide mode.

    The whole answer is cached briefly per org (and scope) for the step-aligned window, so a dashboard
    open in many tabs, or refreshed often, costs one cache read instead of one per panel query."""
    start, end = interpolate.time_range(start_raw, end_raw)
    step = interpolate.auto_step(start, end, step_raw)
    parts = (doc, panel_ids, chosen, int(start) // step, -(-int(end) // step), step)
    return querying.cached(org, "panels" if cross_org is None else "panels-platform", parts,
                           max(1, min(querying.CACHE_SECONDS, step)),
                           lambda: _panel_data(org, doc, panel_ids, chosen, start, end, step, cross_org))


def _panel_data(org: Organization, doc: dict[str, Any], panel_ids: list[int] | None, chosen: dict[str, Any],
                start: float, end: float, step: int, cross_org: Any) -> dict[str, Any]:
    options = variable_options(org, doc.get("variables", []), chosen, start, end, cross_org)
    values = interpolate.resolve_variables(doc.get("variables", []), chosen, options)
    panels: dict[str, Any] = {}
    for panel in doc.get("panels", []):
        if panel_ids and panel["id"] not in panel_ids:
            continue
        if panel["type"] in ("text", "placeholder") or not panel["targets"]:
            panels[str(panel["id"])] = {"targets": []}
            continue
        results = run_targets(org, panel["type"], panel["targets"], values, start, end, step, cross_org)
        forecast.attach(org, panel, results, values, start, end, step, cross_org)
        panels[str(panel["id"])] = {"targets": results}
    return {"start": start, "end": end, "step": step, "variables": values, "options": options, "panels": panels,
            "scope": "platform" if cross_org is not None else "org"}


def preview(org: Organization, panel: Any, chosen: dict[str, Any], variables: list[dict[str, Any]],
            start_raw: Any, end_raw: Any, step_raw: Any = None) -> dict[str, Any]:
    """Data for an unsaved panel (the editor's live preview)."""
    doc = spec.normalize({"title": "preview", "variables": variables, "panels": [panel]})
    return panel_data(org, doc, None, chosen, start_raw, end_raw, step_raw)


# --- Explore ------------------------------------------------------------------------------------------

def explore_query(org: Organization, user: Any, expr: str, start_raw: Any, end_raw: Any, step_raw: Any = None,
                  instant: bool = False) -> dict[str, Any]:
    expr = (expr or "").strip()
    if not expr:
        raise ServiceError(400, "invalid_param", "Enter a PromQL query.", {"param": "query"})
    if len(expr) > 4000:
        raise ServiceError(400, "invalid_promql", "The query is longer than 4000 characters.")
    start, end = interpolate.time_range(start_raw, end_raw)
    step = interpolate.auto_step(start, end, step_raw)
    expr_i = interpolate.interpolate(expr, {}, interpolate.macros(start, end, step, labels.org_label(org)[0]))
    data = querying.query_instant(org, expr_i, end, step) if instant else \
        querying.query_range(org, expr_i, start, end, step)
    record_history(org, user, expr)
    return {"start": start, "end": end, "step": step, "resultType": data.get("resultType"),
            "result": data.get("result", [])}


def record_history(org: Organization, user: Any, expr: str) -> None:
    if not getattr(user, "pk", None):
        return
    with transaction.atomic():
        last = QueryHistory.objects.for_org(org).filter(user=user).first()
        if last is not None and last.query == expr:
            QueryHistory.objects.for_org(org).filter(pk=last.pk).update(created_at=timezone.now())
            return
        QueryHistory.objects.create(org=org, user=user, query=expr)
        stale = list(QueryHistory.objects.for_org(org).filter(user=user).values_list("id", flat=True)[HISTORY_KEEP:])
        if stale:
            QueryHistory.objects.for_org(org).filter(id__in=stale).delete()


def history(org: Organization, user: Any, limit: int = 50) -> list[QueryHistory]:
    return list(QueryHistory.objects.for_org(org).filter(user=user)[:limit])
