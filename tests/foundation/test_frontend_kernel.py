"""The browser side has one kernel (static/portal/kernel.js, window.Portal): every page script is built on it,
none builds HTML from strings or calls the API by itself, and every page gets its data the one way
(base.html renders `page_config` as the #page-config JSON script, followed by the kernel)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
TEMPLATES = ROOT / "templates"
KERNEL = STATIC / "portal" / "kernel.js"
PAGE_SCRIPTS = sorted(p for p in STATIC.rglob("*.js") if "vendor" not in p.parts and p != KERNEL)

# Sinks that turn a string into markup; the kernel's el() builds nodes and text instead.
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment",
              "DOMParser")


def test_the_page_scripts_are_the_expected_ones() -> None:
    names = {p.relative_to(STATIC).as_posix() for p in PAGE_SCRIPTS}
    assert {"dashboards_app/dashboard.js", "dashboards_app/explore.js", "dashboards_app/list.js",
            "dashboards_app/panels.js", "alerts_app/alerts.js", "logs_app/logs.js", "logs_app/traces.js",
            "logs_app/trace.js", "logs_app/exports.js", "logs_app/services.js", "logs_app/service.js"} <= names


@pytest.mark.parametrize("script", PAGE_SCRIPTS, ids=lambda p: p.relative_to(STATIC).as_posix())
def test_page_script_is_built_on_the_kernel(script: Path) -> None:
    text = script.read_text()
    assert "window.Portal" in text, f"{script.name} does not use the kernel"
    assert text.startswith("/*") and '"use strict";' in text, f"{script.name}: header comment and strict mode"
    for sink in HTML_SINKS:
        assert sink not in text, f"{script.name} builds HTML from a string ({sink}); use Portal.el"
    # The API client, the page config and the CSRF header live in the kernel only.
    assert "fetch(" not in text and "X-CSRFToken" not in text and "X-Portal-Org" not in text, script.name
    assert "page-config" not in text and "json_script" not in text, script.name


def test_one_kernel_no_other_helper_module() -> None:
    assert KERNEL.is_file()
    assert not [p for p in STATIC.rglob("common.js")], "helper modules belong in the kernel"
    kernel = KERNEL.read_text()
    assert kernel.count("window.Portal = ") == 1
    for sink in HTML_SINKS:
        assert sink not in kernel
    # What the kernel promises: API client with one error type, URL state, escaping, DOM builder, formatters.
    for name in ("class ApiError", "const api = ", "function query(", "const url = ", "function esc(",
                 "function el(", "const format = "):
        assert name in kernel, name


def test_templates_hand_data_to_scripts_one_way() -> None:
    base = (TEMPLATES / "base.html").read_text()
    config_at = base.index('page_config|json_script:"page-config"')
    assert config_at < base.index("portal/kernel.js") < base.index("{% block scripts %}")
    for tpl in TEMPLATES.rglob("*.html"):
        text = tpl.read_text()
        if tpl.name != "base.html":
            assert "json_script" not in text, f"{tpl}: page data goes through page_config"
            assert "portal/kernel.js" not in text, f"{tpl}: base.html loads the kernel"
        assert not re.search(r"<script>(?!\s*</script>)", text), f"{tpl}: inline script; page scripts run by themselves"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["dashboards/", "explore/", "logs/", "traces/", "performance/", "exports/",
                                  "alerts/channels/", "alerts/rules/new/"])
def test_every_scripted_page_gets_the_config_then_the_kernel(path: str, web_alice: Client, org_a: Any) -> None:
    html = web_alice.get(f"/o/acme/{path}").content.decode()
    assert html.count('id="page-config"') == 1
    config = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert config is not None
    data = json.loads(config.group(1))
    assert data["org"] == "acme" and data["api"] == "/api/v1" and data["base"] == "/o/acme" and data["csrf"]
    assert data["page"] and data["can_write"] is True
    page_scripts = [m.start() for m in re.finditer(r'<script src="/static/(dashboards_app|alerts_app|logs_app)/', html)]
    assert page_scripts and html.index("/static/portal/kernel.js") < min(page_scripts)
