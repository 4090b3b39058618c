"""Strict validation: names and ids are matched against the whole string (`\\Z`, never a bare `$`, which
also accepts a trailing newline), and the Prometheus read API answers any label or metric name with a 200
or a 400 in Prometheus's error format, never a 500. Run against a real Prometheus holding three orgs."""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from portal.tenancy import services
from portal.tenancy.models import Organization
from tests import procs, source_ast
from tests.metrics import remote_write
from tests.metrics.conftest import three_org_series

pytestmark = [pytest.mark.django_db, pytest.mark.backends]
ROOT = Path(__file__).resolve().parents[2]
BASE = "/prometheus/api/v1"
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
ODD = ["", "org_id\n", "org_id\r\n", "\norg_id", "org_id\x00", "__name__\n", "job ", " job", "1job", "jöb",
       "名前", "a/b", "a/values", "..", "org_id%0A", "{org_id}", 'org_id="globex"', "a" * 5000 + "\n", "\u2028"]
VALID = ["__name__", "org_id", "job", "secret", "_", "a" * 5000]
NAMES = st.one_of(
    st.sampled_from(ODD + VALID),
    st.text(max_size=40),  # any unicode: newlines, controls, empty
    st.from_regex(LABEL_NAME, fullmatch=True),
    st.from_regex(LABEL_NAME, fullmatch=True).map(lambda s: s + "\n"),
)
PROPERTY = hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def prom() -> Iterator[procs.Proc]:
    p = procs.start_prometheus()
    remote_write.push(p.url + "/api/v1/write", three_org_series(int(time.time() * 1000)))
    yield p
    p.cleanup()


@pytest.fixture
def acme(settings: Any, prom: procs.Proc, org_a: Organization, alice: Any, org_b: Organization) -> Client:
    settings.PROMETHEUS_URL = prom.url
    _, secret = services.create_api_token(org_a, alice, "strict-validation", "read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _body(resp: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resp.content)
    return data


def _assert_prom_400(resp: Any) -> None:
    assert resp.status_code == 400, resp.content[:300]
    body = _body(resp)
    assert body["status"] == "error" and body["errorType"] == "bad_data"


def test_label_name_with_a_trailing_newline_is_400_not_500(acme: Client) -> None:
    resp = acme.get(f"{BASE}/label/org_id%0A/values")
    _assert_prom_400(resp)
    assert "invalid label name: 'org_id\\n'" in _body(resp)["error"]
    ok = acme.get(f"{BASE}/label/org_id/values")
    assert ok.status_code == 200 and _body(ok)["data"] == ["acme"]  # the org's own value, nothing else


@given(name=NAMES)
@PROPERTY
def test_label_values_answers_any_name_with_200_or_400(acme: Client, name: str) -> None:
    resp = acme.get(f"{BASE}/label/{quote(name, safe='')}/values")
    if LABEL_NAME.fullmatch(name):
        assert resp.status_code == 200, resp.content[:300]  # reached Prometheus
        assert _body(resp)["status"] == "success"
    else:
        _assert_prom_400(resp)  # refused before any backend call
        assert "invalid label name" in _body(resp)["error"]


@given(name=NAMES)
@PROPERTY
def test_metadata_answers_any_metric_name_with_200_or_400(acme: Client, name: str) -> None:
    resp = acme.get(f"{BASE}/metadata", {"metric": name})
    if name == "" or METRIC_NAME.fullmatch(name):
        assert resp.status_code == 200, resp.content[:300]
    else:
        _assert_prom_400(resp)
        assert "invalid metric name" in _body(resp)["error"]


@given(name=NAMES)
@PROPERTY
def test_series_and_labels_with_any_label_name_in_match_never_500(acme: Client, name: str) -> None:
    """The name goes into a selector, so some odd names still make valid PromQL (`a="b",c`): the claim is
    200 or a 4xx in Prometheus's format, and 200 for every well-formed name that is not the org label."""
    selector = f'{{{name}="x"}}'
    for endpoint in ("series", "labels"):
        resp = acme.get(f"{BASE}/{endpoint}", {"match[]": selector})
        assert resp.status_code in (200, 400, 403, 422), (endpoint, resp.status_code, resp.content[:300])
        if resp.status_code != 200:
            assert _body(resp)["status"] == "error"
        if LABEL_NAME.fullmatch(name) and name != "org_id":
            assert resp.status_code == 200, (endpoint, resp.content[:300])


@pytest.mark.parametrize("value", ["acme\n", "acme\r\n", "ac me", ""])
def test_org_label_value_and_label_name_validators_refuse_trailing_newline(value: str) -> None:
    org = Organization(slug="acme-x", name="Acme X", label_value=value)
    with pytest.raises(ValidationError) as err:
        org.full_clean()
    assert "label_value" in err.value.message_dict
    org = Organization(slug="acme-y", name="Acme Y", label_value="acme_y", label_name="org_id\n")
    with pytest.raises(ValidationError) as err:
        org.full_clean()
    assert "label_name" in err.value.message_dict


def test_trace_ids_with_a_trailing_newline_are_refused(org_a: Organization, alice: Any) -> None:
    from tests.conftest import token_client

    api = token_client(org_a, alice, "read")
    resp = api.get(f"/api/v1/traces/{'a' * 32}%0A")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_trace_id"


_VALIDATING_CALLS = {"compile", "match", "search", "RegexValidator"}
_PACKAGES = ["portal", "alerts_app", "dashboards_app", "logs_app", "metrics_app", "metrics_in_app"]


def _anchored_with_dollar(path: Path) -> list[str]:
    found = []
    for node in ast.walk(source_ast.parse_file(path)):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        pattern = node.args[0].value
        if (name in _VALIDATING_CALLS and isinstance(pattern, str) and pattern.startswith("^")
                and pattern.endswith("$") and not pattern.endswith("\\$")):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {pattern}")
    return found


def test_no_validation_pattern_is_anchored_with_a_bare_dollar() -> None:
    """`^…$` with match/search accepts "value\\n": every whole-string check ends in `\\Z` (or uses fullmatch).
    Migrations are history (they record the validators of their time) and are not scanned."""
    offenders = [hit for pkg in _PACKAGES for path in sorted((ROOT / pkg).rglob("*.py"))
                 if "migrations" not in path.parts for hit in _anchored_with_dollar(path)]
    assert offenders == []
