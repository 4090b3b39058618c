/* Security investigation: one timeline per user, client address or API key (log records and audit entries),
   one-click token revoke, CSV export; and every access by platform staff. State lives in the URL. */
"use strict";
(function () {
  const { api, config, el, byId, format, query, ui } = window.Portal;
  const COLORS = { log: "#d43c3c", audit: "#3b6ee8" };

  function params() {
    const r = ui.timeRange.get();
    return { subject: byId("subject").value, value: byId("value").value.trim(), start: r.start, end: r.end };
  }

  function allOrgs() { return byId("all-orgs") && byId("all-orgs").checked; }
  function endpoint() { return allOrgs() ? "/platform/security/timeline/" : "/security/timeline/"; }

  function fromUrl() {
    const p = new URLSearchParams(location.search);
    if (p.get("subject")) byId("subject").value = p.get("subject");
    if (p.get("value")) byId("value").value = p.get("value");
    if (p.get("range") && byId("range").querySelector(`option[value="${p.get("range")}"]`)) ui.timeRange.setPreset(p.get("range"));
    if (p.get("all") && byId("all-orgs")) byId("all-orgs").checked = true;
  }

  function toUrl() {
    const p = { subject: byId("subject").value, value: byId("value").value.trim() };
    if (byId("range").value !== "custom") p.range = byId("range").value;
    if (allOrgs()) p.all = "1";
    history.replaceState(null, "", location.pathname + query(p));
  }

  function revokeButton(ev) {
    if (!ev.token_id || allOrgs()) return null;
    const b = el("button", { class: "danger small", type: "button" }, "Revoke token");
    b.addEventListener("click", async () => {
      if (!window.confirm("Revoke this API token now? Clients using it stop working at once.")) return;
      try {
        await api.delete("/tokens/" + ev.token_id + "/");
        ui.flash("Token revoked.", "info");
        run();
      } catch (err) { ui.flash(err.message, "error"); }
    });
    return b;
  }

  function row(ev) {
    const what = ev.trace_id
      ? el("a", { href: config.base + "/traces/" + ev.trace_id + "/" }, ev.summary)
      : ev.summary;
    return el("tr", { class: "sec-" + ev.source },
      el("td", { class: "mono" }, format.timestamp(ev.time)), el("td", {}, ev.source),
      el("td", {}, el("strong", {}, ev.kind)), el("td", {}, ev.org), el("td", {}, ev.actor), el("td", { class: "mono" }, ev.ip),
      el("td", { class: "body" }, what), el("td", {}, revokeButton(ev)));
  }

  function draw(events) {
    const kinds = Array.from(new Set(events.map((e) => e.kind)));
    const traces = ["log", "audit"].map((source) => {
      const mine = events.filter((e) => e.source === source);
      return { type: "scatter", mode: "markers", name: source === "log" ? "log records" : "audit log",
        x: mine.map((e) => e.time), y: mine.map((e) => e.kind), text: mine.map((e) => e.summary), hoverinfo: "x+text",
        marker: { size: 10, color: COLORS[source], symbol: source === "log" ? "x" : "circle" } };
    });
    Plotly.react(byId("sec-chart"), traces, { height: Math.max(180, 60 + kinds.length * 28), margin: { l: 120, r: 10, t: 10, b: 30 },
      xaxis: { type: "date" }, yaxis: { type: "category" }, legend: { orientation: "h" } }, { displayModeBar: false, responsive: true });
  }

  async function run() {
    const p = params();
    if (!p.value) return;
    toUrl();
    const errBox = byId("query-error");
    ui.queryError(errBox, null);
    try {
      const t = await api.get(endpoint(), p);
      byId("sec-empty").hidden = true;
      byId("sec-result").hidden = false;
      byId("sec-count").textContent = t.events.length + " events" + (t.truncated ? " (truncated: narrow the range)" : "");
      draw(t.events);
      byId("sec-events").querySelector("tbody").replaceChildren(...(t.events.length ? t.events.map(row)
        : [el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No security events for this " + p.subject + " in this range."))]));
      const csv = byId("sec-csv");
      csv.href = config.api + endpoint() + query({ ...p, export: "csv" });
      csv.hidden = false;
    } catch (err) { ui.queryError(errBox, err, p.value); }
  }

  async function staff() {
    try {
      const rows = await api.get("/security/staff-access/", {});
      byId("staff-access").querySelector("tbody").replaceChildren(...(rows.length ? rows.map((ev) => el("tr", {},
        el("td", { class: "mono" }, format.timestamp(ev.time)), el("td", {}, ev.actor), el("td", {}, ev.summary)))
        : [el("tr", {}, el("td", { colspan: 3, class: "empty" }, "No platform staff accessed this organization's data in the last 30 days."))]));
    } catch (err) { ui.flash(err.message, "error"); }
  }

  fromUrl();
  ui.timeRange.init(run);
  byId("sec-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  run();
  staff();
})();
