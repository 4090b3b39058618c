/* Performance from spans: per service + endpoint p50/p95/p99, throughput, error rate; slowest endpoints;
   a latency histogram per endpoint (click a row). */
"use strict";
(function () {
  const { api, el, byId, format, ui } = window.Portal;
  let current = {};

  function rate(rps) { return rps >= 1 ? rps.toFixed(2) + " req/s" : (rps * 60).toFixed(rps * 60 >= 1 ? 2 : 3) + " req/min"; }
  function endpointRow(e, ...cells) {
    return el("tr", { class: "ep", "data-service": e.service, "data-endpoint": e.endpoint }, el("td", {}, e.service), el("td", {}, e.endpoint), ...cells);
  }
  function rowsOrEmpty(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns, class: "empty" }, emptyText))]));
  }

  async function run() {
    const r = ui.timeRange.get();
    current = { start: r.start, end: r.end };
    try {
      const rep = await api.get("/performance/", { start: r.start, end: r.end, service: byId("service").value.trim() });
      byId("sample-note").hidden = rep.complete;
      rowsOrEmpty(byId("slowest").querySelector("tbody"), rep.slowest.map((e) => endpointRow(e,
        el("td", {}, el("strong", {}, format.ms(e.p95_ms))), el("td", {}, format.ms(e.p99_ms)), el("td", {}, e.count),
        el("td", {}, format.percent(e.error_rate)))), 6, "No requests (server or root spans) in this window.");
      rowsOrEmpty(byId("endpoints").querySelector("tbody"), rep.endpoints.map((e) => endpointRow(e,
        el("td", {}, e.count), el("td", {}, rate(e.throughput_rps)), el("td", { class: e.error_rate > 0 ? "sev-critical" : null }, format.percent(e.error_rate)),
        el("td", {}, format.ms(e.p50_ms)), el("td", {}, format.ms(e.p95_ms)), el("td", {}, format.ms(e.p99_ms)))), 8, "No data.");
    } catch (err) { ui.flash(err.message, "error"); }
  }

  async function histogram(service, endpoint) {
    const h = await api.get("/performance/histogram/", { start: current.start, end: current.end, service, endpoint });
    byId("histo-card").hidden = false;
    byId("histo-title").textContent = "Latency histogram · " + service + " · " + endpoint +
      " (p50 " + format.ms(h.p50_ms) + ", p95 " + format.ms(h.p95_ms) + ", p99 " + format.ms(h.p99_ms) + ")";
    const labels = h.buckets.map((b) => (b.le_ms === null ? "> " + format.ms(h.buckets[h.buckets.length - 2].le_ms) : "≤ " + format.ms(b.le_ms)));
    Plotly.react(byId("latency-histogram"), [{ type: "bar", x: labels, y: h.buckets.map((b) => b.count), marker: { color: "#3b6ee8" } }],
      { height: 240, margin: { l: 40, r: 10, t: 10, b: 60 }, yaxis: { title: "requests" } }, { displayModeBar: false, responsive: true });
  }

  document.addEventListener("click", (e) => {
    const tr = e.target.closest("tr.ep");
    if (!tr) return;
    histogram(tr.dataset.service, tr.dataset.endpoint);
  });
  byId("perf-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  ui.timeRange.init(run);
  run();
})();
