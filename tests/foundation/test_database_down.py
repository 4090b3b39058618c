"""The portal's own database unreachable (a real connection refused, not a mock): every caller gets a 503
naming the database, with Retry-After, in its own format — telemetry senders retry a 503 and drop a 500 —
and the portal answers again as soon as the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from tests.logs.conftest import logs_request, post_otlp
from tests.procs import free_port

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="an in-memory SQLite test database cannot be made unreachable; CI runs on PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


@contextmanager
def database_unreachable() -> Iterator[None]:
    """Point the connection at a port nothing listens on, as when PostgreSQL is down."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def _error(resp: Any) -> dict[str, Any]:
    return resp.json()["error"]


def test_every_kind_of_caller_gets_a_503_naming_the_database(client: Any, api_alice: Any, web_alice: Any,
                                                             ingest_a: str) -> None:
    otlp_body = logs_request([{"body": "kept by the sender, sent again later"}]).SerializeToString()
    with database_unreachable():
        otlp = post_otlp(client, "/otlp/v1/logs", otlp_body, ingest_a)
        assert otlp.status_code == 503 and otlp["Retry-After"] == "5"
        api = api_alice.get("/api/v1/logs/search", {"q": "level=error"})
        assert api.status_code == 503 and api["Retry-After"] == "5"
        assert _error(api)["code"] == "backend_unavailable" and _error(api)["details"] == {"backend": "database"}
        prom = api_alice.get("/prometheus/api/v1/query", {"query": "up"})
        assert prom.status_code == 503
        assert prom.json()["status"] == "error" and prom.json()["errorType"] == "unavailable"
        page = web_alice.get("/o/acme/logs/")
        assert page.status_code == 503 and "database is unavailable" in page.content.decode()
    # Back: the sender's retry lands.
    assert post_otlp(client, "/otlp/v1/logs", otlp_body, ingest_a).status_code == 200
    found = api_alice.get("/api/v1/logs/search", {"q": '"sent again later"'})
    assert found.status_code == 200 and len(found.json()["records"]) == 1
