"""Send realistic demo logs and traces for every org to the portal's own OTLP/HTTP receiver (`make run`).

Each simulated request crosses api-router → user-org-service → analytics-service with one trace and one
correlation id, logs on each hop, some slow, some failing, and the occasional authentication failure.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from portal.backends.errors import BackendError
from portal.backends.otlp_sender import OtlpSender
from portal.tenancy import services
from portal.tenancy.auth import TokenError, ingest_token_org
from portal.tenancy.models import Organization

ROUTES = ["/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/images", "/v1/audio/transcriptions"]
MODELS = ["gpt-large", "gpt-small", "embed-v3", "whisper-2", "vision-1"]
EXCEPTIONS = [("ConnectionResetError", "upstream connection reset by model backend"),
              ("TimeoutError", "model backend did not answer within 30 s"),
              ("InvalidApiKey", "API key revoked or unknown")]


def _attrs(**kv: Any) -> list[dict[str, Any]]:
    out = []
    for k, v in kv.items():
        if isinstance(v, bool):
            out.append({"key": k, "value": {"boolValue": v}})
        elif isinstance(v, int):
            out.append({"key": k, "value": {"intValue": str(v)}})
        elif isinstance(v, float):
            out.append({"key": k, "value": {"doubleValue": v}})
        else:
            out.append({"key": k, "value": {"stringValue": str(v)}})
    return out


def request_timing(latency_ms: float, form: int) -> dict[str, Any]:
    """A request's duration as SDKs write it: "123ms" under `latency` (with `latency_ms` alongside), a number
    of milliseconds, or seconds under OpenTelemetry's `http.server.request.duration`. `latency>500ms` finds
    each of them (docs/logs.md, Durations)."""
    if form == 0:
        return {"latency": f"{latency_ms:.0f}ms", "latency_ms": round(latency_ms, 1)}
    if form == 1:
        return {"latency_ms": round(latency_ms, 1)}
    return {"http.server.request.duration": round(latency_ms / 1000, 4)}


def simulate_request(org: str, now_ns: int, rng: random.Random | None = None) -> tuple[
        dict[str, list[Any]], dict[str, list[Any]]]:
    """One request across three services: (logs per service, spans per service). Slow requests take over
    500 ms (`latency>500ms` finds them all), the others under. `rng` makes a run repeatable (tests)."""
    r = rng or random.Random()
    trace_id, corr = f"{r.getrandbits(128):032x}", f"{r.getrandbits(64):016x}"
    route, model, user = r.choice(ROUTES), r.choice(MODELS), str(r.randint(1, 60))
    slow = r.random() < 0.08
    failed = r.random() < 0.05
    auth_failed = r.random() < 0.04
    latency_ms = 520 + r.lognormvariate(5.5, 0.6) if slow else min(r.lognormvariate(4.3, 0.5), 480.0)
    status = 500 if failed else (401 if auth_failed else 200)
    logs: dict[str, list[Any]] = {"api-router": [], "user-org-service": [], "analytics-service": []}
    spans: dict[str, list[Any]] = {"api-router": [], "user-org-service": [], "analytics-service": []}
    start = now_ns - int(latency_ms * 1e6)
    root, auth_span, usage_span = (f"{r.getrandbits(64):016x}" for _ in range(3))
    exc = random.choice(EXCEPTIONS)

    def span(svc: str, sid: str, parent: str, name: str, t0: int, dur_ms: float, err: bool, **a: Any) -> None:
        spans[svc].append({
            "traceId": trace_id, "spanId": sid, "parentSpanId": parent, "name": name, "kind": 2,
            "startTimeUnixNano": str(t0), "endTimeUnixNano": str(t0 + int(dur_ms * 1e6)),
            "attributes": _attrs(**a, correlation_id=corr, org_id=org),
            "status": {"code": 2 if err else 1, "message": "upstream error" if err else ""},
            # A failed span records its exception as OpenTelemetry SDKs do: an `exception` event.
            "events": [{"timeUnixNano": str(t0 + int(dur_ms * 1e6)), "name": "exception", "attributes": _attrs(**{
                "exception.type": exc[0], "exception.message": exc[1]})}] if err else [],
        })

    def log(svc: str, sid: str, level: str, body: str, t: int, **a: Any) -> None:
        sev = {"debug": 5, "info": 9, "warn": 13, "error": 17}[level]
        logs[svc].append({
            "timeUnixNano": str(t), "severityNumber": sev, "severityText": level.upper(), "body": {"stringValue": body},
            "traceId": trace_id, "spanId": sid, "attributes": _attrs(**a, correlation_id=corr, user_id=user),
        })

    span("api-router", root, "", f"POST {route}", start, latency_ms, failed, **{
        "http.route": route, "http.status_code": status, "model": model})
    span("user-org-service", auth_span, root, "authenticate", start + 1_000_000, 4.0, auth_failed, user_id=user)
    log("user-org-service", auth_span, "warn" if auth_failed else "debug",
        f"auth_failure: invalid API key for user {user}" if auth_failed else f"token verified for user {user}",
        start + 2_000_000, event="auth_failure" if auth_failed else "auth_ok",
        # The caller's address and key, for the security investigation's per-address and per-key timelines.
        **{"client.address": f"203.0.113.{int(user) % 8 + 1}",
           "api_key": f"{org}-{'dev' if int(user) % 3 else 'prod'}"})
    if not auth_failed:
        span("analytics-service", usage_span, root, "record_usage", start + 6_000_000, latency_ms * 0.1, False,
             model=model)
        log("analytics-service", usage_span, "info", f"usage event recorded model={model}", start + 7_000_000,
            model=model, tokens=r.randint(20, 4000))
    level = "error" if failed else ("warn" if slow else "info")
    msg = ("upstream connection reset by model backend" if failed else
           f"{'slow request' if slow else 'request served'} {route} model={model}")
    log("api-router", root, level, msg, now_ns, route=route, status=status, model=model,
        **request_timing(latency_ms, r.choices((0, 1, 2), weights=(3, 1, 1))[0]))
    return logs, spans


def otlp_bodies(org: str, n: int, rng: random.Random | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    now = time.time_ns()
    logs: dict[str, list[Any]] = {}
    spans: dict[str, list[Any]] = {}
    for i in range(n):
        lg, sp = simulate_request(org, now - i * 37_000_000, rng)
        for svc, items in lg.items():
            logs.setdefault(svc, []).extend(items)
        for svc, items in sp.items():
            spans.setdefault(svc, []).extend(items)

    def res(svc: str) -> dict[str, Any]:
        return {"attributes": _attrs(**{"service.name": svc, "service.instance.id": f"{svc}-0",
                                        "deployment.environment": "demo"})}

    log_body = {"resourceLogs": [{"resource": res(s), "scopeLogs": [{"scope": {"name": "demo"}, "logRecords": r}]}
                                 for s, r in logs.items() if r]}
    span_body = {"resourceSpans": [{"resource": res(s), "scopeSpans": [{"scope": {"name": "demo"}, "spans": r}]}
                                   for s, r in spans.items() if r]}
    return log_body, span_body


def demo_tokens() -> dict[str, str]:
    """One "demo-telemetry" ingest token per org, kept (mode 0600) in the var dir and reused while it is
    valid, so that each `make run` does not add another token to every org's list."""
    path = Path(settings.VAR_DIR) / "demo-telemetry-tokens.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    tokens: dict[str, str] = {}
    for org in Organization.objects.all():
        secret = saved.get(org.label_value) if isinstance(saved, dict) else None
        if not isinstance(secret, str) or not _usable(org, secret):
            secret = services.create_ingest_token(org, "demo-telemetry")[1]
        tokens[org.label_value] = secret
    path.touch(mode=0o600)
    path.write_text(json.dumps(tokens))
    return tokens


def _usable(org: Organization, secret: str) -> bool:
    try:
        return ingest_token_org(secret) == org
    except TokenError:
        return False


class Command(BaseCommand):
    help = "Send demo logs and traces for every org to the portal's OTLP receiver until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portal", default="http://127.0.0.1:8000")
        parser.add_argument("--interval", type=float, default=3.0)
        parser.add_argument("--per-batch", type=int, default=8)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        tokens = demo_tokens()
        sender = OtlpSender(opts["portal"])
        try:
            while True:
                for org, token in tokens.items():
                    logs, spans = otlp_bodies(org, opts["per_batch"])
                    for path, body in (("/otlp/v1/logs", logs), ("/otlp/v1/traces", spans)):
                        try:
                            sender.send(path, body, token)
                        except BackendError as e:
                            self.stderr.write(f"{path}: {e}")
                if opts["once"]:
                    return
                time.sleep(opts["interval"])
        finally:
            sender.close()
