"""Schemathesis over the whole OpenAPI schema: no 500 and no response that breaks the schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from portal.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Schemathesis calls the raw WSGI app, whose request signals would close the test's DB connection
    mid-transaction; Django's own test client detaches them the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def backends():
    """Real Prometheus and Alertmanager, so endpoints answer as deployed rather than "not configured"."""
    from tests import procs

    prom, am = procs.start_prometheus(), procs.start_alertmanager()
    yield prom, am
    prom.cleanup()
    am.cleanup()


@pytest.fixture(autouse=True)
def _configured(backends, settings, tmp_path):
    prom, am = backends
    settings.PROMETHEUS_URL = prom.url
    settings.ALERTMANAGER_URL = am.url
    settings.PROMETHEUS_RULES_DIR = prom.files["rules_dir"]
    settings.PROMETHEUS_FILE_SD_DIR = prom.files["file_sd_dir"]
    settings.ALERTMANAGER_CONFIG_FILE = am.files["config"]
    settings.EXPORTS_DIR = tmp_path / "exports"


@pytest.fixture
def write_token(org_a, alice, org_b, charlie):
    from tests.conftest import token_client

    token_client(org_b, charlie)  # another org's data exists while the fuzzer runs
    return token_client(org_a, alice).token


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.django_db
def test_api_holds_its_schema(case, write_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {write_token}"},
                           checks=[not_a_server_error, response_schema_conformance])
