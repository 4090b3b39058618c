"""Shared fixtures: named actors in three orgs (Alice admin of A, Bob viewer of A, Carol editor of A,
Charlie admin of B, an operator), API clients bound to a token, and real backend processes."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal import error_codes
from portal.tenancy import services
from portal.tenancy.models import Organization
from tests import procs

PASSWORD = "Correct-horse-42"
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture
def org_a(db: Any) -> Organization:
    return services.create_org("acme", "Acme Corp", "acme")


@pytest.fixture
def org_b(db: Any) -> Organization:
    return services.create_org("globex", "Globex", "globex")


@pytest.fixture
def org_c(db: Any) -> Organization:
    return services.create_org("initech", "Initech", "initech")


@pytest.fixture
def alice(org_a: Organization) -> Any:
    return services.add_member(org_a, "alice@acme.example", "admin", password=PASSWORD).user


@pytest.fixture
def bob(org_a: Organization) -> Any:
    return services.add_member(org_a, "bob@acme.example", "viewer", password=PASSWORD).user


@pytest.fixture
def carol(org_a: Organization) -> Any:
    return services.add_member(org_a, "carol@acme.example", "editor", password=PASSWORD).user


@pytest.fixture
def charlie(org_b: Organization) -> Any:
    return services.add_member(org_b, "charlie@globex.example", "admin", password=PASSWORD).user


@pytest.fixture
def operator(db: Any) -> Any:
    user = services.get_or_create_user("ops@platform.example", PASSWORD)
    user.is_staff = True
    user.save()
    return user


def token_client(org: Organization, user: Any, scope: str = "write") -> APIClient:
    """An API client authenticated the way scripts are: a bearer token bound to one org."""
    _, secret = services.create_api_token(org, user, f"test-{scope}", scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.token = secret  # type: ignore[attr-defined]
    return client


@pytest.fixture
def api_alice(org_a: Organization, alice: Any) -> APIClient:
    return token_client(org_a, alice)


@pytest.fixture
def api_bob(org_a: Organization, bob: Any) -> APIClient:
    return token_client(org_a, bob)


@pytest.fixture
def api_carol(org_a: Organization, carol: Any) -> APIClient:
    return token_client(org_a, carol)


@pytest.fixture
def api_charlie(org_b: Organization, charlie: Any) -> APIClient:
    return token_client(org_b, charlie)


@pytest.fixture
def web_alice(alice: Any) -> Client:
    c = Client()
    c.force_login(alice)
    return c


@pytest.fixture
def web_charlie(charlie: Any) -> Client:
    c = Client()
    c.force_login(charlie)
    return c


@pytest.fixture
def ingest_a(org_a: Organization) -> str:
    return services.create_ingest_token(org_a)[1]


@pytest.fixture
def ingest_b(org_b: Organization) -> str:
    return services.create_ingest_token(org_b)[1]


# Rows the data migrations ship (the platform-series allow-list, the model price list): a transactional
# test's flush empties them for the tests after it, so they are put back after such a test.
MIGRATION_SEEDS = [("metrics_app.migrations.0004_seed_platform_series", "seed"),
                   ("dashboards_app.migrations.0002_modelprice", "seed_prices")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    yield  # every fixture of the test is finalized here: a transactional test's flush has run
    if nextitem is None:  # the last test: the session's fixtures (the test database too) are gone already
        return
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    if not ({"transactional_db", "live_server"} & names or (marker is not None and marker.kwargs.get("transaction"))):
        return
    import importlib

    from django.apps import apps
    from pytest_django.plugin import blocking_manager_key

    from metrics_app import platform_series

    with item.config.stash[blocking_manager_key].unblock():
        for module, fn in MIGRATION_SEEDS:
            getattr(importlib.import_module(module), fn)(apps, None)
    platform_series.invalidate()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def prometheus() -> Iterator[procs.Proc]:
    """A real Prometheus (remote-write receiver, lifecycle API) on a free port, stopped afterwards."""
    p = procs.start_prometheus()
    yield p
    p.cleanup()


@pytest.fixture
def alertmanager() -> Iterator[procs.Proc]:
    p = procs.start_alertmanager()
    yield p
    p.cleanup()


@pytest.fixture
def victoriametrics() -> Iterator[procs.Proc]:
    p = procs.start_victoriametrics()
    yield p
    p.cleanup()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session", autouse=True)
def _record_db_vendor(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Write the database the suite really ran on, so .ci/run can refuse a silent SQLite fallback."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute("SELECT 1")
    import os

    target = Path(os.environ.get("PORTAL_DB_VENDOR_FILE") or OUTPUT_DIR / "db-vendor.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(connection.vendor)


@pytest.fixture(scope="session", autouse=True)
def _celery_in_process() -> None:
    """Tasks run in process during tests even when REDIS_URL configures a broker (as in CI), and a task's
    error propagates to the test (a failing task never passes unnoticed); tests that need a real worker
    start one in a subprocess (tests/foundation/test_celery.py)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture
def task_errors_swallowed() -> Iterator[None]:
    """Opt-out for a test that shows what the embedded default (in-process tasks, errors logged and kept
    in the result, not raised into the request) does with a failing task."""
    from portal.celery import app

    app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        app.conf.task_eager_propagates = True


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Playwright + Debian Chromium for the whole run (two sync Playwright instances cannot coexist)."""
    import os

    from tests.browser.conftest import ARGS, CHROMIUM

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    p = ctx.new_page()
    yield p
    ctx.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail the test during which an error with an unregistered code (or a registered code with another
    status) was built anywhere: a view, a service, a task, the live server's thread."""
    seen: set[tuple[int, str]] = set()
    unsubscribe = error_codes.observe(lambda status, code: seen.add((status, code)))
    try:
        yield
    finally:
        unsubscribe()
    problems = sorted({p for status, code in seen if (p := error_codes.problem(status, code))})
    if problems:
        pytest.fail("unregistered error codes (portal/error_codes.py, docs/api-errors.md):\n" + "\n".join(problems))
