"""Readiness probes of the configured backends, one per backend client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings


def _probe(url: str) -> Callable[[], Any]:
    def run() -> None:
        httpx.get(url.rstrip("/") + "/-/ready", timeout=2.0).raise_for_status()

    return run


def backend_checks() -> list[tuple[str, bool, Callable[[], Any]]]:
    """(name, required, probe) per configured backend. Backends are optional: the portal still serves
    its own pages, and the affected panels say the backend is down."""
    checks: list[tuple[str, bool, Callable[[], Any]]] = []
    if settings.PROMETHEUS_URL:
        checks.append(("prometheus", False, _probe(settings.PROMETHEUS_URL)))
    if settings.ALERTMANAGER_URL:
        checks.append(("alertmanager", False, _probe(settings.ALERTMANAGER_URL)))
    return checks
