"""Grafana dashboard JSON → portal dashboard document.

Handles Grafana's schema history: the oldest `rows` layout (rows holding panels with a 12-column
`span` and a pixel height), `graph`/`singlestat` panels, and the current `panels` list with `row`
panels (collapsed rows nest their panels), `timeseries`/`stat`/`gauge`/`bargauge`/`table`/`heatmap`.
Grafana macros (`$__rate_interval`, `$__interval`, `$__range`) are kept in the PromQL: the query layer
resolves them for each request (see interpolate.py). A panel type the portal can't draw becomes a
`placeholder` panel that says which type it was, so nothing is silently dropped.
"""

from __future__ import annotations

import math
import re
from typing import Any

from dashboards_app import spec
from portal.errors import ServiceError

_TYPE_MAP = {
    "graph": "timeseries", "timeseries": "timeseries", "singlestat": "stat", "stat": "stat", "gauge": "gauge",
    "bargauge": "bar", "barchart": "bar", "table": "table", "table-old": "table", "heatmap": "heatmap",
    "text": "text",
}
_UNIT_MAP = {
    "bytes": "bytes", "decbytes": "bytes", "kbytes": "bytes", "mbytes": "bytes", "bits": "bytes",
    "s": "seconds", "dtdurations": "seconds", "dtdurationms": "ms", "ms": "ms", "µs": "ms", "ns": "ms",
    "percent": "percent", "percentunit": "percentunit", "reqps": "reqps", "rps": "reqps", "ops": "ops",
    "opm": "ops", "wps": "ops", "iops": "ops", "Bps": "bps", "binBps": "bps", "bps": "bps", "binbps": "bps",
    "short": "short", "none": "none", "": "none", "si:": "short",
}
_REDUCERS = {"lastNotNull": "last", "last": "last", "mean": "mean", "max": "max", "min": "min", "sum": "sum",
             "current": "last", "avg": "mean", "total": "sum"}
_COLOR_NAMES = {"green", "red", "orange", "yellow", "blue", "purple", "transparent", "text"}
_ROW_HEIGHT_PX = 30


def is_grafana(doc: Any) -> bool:
    """Grafana exports carry schemaVersion and either rows or panels with gridPos/span."""
    if not isinstance(doc, dict):
        return False
    if isinstance(doc.get("dashboard"), dict):  # the API's {"dashboard": {...}, "meta": {...}} wrapper
        return is_grafana(doc["dashboard"])
    return "rows" in doc or ("schemaVersion" in doc and doc.get("schemaVersion") != spec.SCHEMA_VERSION) or \
        any(isinstance(p, dict) and ("gridPos" in p and "targets" in p or p.get("type") == "row")
            for p in doc.get("panels") or [])


def convert(doc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (portal document, report). The document is already normalized."""
    if isinstance(doc, dict) and isinstance(doc.get("dashboard"), dict):
        doc = doc["dashboard"]
    if not isinstance(doc, dict):
        raise ServiceError(400, "invalid_dashboard", "A Grafana dashboard must be a JSON object.")
    report: dict[str, Any] = {"source": "grafana", "schemaVersion": doc.get("schemaVersion"), "panels": 0,
                              "placeholders": [], "notes": []}
    raw_panels = _flatten_panels(doc)
    panels = []
    for index, (panel, row_title) in enumerate(raw_panels):
        converted = _panel(panel, row_title, report)
        converted["id"] = index + 1
        panels.append(converted)
    report["panels"] = len(panels)
    variables = [v for v in (_variable(v, report) for v in (doc.get("templating") or {}).get("list") or []) if v]
    time = doc.get("time") or {}
    refresh = doc.get("refresh") if isinstance(doc.get("refresh"), str) else ""
    try:
        if refresh and spec.duration_seconds(refresh) < 5:
            refresh = "5s"
    except ServiceError:
        refresh = ""
    out = {
        "title": str(doc.get("title") or "Imported dashboard")[:200],
        "description": str(doc.get("description") or ""),
        "tags": [t[:50] for t in doc.get("tags") or [] if isinstance(t, str) and t][:20],
        "time": {"from": _time(time.get("from"), "now-1h"), "to": _time(time.get("to"), "now")},
        "refresh": refresh,
        "variables": variables,
        "panels": panels,
    }
    return spec.normalize(out), report


def _time(value: Any, default: str) -> str:
    try:
        return spec._time_point(value, "time")
    except ServiceError:
        return default


def _flatten_panels(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Every drawable panel with the title of the row it sits in, laid out on the 24-column grid."""
    out: list[tuple[dict[str, Any], str]] = []
    if isinstance(doc.get("rows"), list):
        # Oldest schema: rows stacked vertically, panels flowing left to right by 12-column span.
        y = 0
        for row in doc["rows"]:
            if not isinstance(row, dict):
                continue
            height = _px(row.get("height"), 250)
            x, row_h = 0, 0
            title = str(row.get("title") or "") if row.get("showTitle", True) else ""
            for p in row.get("panels") or []:
                if not isinstance(p, dict):
                    continue
                w = max(1, min(24, int(round(float(p.get("span") or 12) * 2))))
                if x + w > 24:
                    x, y = 0, y + row_h
                    row_h = 0
                h = max(2, math.ceil(_px(p.get("height"), height) / _ROW_HEIGHT_PX))
                out.append(({**p, "gridPos": {"x": x, "y": y, "w": w, "h": h}}, title))
                x += w
                row_h = max(row_h, h)
            y += row_h
        return out
    row_title = ""
    for p in doc.get("panels") or []:
        if not isinstance(p, dict):
            continue
        if p.get("type") == "row":
            row_title = str(p.get("title") or "")
            for nested in p.get("panels") or []:  # a collapsed row keeps its panels inside it
                if isinstance(nested, dict):
                    out.append((nested, row_title))
            continue
        out.append((p, row_title))
    return out


def _px(value: Any, default: int) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    m = re.match(r"^\s*(\d+)", str(value or ""))
    return int(m.group(1)) if m else default


def _grid(p: dict[str, Any]) -> dict[str, int]:
    g = p.get("gridPos") or {}
    w = max(1, min(24, int(g.get("w") or 12)))
    x = max(0, min(24 - w, int(g.get("x") or 0)))
    return {"x": x, "y": max(0, int(g.get("y") or 0)), "w": w, "h": max(1, min(60, int(g.get("h") or 8)))}


def _legacy_macros(expr: str) -> str:
    # [[var]] is Grafana's oldest variable syntax; $interval predates $__interval.
    expr = re.sub(r"\[\[([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\]\]", r"$\1", expr)
    return re.sub(r"\$interval\b", "$__interval", expr)


def _targets(p: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in p.get("targets") or []:
        if not isinstance(t, dict) or t.get("hide") or not isinstance(t.get("expr"), str) or not t["expr"].strip():
            continue
        out.append({"expr": _legacy_macros(t["expr"])[:4000], "legend": str(t.get("legendFormat") or "")[:200],
                    "refId": str(t.get("refId") or chr(ord("A") + len(out)))[:10]})
    return out[:10]


def _unit(p: dict[str, Any]) -> str:
    defaults = (p.get("fieldConfig") or {}).get("defaults") or {}
    unit = defaults.get("unit")
    if unit is None and p.get("type") == "graph":
        yaxes = p.get("yaxes") or [{}]
        unit = (yaxes[0] or {}).get("format") if yaxes else None
    if unit is None:
        unit = p.get("format")
    return _UNIT_MAP.get(str(unit or ""), "short")


def _color(value: Any) -> str:
    text = str(value or "").strip()
    m = re.match(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)", text)
    if m:
        return "#" + "".join(f"{min(255, int(c)):02x}" for c in m.groups())
    if re.match(r"^#[0-9a-fA-F]{3,8}\Z", text):
        return text
    base = text.lower().replace("dark-", "").replace("semi-dark-", "").replace("light-", "").replace("super-", "")
    return base if base in _COLOR_NAMES else "red"


def _thresholds(p: dict[str, Any]) -> list[dict[str, Any]]:
    defaults = (p.get("fieldConfig") or {}).get("defaults") or {}
    steps = (defaults.get("thresholds") or {}).get("steps")
    if isinstance(steps, list):
        return [{"value": s.get("value") if isinstance(s.get("value"), (int, float)) else None,
                 "color": _color(s.get("color"))} for s in steps if isinstance(s, dict)][:20]
    legacy = p.get("thresholds")
    if isinstance(legacy, str) and legacy.strip():  # singlestat: "80,90" with colors [base, warn, crit]
        colors = p.get("colors") or ["green", "orange", "red"]
        out: list[dict[str, Any]] = [{"value": None, "color": _color(colors[0])}]
        for i, v in enumerate(legacy.split(",")[:2]):
            try:
                out.append({"value": float(v), "color": _color(colors[min(i + 1, len(colors) - 1)])})
            except ValueError:
                continue
        return out
    if isinstance(legacy, list):  # graph: [{"value": 80, "colorMode": "critical", "op": "gt"}]
        out = []
        for t in legacy:
            if isinstance(t, dict) and isinstance(t.get("value"), (int, float)):
                mode = str(t.get("colorMode") or "")
                color = {"critical": "red", "warning": "orange", "ok": "green"}.get(mode) or _color(t.get("lineColor"))
                out.append({"value": t["value"], "color": color})
        return out[:20]
    return []


def _panel(p: dict[str, Any], row_title: str, report: dict[str, Any]) -> dict[str, Any]:
    gtype = str(p.get("type") or "")
    ptype = _TYPE_MAP.get(gtype)
    defaults = (p.get("fieldConfig") or {}).get("defaults") or {}
    options: dict[str, Any] = {"row": row_title} if row_title else {}
    title = str(p.get("title") or "")[:200]
    if ptype is None:
        reason = (f"Grafana panel type '{gtype or 'unknown'}' is not supported by the portal; "
                  "it was kept as a placeholder.")
        report["placeholders"].append({"title": title, "type": gtype})
        return {"type": "placeholder", "title": title, "gridPos": _grid(p), "targets": _targets(p),
                "options": {**options, "reason": reason, "grafanaType": gtype}}
    if ptype == "text":
        content = (p.get("options") or {}).get("content") or p.get("content") or ""
        options["content"] = str(content)[:5000]
        options["mode"] = (p.get("options") or {}).get("mode") or p.get("mode") or "markdown"
    if gtype == "graph" and p.get("bars") and not p.get("lines", True):
        ptype = "bar"
    calcs = ((p.get("options") or {}).get("reduceOptions") or {}).get("calcs") or [p.get("valueName") or "last"]
    if ptype in ("stat", "gauge", "bar"):
        options["reduce"] = _REDUCERS.get(str(calcs[0]) if calcs else "last", "last")
    legend = (p.get("options") or {}).get("legend") or p.get("legend") or {}
    show_legend = legend.get("showLegend", legend.get("show", True)) if isinstance(legend, dict) else True
    if p.get("stack") or ((defaults.get("custom") or {}).get("stacking") or {}).get("mode") in ("normal", "percent"):
        options["stack"] = True
    decimals = defaults.get("decimals", p.get("decimals"))
    return {
        "type": ptype,
        "title": title,
        "description": str(p.get("description") or "")[:2000],
        "targets": _targets(p),
        "unit": _unit(p),
        "decimals": decimals if isinstance(decimals, int) and 0 <= decimals <= 10 else None,
        "min": defaults.get("min") if isinstance(defaults.get("min"), (int, float)) else None,
        "max": defaults.get("max") if isinstance(defaults.get("max"), (int, float)) else None,
        "thresholds": _thresholds(p),
        "legend": {"show": bool(show_legend)},
        "gridPos": _grid(p),
        "options": options,
    }


def _variable(v: Any, report: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(v, dict):
        return None
    name, vtype = str(v.get("name") or ""), str(v.get("type") or "")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z", name) or name.startswith("__"):
        report["notes"].append(f"variable {name!r} skipped: not a usable name")
        return None
    if vtype == "datasource":
        report["notes"].append(f"datasource variable {name!r} dropped: the portal queries the org's datasource")
        return None
    query = v.get("query")
    if isinstance(query, dict):  # newer Grafana stores {"query": "...", "refId": ...}
        query = query.get("query")
    query = _legacy_macros(str(query or ""))
    current = (v.get("current") or {}).get("value") if isinstance(v.get("current"), dict) else None
    if isinstance(current, list):
        current = [str(c) for c in current]
    elif current is not None:
        current = str(current)
    base = {"name": name, "label": str(v.get("label") or "")[:100], "multi": bool(v.get("multi")),
            "includeAll": bool(v.get("includeAll")), "current": current}
    if vtype == "query":
        if spec.parse_label_values(query):
            return {**base, "type": "query", "query": query, "options": []}
        report["notes"].append(f"variable {name!r}: query {query[:80]!r} is not label_values(); kept as a custom list")
        opts = [current] if isinstance(current, str) and current and not current.startswith("$") else []
        return {**base, "type": "custom", "query": "", "options": opts}
    if vtype == "interval":
        opts = [o.strip() for o in query.split(",") if re.match(r"^\d+[smhdw]\Z", o.strip())]
        if not opts:
            opts = ["1m", "5m", "15m", "1h"]
        if current not in opts:
            current = opts[0]
        return {**base, "type": "interval", "query": "", "options": opts[:50], "current": current}
    # custom, constant, textbox, adhoc: a fixed list of values
    options = [o["value"] for o in v.get("options") or []
               if isinstance(o, dict) and isinstance(o.get("value"), str)]
    if not options:
        options = [o.strip() for o in re.split(r"(?<!\\),", query) if o.strip()] if query else []
    options = [o for o in options if o != "$__all"][:500]
    if vtype not in ("custom", "constant", "textbox"):
        report["notes"].append(f"variable {name!r} of type {vtype!r} kept as a custom list")
    return {**base, "type": "custom", "query": "", "options": options}
