"""The portal's dashboard document: one JSON shape for the DB, the API, export/import and the UI.

`normalize(doc)` validates a document and returns it in canonical form (defaults filled, unknown keys
dropped), raising ServiceError(400) naming the first bad field, so nothing half-valid is ever stored.
"""

from __future__ import annotations

import re
from typing import Any

from portal.errors import ServiceError

PANEL_TYPES = ("timeseries", "stat", "gauge", "bar", "table", "heatmap", "text", "placeholder")
UNITS = ("none", "short", "bytes", "seconds", "ms", "percent", "percentunit", "reqps", "ops", "bps")
VARIABLE_TYPES = ("query", "custom", "interval")
SCHEMA_VERSION = 1
GRID_COLUMNS = 24

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_RELATIVE = re.compile(r"^now(-\d+[smhdwy])?\Z")
_DURATION = re.compile(r"^\d+[smhdw]\Z")
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-z]{3,20})\Z")


def _bad(path: str, message: str) -> ServiceError:
    return ServiceError(400, "invalid_dashboard", f"{path}: {message}", {"field": path})


def _str(value: Any, path: str, *, max_len: int = 2000, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _bad(path, "must be a string")
    if required and not value.strip():
        raise _bad(path, "is required")
    if len(value) > max_len:
        raise _bad(path, f"is longer than {max_len} characters")
    return value


def _num(value: Any, path: str, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(path, "must be a number")
    return float(value) if isinstance(value, float) else value


def _time_point(value: Any, path: str) -> str:
    """`now`, `now-6h` or an absolute ISO timestamp / epoch seconds (as a string)."""
    text = _str(value, path, max_len=40, required=True)
    if _RELATIVE.match(text) or re.match(r"^\d{4}-\d\d-\d\dT", text) or re.match(r"^\d{9,11}(\.\d+)?\Z", text):
        return text
    raise _bad(path, "must be now, now-<n><unit> or an absolute time")


def _thresholds(value: Any, path: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise _bad(path, "must be a list of at most 20 steps")
    out: list[dict[str, Any]] = []
    for i, step in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(step, dict):
            raise _bad(p, "must be an object with value and color")
        color = _str(step.get("color", "red"), f"{p}.color", max_len=20)
        if not _COLOR.match(color):
            raise _bad(f"{p}.color", "must be a colour name or #hex")
        out.append({"value": _num(step.get("value"), f"{p}.value"), "color": color})
    # Steps are applied in ascending order; the base step (value null) comes first.
    out.sort(key=lambda s: float("-inf") if s["value"] is None else s["value"])
    return out


def _targets(value: Any, path: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 10:
        raise _bad(path, "must be a list of at most 10 queries")
    out = []
    for i, t in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(t, dict):
            raise _bad(p, "must be an object with expr")
        out.append({
            "expr": _str(t.get("expr"), f"{p}.expr", max_len=4000, required=True),
            "legend": _str(t.get("legend", ""), f"{p}.legend", max_len=200),
            "refId": _str(t.get("refId") or chr(ord("A") + i), f"{p}.refId", max_len=10),
        })
    return out


def _grid(value: Any, path: str, index: int) -> dict[str, int]:
    value = value or {}
    if not isinstance(value, dict):
        raise _bad(path, "must be an object with x, y, w, h")
    grid = {"x": value.get("x", (index % 2) * 12), "y": value.get("y", (index // 2) * 8),
            "w": value.get("w", 12), "h": value.get("h", 8)}
    for key, v in grid.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _bad(f"{path}.{key}", "must be a non-negative integer")
    if not 1 <= grid["w"] <= GRID_COLUMNS or grid["x"] + grid["w"] > GRID_COLUMNS:
        raise _bad(path, f"must fit in {GRID_COLUMNS} columns")
    if not 1 <= grid["h"] <= 60:
        raise _bad(f"{path}.h", "must be 1-60")
    return grid


FORECAST_METHODS = ("linear", "seasonal")
# (default, min seconds, max seconds) of the forecast's durations; history stays within the query range
# limit (METRICS_MAX_RANGE_SECONDS defaults to 32 d).
_FORECAST_DURATIONS = {"horizon": ("30d", 3600, 366 * 86400), "history": ("7d", 3600, 32 * 86400),
                       "season": ("1d", 3600, 7 * 86400)}


def _forecast(value: Any, path: str, targets: list[dict[str, Any]]) -> dict[str, Any]:
    """A timeseries panel's forecast (dashboards_app/forecast.py): which target, method, how far ahead,
    how much history to fit on, and the limit (a number, or a PromQL expression read at the range's end)."""
    if not isinstance(value, dict):
        raise _bad(path, "must be an object with method, horizon, history, limit or limit_expr")
    method = value.get("method", "linear")
    if method not in FORECAST_METHODS:
        raise _bad(f"{path}.method", f"must be one of {', '.join(FORECAST_METHODS)}")
    out: dict[str, Any] = {"method": method}
    for key, (default, low, high) in _FORECAST_DURATIONS.items():
        text = _str(value.get(key) or default, f"{path}.{key}", max_len=10)
        if not _DURATION.match(text) or not low <= _seconds(text) <= high:
            raise _bad(f"{path}.{key}", f"must be a duration like {default}, between {low // 3600}h and "
                                        f"{high // 86400}d")
        out[key] = text
    refs = [t["refId"] for t in targets]
    target = _str(value.get("target") or (refs[0] if refs else "A"), f"{path}.target", max_len=10)
    if refs and target not in refs:
        raise _bad(f"{path}.target", f"must be the refId of one of the panel's queries ({', '.join(refs)})")
    out["target"] = target
    out["limit"] = _num(value.get("limit"), f"{path}.limit")
    out["limit_expr"] = _str(value.get("limit_expr", ""), f"{path}.limit_expr", max_len=4000)
    if out["limit"] is not None and out["limit_expr"]:
        raise _bad(path, "give either limit or limit_expr, not both")
    out["limit_label"] = _str(value.get("limit_label", ""), f"{path}.limit_label", max_len=60)
    return out


def _panel(value: Any, path: str, index: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(path, "must be an object")
    ptype = value.get("type", "timeseries")
    if ptype not in PANEL_TYPES:
        raise _bad(f"{path}.type", f"must be one of {', '.join(PANEL_TYPES)}")
    unit = value.get("unit") or "none"
    if unit not in UNITS:
        raise _bad(f"{path}.unit", f"must be one of {', '.join(UNITS)}")
    legend = value.get("legend") or {}
    if not isinstance(legend, dict):
        raise _bad(f"{path}.legend", "must be an object")
    panel_id = value.get("id", index + 1)
    if isinstance(panel_id, bool) or not isinstance(panel_id, int) or panel_id < 1:
        raise _bad(f"{path}.id", "must be a positive integer")
    decimals = value.get("decimals")
    if decimals is not None and (not isinstance(decimals, int) or not 0 <= decimals <= 10):
        raise _bad(f"{path}.decimals", "must be 0-10")
    options = value.get("options") or {}
    if not isinstance(options, dict):
        raise _bad(f"{path}.options", "must be an object")
    panel = {
        "id": panel_id,
        "type": ptype,
        "title": _str(value.get("title", ""), f"{path}.title", max_len=200),
        "description": _str(value.get("description", ""), f"{path}.description"),
        "targets": _targets(value.get("targets"), f"{path}.targets"),
        "unit": unit,
        "decimals": decimals,
        "min": _num(value.get("min"), f"{path}.min"),
        "max": _num(value.get("max"), f"{path}.max"),
        "thresholds": _thresholds(value.get("thresholds"), f"{path}.thresholds"),
        "legend": {"show": bool(legend.get("show", True))},
        "gridPos": _grid(value.get("gridPos"), f"{path}.gridPos", index),
        "options": options,
    }
    # Only when set (documents without one keep their shape), and only on timeseries panels: a panel
    # switched to another type in the editor drops it rather than failing to save.
    if value.get("forecast") is not None and ptype == "timeseries":
        panel["forecast"] = _forecast(value["forecast"], f"{path}.forecast", panel["targets"])
    if ptype == "placeholder":
        panel["options"] = {**options, "reason": _str(options.get("reason", ""), f"{path}.options.reason")}
    return panel


def _variable(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(path, "must be an object")
    name = _str(value.get("name"), f"{path}.name", max_len=64, required=True)
    if not _VAR_NAME.match(name) or name.startswith("__"):
        raise _bad(f"{path}.name", "must be a variable name (letters, digits, _; not starting with __)")
    vtype = value.get("type", "custom")
    if vtype not in VARIABLE_TYPES:
        raise _bad(f"{path}.type", f"must be one of {', '.join(VARIABLE_TYPES)}")
    options = value.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options) or len(options) > 500:
        raise _bad(f"{path}.options", "must be a list of strings")
    var: dict[str, Any] = {
        "name": name,
        "type": vtype,
        "label": _str(value.get("label", ""), f"{path}.label", max_len=100),
        "query": _str(value.get("query", ""), f"{path}.query", max_len=2000),
        "options": list(options),
        "multi": bool(value.get("multi", False)),
        "includeAll": bool(value.get("includeAll", False)),
        "current": value.get("current"),
    }
    if vtype == "query":
        # label_values(<selector>, <label>) or label_values(<label>), as Grafana writes it.
        if not parse_label_values(var["query"]):
            raise _bad(f"{path}.query", "must be label_values(<label>) or label_values(<selector>, <label>)")
    if vtype == "interval":
        if not var["options"]:
            var["options"] = ["1m", "5m", "15m", "1h"]
        if not all(_DURATION.match(o) for o in var["options"]):
            raise _bad(f"{path}.options", "interval options must be durations like 5m")
    current = var["current"]
    if current is not None and not isinstance(current, (str, list)):
        raise _bad(f"{path}.current", "must be a string or a list")
    return var


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)"
                           r"\s*\Z")


def parse_label_values(query: str) -> tuple[str, str] | None:
    """`label_values(up{job="x"}, instance)` → ('up{job="x"}', 'instance'); match may be ''."""
    m = _LABEL_VALUES.match(query or "")
    if not m:
        return None
    return (m.group("match") or "", m.group("label"))


def normalize(doc: Any) -> dict[str, Any]:
    """Validate a dashboard document and return its canonical form."""
    if not isinstance(doc, dict):
        raise _bad("dashboard", "must be a JSON object")
    tags = doc.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags) or len(tags) > 20:
        raise _bad("tags", "must be a list of at most 20 short strings")
    time = doc.get("time") or {}
    if not isinstance(time, dict):
        raise _bad("time", "must be an object with from and to")
    refresh = doc.get("refresh") or ""
    if not isinstance(refresh, str) or (refresh and not _DURATION.match(refresh)):
        raise _bad("refresh", "must be empty or a duration like 30s")
    if refresh and _seconds(refresh) < 5:
        raise _bad("refresh", "must be at least 5s")
    variables = doc.get("variables") or []
    panels = doc.get("panels") or []
    if not isinstance(variables, list) or len(variables) > 20:
        raise _bad("variables", "must be a list of at most 20 variables")
    if not isinstance(panels, list) or len(panels) > 250:
        raise _bad("panels", "must be a list of at most 250 panels")
    norm_vars = [_variable(v, f"variables[{i}]") for i, v in enumerate(variables)]
    names = [v["name"] for v in norm_vars]
    if len(set(names)) != len(names):
        raise _bad("variables", "names must be unique")
    norm_panels = [_panel(p, f"panels[{i}]", i) for i, p in enumerate(panels)]
    ids = [p["id"] for p in norm_panels]
    if len(set(ids)) != len(ids):
        raise _bad("panels", "panel ids must be unique")
    return {
        "schemaVersion": SCHEMA_VERSION,
        "title": _str(doc.get("title"), "title", max_len=200, required=True).strip(),
        "description": _str(doc.get("description", ""), "description"),
        "tags": sorted(set(tags)),
        "time": {"from": _time_point(time.get("from", "now-1h"), "time.from"),
                 "to": _time_point(time.get("to", "now"), "time.to")},
        "refresh": refresh,
        "variables": norm_vars,
        "panels": norm_panels,
    }


def _seconds(duration: str) -> int:
    n, unit = int(duration[:-1]), duration[-1]
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]


def duration_seconds(duration: str) -> int:
    if not _DURATION.match(duration or ""):
        raise ServiceError(400, "invalid_duration", f"{duration!r} is not a duration like 5m")
    return _seconds(duration)
