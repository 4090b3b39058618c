"""Readiness probes of the configured backends. Apps that own a backend register a provider of probes
(e.g. metrics_app: one per stored datasource), so /readyz needs no knowledge of app models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings

Check = tuple[str, bool, Callable[[], Any]]
_providers: list[Callable[[], list[Check]]] = []


def register(provider: Callable[[], list[Check]]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def http_ready(url: str, path: str = "/-/ready") -> Callable[[], Any]:
    def run() -> None:
        httpx.get(url.rstrip("/") + path, timeout=2.0).raise_for_status()

    return run


def backend_checks() -> list[Check]:
    """(name, required, probe) per configured backend. Backends are optional: the portal still serves
    its own pages, and the affected panels say which backend is down."""
    checks: list[Check] = []
    if settings.PROMETHEUS_URL:
        checks.append(("prometheus", False, http_ready(settings.PROMETHEUS_URL)))
    if settings.ALERTMANAGER_URL:
        checks.append(("alertmanager", False, http_ready(settings.ALERTMANAGER_URL)))
    for provider in _providers:
        checks.extend(provider())
    return checks
