"""Schemathesis over the whole OpenAPI schema: no 500 and no response that breaks the schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from portal.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


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
