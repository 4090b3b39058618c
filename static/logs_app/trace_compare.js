/* Two traces side by side: self time per operation in A and B (grouped bars), and the table of differences. */
"use strict";
(function () {
  const { api, config, el, byId, format, ui } = window.Portal;

  function render(cmp) {
    byId("sum-a").textContent = cmp.a.spans + " spans · " + format.ms(cmp.a.duration_ms);
    byId("sum-b").textContent = cmp.b.spans + " spans · " + format.ms(cmp.b.duration_ms);
    const ops = cmp.operations;
    const labels = ops.map((o) => o.service + " · " + o.name);
    Plotly.react(byId("compare-chart"), [
      { type: "bar", orientation: "h", name: "A", y: labels, x: ops.map((o) => o.self_ms_a), marker: { color: "#3b6ee8" } },
      { type: "bar", orientation: "h", name: "B", y: labels, x: ops.map((o) => o.self_ms_b), marker: { color: "#e07b1a" } },
    ], { barmode: "group", height: Math.max(200, 40 + ops.length * 34), margin: { l: 260, r: 10, t: 10, b: 30 },
      xaxis: { title: "self time (ms)" }, yaxis: { autorange: "reversed" } }, { displayModeBar: false, responsive: true });
    byId("compare-ops").querySelector("tbody").replaceChildren(...ops.map((o) => el("tr", {},
      el("td", {}, o.service), el("td", {}, o.name), el("td", {}, o.count_a), el("td", {}, o.count_b),
      el("td", {}, format.ms(o.self_ms_a)), el("td", {}, format.ms(o.self_ms_b)),
      el("td", { class: o.self_delta_ms > 0 ? "worse" : (o.self_delta_ms < 0 ? "better" : "") }, (o.self_delta_ms > 0 ? "+" : "") + format.ms(o.self_delta_ms)),
      el("td", {}, format.ms(o.total_ms_a)), el("td", {}, format.ms(o.total_ms_b)))));
  }

  api.get("/traces/compare/", { a: config.trace_a, b: config.trace_b }).then(render).catch((err) => ui.flash(err.message, "error"));
})();
