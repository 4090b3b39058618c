/* Performance from spans: per service + endpoint p50/p95/p99, throughput, error rate; slowest endpoints;
   a latency histogram per endpoint (click a row). */
(function () {
  "use strict";
  const T = window.Telemetry;
  const $ = function (id) { return document.getElementById(id); };
  let current = {};

  function pct(x) { return (x * 100).toFixed(1) + "%"; }
  function rate(rps) { return rps >= 1 ? rps.toFixed(2) + " req/s" : (rps * 60).toFixed(rps * 60 >= 1 ? 2 : 3) + " req/min"; }
  async function run() {
    const r = T.range();
    current = {start: r.start, end: r.end};
    try {
      const rep = await T.api("performance/?" + T.qs({start: r.start, end: r.end, service: $("service").value.trim()}));
      $("sample-note").hidden = rep.complete;
      $("slowest").querySelector("tbody").innerHTML = rep.slowest.map(function (e) {
        return '<tr class="ep" data-service="' + T.esc(e.service) + '" data-endpoint="' + T.esc(e.endpoint) + '"><td>' + T.esc(e.service) + "</td><td>" + T.esc(e.endpoint) +
          "</td><td><strong>" + T.fmtMs(e.p95_ms) + "</strong></td><td>" + T.fmtMs(e.p99_ms) + "</td><td>" + e.count + "</td><td>" + pct(e.error_rate) + "</td></tr>";
      }).join("") || '<tr><td colspan="6" class="empty">No requests (server or root spans) in this window.</td></tr>';
      $("endpoints").querySelector("tbody").innerHTML = rep.endpoints.map(function (e) {
        return '<tr class="ep" data-service="' + T.esc(e.service) + '" data-endpoint="' + T.esc(e.endpoint) + '"><td>' + T.esc(e.service) + "</td><td>" + T.esc(e.endpoint) +
          "</td><td>" + e.count + "</td><td>" + rate(e.throughput_rps) + "</td><td" + (e.error_rate > 0 ? ' class="sev-critical"' : "") + ">" + pct(e.error_rate) +
          "</td><td>" + T.fmtMs(e.p50_ms) + "</td><td>" + T.fmtMs(e.p95_ms) + "</td><td>" + T.fmtMs(e.p99_ms) + "</td></tr>";
      }).join("") || '<tr><td colspan="8" class="empty">No data.</td></tr>';
    } catch (err) { T.flash(err.message, "error"); }
  }

  async function histogram(service, endpoint) {
    const h = await T.api("performance/histogram/?" + T.qs({start: current.start, end: current.end, service: service, endpoint: endpoint}));
    $("histo-card").hidden = false;
    $("histo-title").textContent = "Latency histogram · " + service + " · " + endpoint + " (p50 " + T.fmtMs(h.p50_ms) + ", p95 " + T.fmtMs(h.p95_ms) + ", p99 " + T.fmtMs(h.p99_ms) + ")";
    const labels = h.buckets.map(function (b) { return b.le_ms === null ? "> " + T.fmtMs(h.buckets[h.buckets.length - 2].le_ms) : "≤ " + T.fmtMs(b.le_ms); });
    Plotly.react($("latency-histogram"), [{type: "bar", x: labels, y: h.buckets.map(function (b) { return b.count; }), marker: {color: "#3b6ee8"}}],
      {height: 240, margin: {l: 40, r: 10, t: 10, b: 60}, yaxis: {title: "requests"}}, {displayModeBar: false, responsive: true});
  }

  document.addEventListener("click", function (e) {
    const tr = e.target.closest("tr.ep"); if (!tr) return;
    histogram(tr.dataset.service, tr.dataset.endpoint);
  });
  $("perf-form").addEventListener("submit", function (e) { e.preventDefault(); run(); });
  T.initRange(run);
  run();
})();
