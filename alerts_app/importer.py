"""Import an existing Prometheus rule file into an org: alerting rules become portal rules (the org
matcher is injected at render time), recording rules are kept as the org's recording rules. `services.import_rules`
saves them."""

from __future__ import annotations

from typing import Any

import yaml

from metrics_app.labels import org_label
from portal.errors import ServiceError
from portal.tenancy.models import Organization

from . import checks
from .models import RecordingRule, Rule, RuleKind, Severity
from .validation import RuleInvalid, promql_problem, valid_duration, validate_rule


def parse(text: str) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ServiceError(400, "invalid_rule_file", f"not a YAML rule file: {exc}", {"field": "file"}) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise ServiceError(400, "invalid_rule_file", "a rule file has a top-level 'groups' list", {"field": "file"})
    groups: list[dict[str, Any]] = doc["groups"]
    return groups


def rules_from_file(org: Organization, text: str) -> tuple[list[Rule], list[RecordingRule]]:
    """The file's alerting and recording rules as unsaved rows of `org`, every one validated."""
    groups = parse(text)
    try:
        # One promtool run checks every template of the file as Prometheus would.
        checks.check_rules(text)
    except checks.CheckFailed as exc:
        raise ServiceError(400, "invalid_rule_file", f"promtool check rules: {exc.output}", {"field": "file"}) from exc
    alerts: list[Rule] = []
    records: list[RecordingRule] = []
    for gi, group in enumerate(groups):
        gname = str(group.get("name") or f"imported-{gi}")
        for ri, raw in enumerate(group.get("rules") or []):
            where = f"groups[{gi}].rules[{ri}]"
            expr = str(raw.get("expr", "")).strip()
            if "record" in raw:
                if problem := promql_problem(org, expr):
                    code, err = problem
                    raise ServiceError(400, code, f"{where}.expr: {err}", {"field": f"{where}.expr"})
                records.append(RecordingRule(org=org, group=gname, record=str(raw["record"]), expr=expr,
                                             labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()}))
                continue
            labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
            severity = labels.pop("severity", Severity.WARNING)
            if severity not in Severity.values:
                labels["original_severity"] = severity
                severity = Severity.CRITICAL if severity in ("page", "error", "high") else Severity.WARNING
            labels.pop(org_label(org)[0], None)
            data: dict[str, Any] = {
                    "name": str(raw.get("alert", "")), "group": gname, "kind": RuleKind.PROMQL, "expr": expr,
                    "for_duration": str(raw.get("for", "0s")), "severity": severity, "labels": labels,
                    "annotations": {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()}}
            if not valid_duration(str(data["for_duration"])):
                raise ServiceError(400, "invalid", f"{where}.for: bad duration", {"field": f"{where}.for"})
            try:
                validate_rule(org, data, check_templates=False)
            except RuleInvalid as exc:
                raise ServiceError(400, exc.code, f"{where} ({data['name']}): {exc.message}",
                                   {"field": f"{where}.{exc.field}", "errors": exc.errors, **exc.extra}) from exc
            alerts.append(Rule(org=org, **data))
    return alerts, records
