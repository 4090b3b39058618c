"""Alerting fixtures: rule dir / Alertmanager config in a temp dir, and real Prometheus + Alertmanager
wired to them (settings point at the processes the test started)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import procs


@pytest.fixture
def alert_files(tmp_path: Path, settings: Any) -> Path:
    settings.PROMETHEUS_RULES_DIR = tmp_path / "rules"
    settings.ALERTMANAGER_CONFIG_FILE = tmp_path / "am" / "alertmanager.yml"
    settings.PROMETHEUS_URL = ""
    settings.ALERTMANAGER_URL = ""
    settings.PORTAL_VAR_DIR = tmp_path
    (tmp_path / "rules").mkdir()
    return tmp_path


@pytest.fixture
def prom_proc(alert_files: Path, settings: Any) -> Iterator[procs.Proc]:
    p = procs.start_prometheus(rules_dir=settings.PROMETHEUS_RULES_DIR)
    settings.PROMETHEUS_URL = p.url
    yield p
    p.cleanup()


@pytest.fixture
def am_proc(alert_files: Path, settings: Any) -> Iterator[procs.Proc]:
    p = procs.start_alertmanager()
    settings.ALERTMANAGER_CONFIG_FILE = p.files["config"]
    settings.ALERTMANAGER_URL = p.url
    yield p
    p.cleanup()


@pytest.fixture
def backends(prom_proc: procs.Proc, am_proc: procs.Proc) -> tuple[procs.Proc, procs.Proc]:
    return prom_proc, am_proc


def run_commit_hooks(callbacks: Any) -> None:
    """Run on_commit callbacks captured by django_capture_on_commit_callbacks (the queued syncs)."""
    for cb in callbacks:
        cb()
