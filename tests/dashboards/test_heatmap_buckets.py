"""A heatmap panel orders its histogram buckets by bound, "+Inf" last, and draws each cell as the bucket's
own count (the cumulative bucket minus the one below). Prometheus writes the last bound "+Inf", which
JavaScript's Number() reads as NaN: left unhandled, it broke the sort."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import signed_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plus_inf_is_the_top_bucket(browser: Any, live_server: Any, alice: Any) -> None:
    with signed_in(browser, live_server.url, alice.email, PASSWORD) as page:
        page.goto(live_server.url + "/o/acme/dashboards/builtin/api-router/")
        page.wait_for_function("window.Panels && window.Plotly")
        drawn = page.evaluate("""() => {
            const box = document.createElement('div');
            box.style.width = '400px'; box.style.height = '200px';
            document.body.appendChild(box);
            const bucket = (le, n) => ({metric: {le}, values: [[1700000000, String(n)], [1700000060, String(n * 2)]]});
            // Out of order, as a query may return them; cumulative counts.
            const targets = [{refId: 'A', result: [bucket('+Inf', 10), bucket('0.5', 6), bucket('0.1', 2),
                                                   bucket('1', 9)]}];
            window.Panels.render(box, {id: 1, type: 'heatmap', title: 'h', unit: '', legend: {show: false},
                                       targets: [{refId: 'A', expr: 'x'}], options: {}}, targets);
            return {y: box.data[0].y, z: box.data[0].z};
        }""")
    assert drawn["y"][-1] == "+Inf" and len(drawn["y"]) == 4
    assert drawn["z"] == [[2, 4], [4, 8], [3, 6], [1, 2]]  # 0.1, 0.5, 1, +Inf: each bucket's own count
