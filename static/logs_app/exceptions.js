/* Exceptions recorded on spans, grouped by type and service: counts over time (stacked) and example traces.
   The query and range live in the URL (?q=&range=), so a copied link opens the same view. */
"use strict";
(function () {
  const { api, config, el, byId, format, ui } = window.Portal;
  const PALETTE = ["#d43c3c", "#e07b1a", "#a15be0", "#3b6ee8", "#1aa3b8", "#2e9d5b", "#c2477a", "#7d8a99"];

  function fromUrl() {
    const p = new URLSearchParams(location.search);
    if (p.get("q")) byId("eq").value = p.get("q");
    if (p.get("range") && byId("range").querySelector(`option[value="${p.get("range")}"]`)) ui.timeRange.setPreset(p.get("range"));
  }

  function toUrl() {
    const p = new URLSearchParams();
    if (byId("eq").value.trim()) p.set("q", byId("eq").value.trim());
    if (byId("range").value !== "custom") p.set("range", byId("range").value);
    history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p : ""));
  }

  function draw(report) {
    const t0 = Date.parse(report.start);
    const xs = report.groups.length ? report.groups[0].series.map((_, i) => new Date(t0 + i * report.step_ms)) : [];
    const traces = report.groups.slice(0, 8).map((g, i) => ({ type: "bar", name: g.type + " · " + g.service,
      x: xs, y: g.series, marker: { color: PALETTE[i % PALETTE.length] } }));
    Plotly.react(byId("exc-chart"), traces, { barmode: "stack", height: 260, margin: { l: 40, r: 10, t: 10, b: 30 },
      legend: { orientation: "h" }, xaxis: { type: "date" }, yaxis: { title: "exceptions" } }, { displayModeBar: false, responsive: true });
  }

  function row(g) {
    const latest = g.examples[0];
    return el("tr", {},
      el("td", {}, el("strong", {}, g.type)),
      el("td", {}, el("a", { href: config.base + "/services/" + encodeURIComponent(g.service) + "/" }, g.service)),
      el("td", {}, g.count),
      el("td", { class: "mono" }, format.timestamp(g.last_seen)),
      el("td", { class: "body" }, latest ? latest.message : ""),
      el("td", {}, g.examples.map((x) => el("a", { class: "mono", href: config.base + "/traces/" + x.trace_id + "/",
        title: x.span_name + " · " + x.message }, x.trace_id.slice(0, 8) + "… "))));
  }

  async function run() {
    toUrl();
    const r = ui.timeRange.get();
    const q = byId("eq").value.trim();
    const errBox = byId("query-error");
    ui.queryError(errBox, null);
    try {
      const report = await api.get("/traces/exceptions/", { q, start: r.start, end: r.end, buckets: 60 });
      byId("exc-total").textContent = report.total + " in " + report.groups.length + " groups";
      draw(report);
      byId("exc-groups").querySelector("tbody").replaceChildren(...(report.groups.length ? report.groups.map(row)
        : [el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No exceptions recorded on spans in this range."))]));
    } catch (err) { ui.queryError(errBox, err, q); }
  }

  fromUrl();
  ui.timeRange.init(run);
  byId("exc-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  run();
})();
