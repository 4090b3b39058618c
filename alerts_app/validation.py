"""Field-level validation of a rule: PromQL (parsed and org-enforced exactly as the metrics API does),
durations, label names and annotation templates. Errors name the field they belong to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dashboards_app.interpolate import expand_prices  # $__price_per_1k(…) → the staff price table
from metrics_app.labels import org_label
from portal.tenancy.models import Organization

from . import checks, templating
from .models import RuleKind

DURATION_RE = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?\Z")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
RULE_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
# Labels the portal sets itself; a user label of the same name would change routing or isolation.
RESERVED_LABELS = {"portal_rule", "portal_notify", "alertname", "severity"}
ANNOTATION_KEYS = {"summary", "description", "runbook_url"}


class RuleInvalid(Exception):
    """Per-field errors. A value is a message, or {key: message} for one label or annotation; `code` and
    `extra` (e.g. a position and caret for a log search) go into the API error as they are."""

    def __init__(self, errors: Mapping[str, str | dict[str, str]], *, code: str = "invalid",
                 extra: dict[str, Any] | None = None) -> None:
        self.errors: dict[str, str | dict[str, str]] = dict(errors)
        self.code = code
        self.extra = extra or {}
        super().__init__(self.message)

    @property
    def field(self) -> str:
        return next(iter(self.errors))

    @property
    def message(self) -> str:
        """The first error as `field: message` or `field.key: message`."""
        value = self.errors[self.field]
        if isinstance(value, dict):
            key, text = next(iter(value.items()))
            return f"{self.field}.{key}: {text}"
        return f"{self.field}: {value}"


def valid_duration(value: str) -> bool:
    return bool(value) and bool(DURATION_RE.match(value)) and value != ""


def enforce_promql(org: Organization, query: str) -> str:
    """The metrics app's enforcer: every selector gets the org matcher; another org's matcher raises."""
    from metrics_app.platform_series import allowed_names
    from metrics_app.promql import enforce

    return enforce(expand_prices(query), *org_label(org), allowed_names)  # platform series read with org_id=""


def promql_problem(org: Organization, query: str) -> tuple[str, str] | None:
    """(code, message) when the PromQL does not parse or names another org: the codes the metrics API
    answers for the same query."""
    from metrics_app.promql import ForeignOrgMatcher, PromQLError

    try:
        enforce_promql(org, query)
    except PromQLError as exc:
        pos = getattr(exc, "position", None)
        where = f" (at position {pos})" if pos is not None else ""
        code = "foreign_org_matcher" if isinstance(exc, ForeignOrgMatcher) else "invalid_promql"
        return code, f"{getattr(exc, 'message', str(exc))}{where}"
    return None


def rule_expression(org: Organization, rule: Any) -> str:
    """The PromQL the user means, before enforcement: threshold rules become `(query) cmp value`."""
    if rule.kind == RuleKind.THRESHOLD:
        return expand_prices(f"({rule.query}) {rule.comparator} {_number(rule.threshold)}")
    return expand_prices(str(rule.expr))


def _number(value: float | None) -> str:
    if value is None:
        return "0"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def validate_rule(org: Organization, data: dict[str, Any], *, check_templates: bool = True) -> None:
    """Check a rule's fields (a dict shaped like the model). Raises RuleInvalid with per-field messages."""
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}  # field -> error code, when more specific than "invalid"
    kind = data.get("kind", RuleKind.THRESHOLD)
    name = str(data.get("name", ""))
    if not RULE_NAME_RE.match(name.replace(" ", "_").replace("-", "_")):
        errors["name"] = "letters, digits, spaces, '-', '_' and ':' only"
    if kind == RuleKind.THRESHOLD:
        if not str(data.get("query", "")).strip():
            errors["query"] = "a metric query is required"
        elif problem := promql_problem(org, str(data["query"])):
            codes["query"], errors["query"] = problem
        if data.get("threshold") is None:
            errors["threshold"] = "a threshold value is required"
    elif kind == RuleKind.PROMQL:
        if not str(data.get("expr", "")).strip():
            errors["expr"] = "a PromQL expression is required"
        elif problem := promql_problem(org, str(data["expr"])):
            codes["expr"], errors["expr"] = problem
    elif kind == RuleKind.LOG:
        if not str(data.get("log_query", "")).strip():
            errors["log_query"] = "a log search is required"
        if int(data.get("log_count") or 0) < 1:
            errors["log_count"] = "at least 1"
        if not 1 <= int(data.get("log_window_minutes") or 0) <= 1440:
            errors["log_window_minutes"] = "between 1 and 1440 minutes"
    else:
        errors["kind"] = f"unknown rule kind {kind!r}"
    duration = str(data.get("for_duration", "0s") or "0s")
    if not valid_duration(duration):
        errors["for_duration"] = f"{duration!r} is not a duration like 30s, 5m, 1h30m"
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        errors["labels"] = "an object of label name → value"
    else:
        for key, value in labels.items():
            if not LABEL_NAME_RE.match(str(key)) or str(key).startswith("__"):
                errors["labels"] = f"{key!r} is not a valid label name"
            elif key in RESERVED_LABELS or key == org_label(org)[0]:
                errors["labels"] = f"{key!r} is set by the portal"
            elif not isinstance(value, str):
                errors["labels"] = f"the value of {key!r} must be a string"
    annotations = data.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        errors["annotations"] = "an object of annotation name → text"
    elif bad := [k for k in annotations if not LABEL_NAME_RE.match(str(k))]:
        errors["annotations"] = f"{bad[0]!r} is not a valid annotation name"
    if errors:
        raise RuleInvalid(errors, code=codes.get(next(iter(errors)), "invalid"))
    if kind == RuleKind.LOG:
        check_log_query(str(data.get("log_query", "")))
    check_rule_templates(labels, annotations)
    if kind != RuleKind.LOG and check_templates:
        _check_templates_with_promtool(labels, annotations, duration)


def check_rule_templates(labels: dict[str, Any], annotations: dict[str, Any]) -> None:
    """The template allow-list (alerts_app/templating.py) for every org-owned rule, whatever path it took
    (API, rule-file import, catalog template); render runs it again before a rule reaches Prometheus."""
    if refused := templating.refused_templates(labels, annotations):
        field, key, exc = refused
        raise RuleInvalid({field: {key: exc.message}}, extra={"key": key, "position": exc.position})


def check_log_query(query: str) -> None:
    """A log rule's search, checked as the logs search API checks one (same parser, same position and
    caret); the rule always searches its own org, so any `org=` term is refused."""
    from django.db import connection

    from logs_app.query import QueryError, parse, split_org_terms
    from logs_app.query.sql import compile_query

    try:
        if "\x00" in query:
            raise QueryError("The query contains a NUL character", query.index("\x00"), query)
        node, org_terms = split_org_terms(parse(query))
        if org_terms:
            raise QueryError("a log rule always searches its own organization; remove org=",
                             org_terms[0].position, query)
        compile_query(node, connection.vendor)
    except QueryError as exc:
        raise RuleInvalid({"log_query": str(exc)}, code="invalid_query",
                          extra={**exc.details(), "query": query,
                                 "caret": " " * exc.position + "^"}) from exc


def _check_templates_with_promtool(labels: dict[str, str], annotations: dict[str, str], duration: str) -> None:
    """promtool parses label and annotation templates exactly as Prometheus will; ask it, one field at a
    time only when the combined check fails, so the error points at the field."""
    if not any("{{" in v for v in [*labels.values(), *annotations.values()]):
        return
    import yaml

    def doc(lbl: dict[str, str], ann: dict[str, str]) -> str:
        rule = {"alert": "check", "expr": "vector(1)", "for": duration, "labels": lbl, "annotations": ann}
        return yaml.safe_dump({"groups": [{"name": "check", "rules": [rule]}]})

    try:
        checks.check_rules(doc(labels, annotations))
        return
    except checks.CheckFailed:
        pass
    for field, values in (("labels", labels), ("annotations", annotations)):
        for key, value in values.items():
            single = {key: value}
            try:
                checks.check_rules(doc(single if field == "labels" else {}, single if field == "annotations" else {}))
            except checks.CheckFailed as exc:
                detail = exc.output.splitlines()[-1] if exc.output else "invalid template"
                raise RuleInvalid({field: f"{key}: {detail}"}) from exc
    raise RuleInvalid({"annotations": "promtool rejected the templates"})
