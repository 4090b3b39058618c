/* The services list: every service that served a request in the window, with its headline numbers
   (computed by the store); the window is kept in the URL (?since=1h or ?start=…&end=…). */
"use strict";
(function () {
  const { api, el, byId, format, ui } = window.Portal;

  function rate(rps) { return rps >= 1 ? rps.toFixed(2) + " req/s" : (rps * 60).toFixed(2) + " req/min"; }

  async function run() {
    const params = ui.timeRange.toUrl();
    try {
      const data = await api.get("/services/", params);
      const q = new URLSearchParams(params).toString();
      const rows = data.services.map((s) => el("tr", { class: "svc" },
        el("td", {}, el("a", { href: window.Portal.config.base + "/services/" + encodeURIComponent(s.service) + "/?" + q }, s.service)),
        el("td", {}, s.count), el("td", {}, rate(s.rate_per_s)),
        el("td", { class: s.error_share > 0 ? "bad" : null }, format.percent(s.error_share)),
        el("td", {}, format.ms(s.p50_ms)), el("td", {}, format.ms(s.p95_ms)), el("td", {}, format.ms(s.p99_ms))));
      byId("services").querySelector("tbody").replaceChildren(...(rows.length ? rows
        : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No service served a request in this window. Send traces over OTLP (/otlp/v1/traces)."))]));
    } catch (err) { ui.flash(err.message, "error"); }
  }

  ui.timeRange.fromUrl();
  byId("services-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  ui.timeRange.init(run);
  run();
})();
