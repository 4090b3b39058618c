/* One service's page: request rate, error share and latency percentiles over the window (store aggregates),
   top endpoints, slowest operations, slowest and failed traces, recent error logs, active alerts, dashboard
   links and the metrics-based request rate. The window is kept in the URL (?since=1h or ?start=…&end=…). */
"use strict";
(function () {
  const { api, config, el, byId, format, ui } = window.Portal;
  const service = config.service;

  function rows(id, items, columns, emptyText) {
    byId(id).querySelector("tbody").replaceChildren(...(items.length ? items
      : [el("tr", {}, el("td", { colspan: columns, class: "empty" }, emptyText))]));
  }

  function traceLink(id) { return el("a", { href: config.base + "/traces/" + id + "/" }, id.slice(0, 12) + "…"); }

  function kpi(label, value) { return el("div", { class: "kpi" }, el("div", { class: "v" }, value), el("div", { class: "k" }, label)); }

  const LAYOUT = { margin: { l: 50, r: 10, t: 6, b: 30 }, height: 200, showlegend: false, xaxis: { type: "date" } };
  const CONF = { displayModeBar: false, responsive: true };

  function chart(id, traces, yaxis, legend) {
    Plotly.react(byId(id), traces, Object.assign({}, LAYOUT, { yaxis, showlegend: !!legend, legend: { orientation: "h", y: 1.15 } }), CONF);
  }

  function render(s) {
    const t = s.totals;
    byId("headline").dataset.start = s.start;  // which window the page shows (tests wait on it)
    byId("headline").replaceChildren(kpi("requests", t.count), kpi("rate", t.rate_per_s.toFixed(3) + " req/s"),
      kpi("error share", format.percent(t.error_share)), kpi("p50", format.ms(t.p50_ms)), kpi("p95", format.ms(t.p95_ms)),
      kpi("p99", format.ms(t.p99_ms)));
    byId("empty-note").hidden = t.count > 0;
    const x = s.series.map((b) => b.start);
    chart("chart-rate", [{ x, y: s.series.map((b) => b.rate_per_s), type: "scatter", mode: "lines", fill: "tozeroy", name: "req/s" }], { title: "req/s", rangemode: "tozero" });
    chart("chart-errors", [{ x, y: s.series.map((b) => b.error_share * 100), type: "bar", name: "errors %", marker: { color: "#d64545" } }], { title: "%", rangemode: "tozero" });
    chart("chart-latency", ["p50_ms", "p95_ms", "p99_ms"].map((k) => ({ x, y: s.series.map((b) => (b.count ? b[k] : null)), type: "scatter", mode: "lines", name: k.replace("_ms", ""), connectgaps: false })),
      { title: "ms", rangemode: "tozero" }, true);
    const m = s.metrics;
    byId("metrics-note").textContent = m.points.length ? "(" + m.query + ")" : "— " + (m.message || "none");
    if (m.points.length) chart("chart-metrics", [{ x: m.points.map((p) => new Date(p[0] * 1000).toISOString()), y: m.points.map((p) => p[1]), type: "scatter", mode: "lines", name: "req/s" }], { title: "req/s", rangemode: "tozero" });
    else byId("chart-metrics").replaceChildren(el("div", { class: "empty" }, "No metrics-based request rate for this service."));

    byId("dashboards").replaceChildren(...s.dashboards.map((d) => el("a", { href: d.url }, d.title + " ↗")));
    byId("alerts-note").hidden = s.alerts.available;
    byId("alerts-note").textContent = s.alerts.available ? "" : "Alertmanager: " + s.alerts.message;
    rows("alerts", s.alerts.alerts.map((a) => el("tr", {}, el("td", {}, a.name), el("td", { class: "sev-" + a.severity }, a.severity),
      el("td", {}, a.state), el("td", {}, format.timestamp(a.starts_at)), el("td", {}, a.summary))), 5, "No active alerts for this service.");
    rows("endpoints", s.endpoints.map((e) => el("tr", { class: "ep" }, el("td", {}, e.endpoint), el("td", {}, e.count),
      el("td", { class: e.error_share > 0 ? "bad" : null }, format.percent(e.error_share)), el("td", {}, format.ms(e.p95_ms)))), 4, "No requests in this window.");
    rows("operations", s.operations.map((o) => el("tr", { class: "op" }, el("td", {}, o.name), el("td", {}, o.count),
      el("td", {}, format.ms(o.p95_ms)), el("td", {}, format.ms(o.max_ms)))), 4, "No spans in this window.");
    rows("slowest", s.slowest_traces.map((r) => el("tr", { class: "tr-slow" }, el("td", {}, format.timestamp(r.start)), el("td", {}, r.endpoint),
      el("td", {}, format.ms(r.duration_ms)), el("td", {}, traceLink(r.trace_id)))), 4, "No requests in this window.");
    rows("failed", s.failed_traces.map((r) => el("tr", { class: "tr-failed" }, el("td", {}, format.timestamp(r.start)), el("td", {}, r.name),
      el("td", {}, format.ms(r.duration_ms)), el("td", {}, traceLink(r.trace_id)))), 4, "No failed spans in this window.");
    rows("error-logs", s.error_logs.map((r) => el("tr", { class: "log" }, el("td", {}, format.timestamp(r.time)), el("td", {}, ui.levelBadge(r.level)),
      el("td", {}, r.body), el("td", {}, r.trace_id ? traceLink(r.trace_id) : ""))), 4, "No error logs in this window.");
  }

  async function run() {
    try {
      render(await api.get("/services/" + encodeURIComponent(service) + "/summary", ui.timeRange.toUrl()));
    } catch (err) { ui.flash(err.message, "error"); }
  }

  ui.timeRange.fromUrl();
  byId("service-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  ui.timeRange.init(run);
  run();
})();
