"""The built-in AI usage dashboard and the staff model price table behind its spend panels.

Against a real Prometheus scraping the demo deployment (tests/dashboards/conftest.py): every panel has data
for the org and only that org; spend computed in PromQL equals tokens × price computed here from the raw
counters; price edits change the answer; an empty table says "no prices set". Then the price API and page:
members read, only staff write (an org admin gets 403), bad input is a 400 with a message.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from dashboards_app import builtin, interpolate, pricing
from dashboards_app.models import ModelPrice
from metrics_app import promql
from portal.tenancy.models import AuditEntry, Organization
from tests import procs
from tests.conftest import PASSWORD, token_client

pytestmark = [pytest.mark.django_db]

PRICES = {  # USD per 1k (input, output) tokens
    "gpt-4o": (Decimal("0.0025"), Decimal("0.01")),
    "claude-3-5-sonnet": (Decimal("0.003"), Decimal("0.015")),
    "llama-3-70b": (Decimal("0.0009"), Decimal("0.0009")),
    "mistral-large": (Decimal("0.002"), Decimal("0.006")),
}
DATA = "/api/v1/builtin-dashboards/ai-usage/data/"
PRICES_URL = "/api/v1/model-prices/"
MODELS_TABLE, SPEND_PER_DAY, QUOTA = 9, 8, 10  # panel ids (1-based order in builtin_ai_usage.AI_USAGE)


@pytest.fixture
def prices(db: Any) -> dict[str, tuple[Decimal, Decimal]]:
    """A known price table (the migration seeds the same defaults, but transactional tests flush them)."""
    ModelPrice.objects.all().delete()
    for model, (inp, out) in PRICES.items():
        ModelPrice.objects.create(model=model, usd_per_1k_input=inp, usd_per_1k_output=out)
    return dict(PRICES)


@pytest.fixture
def api_operator(org_a: Organization, operator: Any) -> APIClient:
    return token_client(org_a, operator)


def _series(target: dict[str, Any]) -> list[dict[str, Any]]:
    assert "error" not in target, target
    return target["result"]  # type: ignore[no-any-return]


def _points(target: dict[str, Any]) -> int:
    return sum(len(s.get("values", [])) or (1 if s.get("value") else 0) for s in _series(target))


def _prom(prom: procs.Proc, query: str, at: int) -> list[dict[str, Any]]:
    r = httpx.get(prom.url + "/api/v1/query", params={"query": query, "time": at})
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]  # type: ignore[no-any-return]


def _wait_for_errors(prom: procs.Proc, org: str) -> None:
    """Failed requests are rare (about 1 %) and their series appear with the first one: wait until the org
    has one with a defined rate, so the error panels have points (a condition polled, not a duration
    asserted)."""
    query = f'count(rate(gen_ai_server_request_duration_seconds_count{{error_type!="",org_id="{org}"}}[1m]))'
    for _ in range(240):
        if _prom(prom, query, int(time.time())):
            return
        time.sleep(0.5)
    raise AssertionError(f"no failed GenAI request of {org} within two minutes")


def _aligned_now(step: int = 2) -> int:
    """An end time on the step grid, so the portal evaluates instant panels exactly there."""
    return int(time.time()) // step * step


def _spend_by_hand(prom: procs.Proc, org: str, window: str, at: int,
                   table: dict[str, tuple[Decimal, Decimal]]) -> dict[str, float]:
    """Σ over token types of tokens / 1000 × price, tokens straight from Prometheus' counters for `org`."""
    rows = _prom(prom, f'sum by (gen_ai_request_model, gen_ai_token_type) '
                       f'(increase(gen_ai_client_token_usage_sum{{org_id="{org}"}}[{window}]))', at)
    assert rows, "no token counters for " + org
    out: dict[str, float] = {}
    for row in rows:
        model, token_type = row["metric"]["gen_ai_request_model"], row["metric"]["gen_ai_token_type"]
        if model not in table:
            continue
        price = table[model][0 if token_type == "input" else 1]
        out[model] = out.get(model, 0.0) + float(row["value"][1]) / 1000 * float(price)
    return out


def _portal_spend(client: APIClient, at: int) -> dict[str, float]:
    body = client.get(DATA, {"panel": MODELS_TABLE, "from": at - 300, "to": at}).json()
    assert body["step"] == 2  # 5 minutes → a 2 s step, so `at` is already on the grid
    spend_target = body["panels"][str(MODELS_TABLE)]["targets"][0]
    return {s["metric"]["gen_ai_request_model"]: float(s["value"][1]) for s in _series(spend_target)}


# --- PromQL of prices: no selector, unchanged by the enforcer ----------------------------------------------


def test_price_vector_has_no_selector_and_the_enforcer_leaves_it_unchanged(prices: Any) -> None:
    for token_type in ("input", "output"):
        vector = pricing.price_vector(token_type)
        assert promql.selectors(vector) == []
        assert promql.enforce(vector, "org_id", "acme") == vector
    assert '"gpt-4o"' in pricing.price_vector("input") and "vector(0.0025)" in pricing.price_vector("input")
    assert "vector(0.01)" in pricing.price_vector("output")
    with pytest.raises(ValueError, match="token type"):
        pricing.price_vector("cached")


def test_price_vector_stays_within_the_enforcers_limits_for_many_models(db: Any) -> None:
    ModelPrice.objects.all().delete()
    for i in range(120):
        ModelPrice.objects.create(model=f"model-{i}", usd_per_1k_input=Decimal("0.000001") * (i + 1),
                                  usd_per_1k_output=Decimal(i))
    vector = pricing.price_vector("output")
    assert promql.enforce(vector, "org_id", "acme") == vector
    assert promql.enforce(pricing.price_vector("input"), "org_id", "acme") == pricing.price_vector("input")


def test_the_macro_expands_before_the_enforcer_and_an_empty_table_says_so(prices: Any) -> None:
    expr = ('sum by (gen_ai_request_model) (increase(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1d]))'
            " / 1000 * on (gen_ai_request_model) group_left $__price_per_1k(input)")
    out = interpolate.interpolate(expr, {}, {})
    assert "$__price_per_1k" not in out and pricing.price_vector("input") in out
    enforced = promql.enforce(out, "org_id", "acme")
    assert [s.name for s in promql.selectors(enforced)] == ["gen_ai_client_token_usage_sum"]
    assert interpolate.interpolate("$__price_per_1k( output )", {}, {}) == pricing.price_vector("output")
    ModelPrice.objects.all().delete()
    with pytest.raises(pricing.NoPricesSet, match="No prices set"):
        interpolate.interpolate(expr, {}, {})


# --- the dashboard against the demo deployment -----------------------------------------------------------


@pytest.mark.backends
@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_every_panel_has_data_for_the_org_and_only_that_org(live_prom: procs.Proc, prices: Any, who: str,
                                                            api_bob: APIClient, api_charlie: APIClient) -> None:
    client, org = (api_bob, "acme") if who == "alice" else (api_charlie, "globex")  # bob: a viewer of acme
    _wait_for_errors(live_prom, org)
    r = client.get(DATA, {"from": "now-5m", "to": "now"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["scope"] == "org"
    doc = builtin.get("ai-usage")
    assert doc is not None and len(doc["panels"]) == 10
    for panel in doc["panels"]:
        targets = body["panels"][str(panel["id"])]["targets"]
        assert targets, panel["title"]
        for t in targets:
            assert _points(t) > 0, (panel["title"], t["legend"], t["expr"][:300])
            for s in _series(t):
                assert s["metric"].get("org_id", org) == org
                assert not s["metric"].get("api_key") or s["metric"]["api_key"].startswith(org + "-")
    keys = {s["metric"]["api_key"] for s in _series(body["panels"]["7"]["targets"][0])}
    assert keys == {f"{org}-prod", f"{org}-dev"}
    models = {s["metric"]["gen_ai_request_model"] for s in _series(body["panels"][str(MODELS_TABLE)]["targets"][0])}
    assert models == set(PRICES)


@pytest.mark.backends
def test_spend_equals_tokens_times_price_by_hand(live_prom: procs.Proc, prices: Any, api_alice: APIClient,
                                                 api_charlie: APIClient) -> None:
    at = _aligned_now()
    window = interpolate.fmt_duration(interpolate.month_to_date_seconds(at))
    for client, org in ((api_alice, "acme"), (api_charlie, "globex")):
        portal = _portal_spend(client, at)
        by_hand = _spend_by_hand(live_prom, org, window, at, prices)
        assert set(portal) == set(by_hand) == set(PRICES)
        for model, usd in by_hand.items():
            assert usd > 0
            assert portal[model] == pytest.approx(usd, rel=1e-9), model
    # Each org its own spend: acme has more traffic than globex, the platform more than both.
    acme, globex = sum(_portal_spend(api_alice, at).values()), sum(_portal_spend(api_charlie, at).values())
    assert acme > globex > 0

    # The daily bar of the last 24 h is the same sum over a 1d window.
    body = api_alice.get(DATA, {"panel": SPEND_PER_DAY, "from": at - 300, "to": at}).json()
    bars = {s["metric"]["day"]: float(s["value"][1]) for s in _series(body["panels"][str(SPEND_PER_DAY)]["targets"][0])}
    assert bars["last 24h"] == pytest.approx(sum(_spend_by_hand(live_prom, "acme", "1d", at, prices).values()),
                                             rel=1e-9)

    # Quota use: month-to-date spend over the org's spend quota, as exported by user-org-service.
    quota = api_alice.get(DATA, {"panel": QUOTA, "from": at - 300, "to": at}).json()["panels"][str(QUOTA)]["targets"]
    limit = float(_prom(live_prom, 'max(org_quota_limit{org_id="acme",resource="spend_usd"})', at)[0]["value"][1])
    assert float(_series(quota[1])[0]["value"][1]) == pytest.approx(
        sum(_spend_by_hand(live_prom, "acme", window, at, prices).values()) / limit, rel=1e-9)


@pytest.mark.backends
def test_price_edits_change_the_answer(live_prom: procs.Proc, prices: Any, api_alice: APIClient,
                                       api_operator: APIClient) -> None:
    at = _aligned_now()
    before = _portal_spend(api_alice, at)
    gpt = ModelPrice.objects.get(model="gpt-4o")
    r = api_operator.patch(f"{PRICES_URL}{gpt.pk}/", {"usd_per_1k_input": "0.005", "usd_per_1k_output": "0.02"},
                           format="json")
    assert r.status_code == 200, r.content
    mistral = ModelPrice.objects.get(model="mistral-large")
    assert api_operator.delete(f"{PRICES_URL}{mistral.pk}/").status_code == 204
    cache.clear()  # the dashboard's whole answer is cached for up to 30 s; a new request would see it after
    after = _portal_spend(api_alice, at)
    assert after["gpt-4o"] == pytest.approx(2 * before["gpt-4o"], rel=1e-9)  # both prices doubled
    assert after["claude-3-5-sonnet"] == pytest.approx(before["claude-3-5-sonnet"], rel=1e-9)
    assert "mistral-large" not in after  # no price, no spend
    window = interpolate.fmt_duration(interpolate.month_to_date_seconds(at))
    table = {**PRICES, "gpt-4o": (Decimal("0.005"), Decimal("0.02"))}
    del table["mistral-large"]
    by_hand = _spend_by_hand(live_prom, "acme", window, at, table)
    assert after == pytest.approx(by_hand, rel=1e-9)


@pytest.mark.backends
def test_an_empty_price_table_says_no_prices_set(live_prom: procs.Proc, db: Any, api_alice: APIClient) -> None:
    ModelPrice.objects.all().delete()
    r = api_alice.get(DATA, {"from": "now-5m", "to": "now"})
    assert r.status_code == 200, r.content
    panels = r.json()["panels"]
    spend_targets = [panels["8"]["targets"][0], panels["9"]["targets"][0], panels["10"]["targets"][1],
                     panels["7"]["targets"][3]]
    for t in spend_targets:
        assert t["error"]["code"] == "no_prices" and t["error"]["status"] == 409
        assert t["error"]["message"].startswith("No prices set")
    # The token panels and the token columns still draw.
    assert _points(panels["1"]["targets"][0]) > 0
    assert _points(panels["9"]["targets"][1]) > 0 and _points(panels["10"]["targets"][0]) > 0
    # Explore with the macro answers the same, as a clear 409.
    x = api_alice.get("/api/v1/explore/query/", {"query": "$__price_per_1k(input)"})
    assert x.status_code == 409 and x.json()["error"]["code"] == "no_prices"


# --- the price API: members read, staff write ---------------------------------------------------------------


def test_members_of_any_org_read_the_same_prices(prices: Any, api_bob: APIClient, api_charlie: APIClient) -> None:
    r = api_bob.get(PRICES_URL)
    assert r.status_code == 200, r.content
    rows = {p["model"]: (p["usd_per_1k_input"], p["usd_per_1k_output"]) for p in r.json()}
    assert rows["gpt-4o"] == ("0.002500", "0.010000") and len(rows) == 4
    assert api_charlie.get(PRICES_URL).json() == r.json()  # platform list prices, nothing org-specific
    pk = ModelPrice.objects.get(model="gpt-4o").pk
    assert api_charlie.get(f"{PRICES_URL}{pk}/").json()["model"] == "gpt-4o"


def test_reads_need_a_membership(prices: Any, alice: Any, org_b: Organization) -> None:
    assert APIClient().get(PRICES_URL).status_code == 401
    web = APIClient()
    web.force_login(alice)
    assert web.get(PRICES_URL, HTTP_X_PORTAL_ORG="acme").status_code == 200
    assert web.get(PRICES_URL, HTTP_X_PORTAL_ORG="globex").status_code == 404  # not alice's org


@pytest.mark.parametrize("who", ["alice", "carol", "charlie"])
def test_only_staff_write_prices(prices: Any, who: str, api_alice: APIClient, api_carol: APIClient,
                                 api_charlie: APIClient) -> None:
    client = {"alice": api_alice, "carol": api_carol, "charlie": api_charlie}[who]  # org admins and an editor
    pk = ModelPrice.objects.get(model="gpt-4o").pk
    for r in (client.post(PRICES_URL, {"model": "new-model", "usd_per_1k_input": "1", "usd_per_1k_output": "1"},
                          format="json"),
              client.patch(f"{PRICES_URL}{pk}/", {"usd_per_1k_input": "0"}, format="json"),
              client.put(f"{PRICES_URL}{pk}/", {"model": "gpt-4o", "usd_per_1k_input": "0",
                                                "usd_per_1k_output": "0"}, format="json"),
              client.delete(f"{PRICES_URL}{pk}/")):
        assert r.status_code == 403, r.content
        assert r.json()["error"]["code"] == "permission_denied"
    assert ModelPrice.objects.get(pk=pk).usd_per_1k_input == Decimal("0.0025")
    assert not ModelPrice.objects.filter(model="new-model").exists()


def test_staff_create_update_delete_audited(prices: Any, api_operator: APIClient, org_a: Organization,
                                            operator: Any) -> None:
    r = api_operator.post(PRICES_URL, {"model": "gemini-1.5-pro", "usd_per_1k_input": "0.00125",
                                       "usd_per_1k_output": "0.005"}, format="json")
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    assert "gemini-1.5-pro" in pricing.price_vector("input")
    r = api_operator.patch(f"{PRICES_URL}{pk}/", {"usd_per_1k_output": "0.006"}, format="json")
    assert r.status_code == 200 and r.json()["usd_per_1k_output"] == "0.006000"
    assert api_operator.delete(f"{PRICES_URL}{pk}/").status_code == 204
    entries = AuditEntry.objects.all_orgs().filter(object_type="modelprice").order_by("id")
    assert [(e.action, e.org_id, e.actor_id) for e in entries] == [
        ("create", None, operator.pk), ("update", None, operator.pk), ("delete", None, operator.pk)]
    assert entries[1].changes["usd_per_1k_output"]["to"] == "0.006000"
    read_only = token_client(org_a, operator, "read")
    assert read_only.post(PRICES_URL, {"model": "x", "usd_per_1k_input": "1", "usd_per_1k_output": "1"},
                          format="json").status_code == 403


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"model": "gpt-5", "usd_per_1k_input": "-1", "usd_per_1k_output": "1"}, "usd_per_1k_input", "greater than"),
    ({"model": "gpt-5", "usd_per_1k_input": "cheap", "usd_per_1k_output": "1"}, "usd_per_1k_input", "number"),
    ({"model": "gpt-5", "usd_per_1k_input": "1", "usd_per_1k_output": "5000"}, "usd_per_1k_output", "less than"),
    ({"model": "gpt-5", "usd_per_1k_input": "0.0000001", "usd_per_1k_output": "1"}, "usd_per_1k_input",
     "decimal places"),
    ({"model": 'gpt"}) or vector(1', "usd_per_1k_input": "1", "usd_per_1k_output": "1"}, "model", "letters"),
    ({"model": "", "usd_per_1k_input": "1", "usd_per_1k_output": "1"}, "model", "blank"),
    ({"model": "gpt-4o", "usd_per_1k_input": "1", "usd_per_1k_output": "1"}, "model", "already exists"),
    ({"model": "gpt-5", "usd_per_1k_input": "1"}, "usd_per_1k_output", "required"),
])
def test_bad_price_input_is_a_400_with_a_message(prices: Any, api_operator: APIClient, body: dict[str, Any],
                                                 field: str, words: str) -> None:
    r = api_operator.post(PRICES_URL, body, format="json")
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["code"] == "invalid"
    assert field in err["message"] and words in err["message"], err
    assert ModelPrice.objects.count() == 4


def test_unknown_price_is_404(prices: Any, api_operator: APIClient, api_bob: APIClient) -> None:
    assert api_operator.patch(f"{PRICES_URL}999999/", {"usd_per_1k_input": "1"}, format="json").status_code == 404
    assert api_bob.get(f"{PRICES_URL}999999/").status_code == 404


# --- the staff page ----------------------------------------------------------------------------------------


def test_staff_page_lists_and_edits_prices(prices: Any, operator: Any, web_alice: Client) -> None:
    staff = Client()
    staff.force_login(operator)
    page = staff.get("/platform/model-prices/")
    assert page.status_code == 200 and b"claude-3-5-sonnet" in page.content and b"0.0025" in page.content
    pk = ModelPrice.objects.get(model="llama-3-70b").pk
    r = staff.post("/platform/model-prices/", {"op": "save", "id": pk, "model": "llama-3-70b",
                                               "usd_per_1k_input": "0.0007", "usd_per_1k_output": "0.0008"})
    assert r.status_code == 302
    assert ModelPrice.objects.get(pk=pk).usd_per_1k_output == Decimal("0.0008")
    bad = staff.post("/platform/model-prices/", {"op": "save", "model": "new", "usd_per_1k_input": "-2",
                                                 "usd_per_1k_output": "1"})
    assert bad.status_code == 400 and b"usd_per_1k_input" in bad.content and b"greater than" in bad.content
    assert staff.post("/platform/model-prices/", {"op": "delete", "id": 999999}).status_code == 404
    assert staff.post("/platform/model-prices/", {"op": "delete", "id": pk}).status_code == 302
    assert not ModelPrice.objects.filter(pk=pk).exists()
    # An org admin is not staff: 403, and nothing changed.
    assert web_alice.get("/platform/model-prices/").status_code == 403
    some = ModelPrice.objects.order_by("id").values_list("id", flat=True)[0]
    assert web_alice.post("/platform/model-prices/", {"op": "delete", "id": some}).status_code == 403
    assert ModelPrice.objects.count() == 3
    assert Client().get("/platform/model-prices/").status_code == 302  # to the login page
    ModelPrice.objects.all().delete()
    assert b"No prices set" in staff.get("/platform/model-prices/").content


# --- the browser ---------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.backends
def test_dashboard_in_the_browser(transactional_db: Any, live_server: Any, live_prom: procs.Proc, browser: Any,
                                  bob: Any, prices: Any, output_dir: Path) -> None:
    _wait_for_errors(live_prom, "acme")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "bob@acme.example")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    # The page's own scripts (Plotly) may take a while from the test server on a busy machine: wait for the
    # document, then for the dashboard's data.
    page.set_default_timeout(60000)
    page.goto(live_server.url + "/o/acme/dashboards/builtin/ai-usage/?from=now-15m&to=now",
              wait_until="domcontentloaded")
    wait_loaded(page)

    points = panel_points(page)
    page.screenshot(path=str(output_dir / "dashboards-ai-usage.png"), full_page=True)
    assert len(points) == 10 and all(n > 0 for n in points.values()), points
    assert page.locator(".panel-error").count() == 0

    ModelPrice.objects.all().delete()
    cache.clear()
    page.reload()
    wait_loaded(page)
    page.screenshot(path=str(output_dir / "dashboards-ai-usage-no-prices.png"), full_page=True)
    assert page.locator(".panel-error", has_text="No prices set").count() >= 3
    ctx.close()


def wait_loaded(page: Any) -> None:
    page.wait_for_function("() => { const g = document.getElementById('grid'); return g && g.dataset.loaded !== '0'; }")
    assert page.get_attribute("#grid", "data-loaded") != "error", page.text_content("#dash-status")


def panel_points(page: Any) -> dict[str, int]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        "#grid > .panel", "els => Object.fromEntries(els.map(e => [e.querySelector('.panel-title').textContent,"
                          " Number(e.querySelector('.panel-body').dataset.points || 0)]))")
