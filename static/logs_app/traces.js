/* Trace search (service, operation, duration, errors, any span query) and the service map. */
"use strict";
(function () {
  const { api, config, el, byId, format, searchValue, ui, url } = window.Portal;
  const FIELDS = { service: "service", operation: "operation", min_duration: "min-duration", q: "tq" };

  /* The form's state lives in the URL (?service=&operation=&min_duration=&errors=1&q=&range= or start/end),
     so a copied link (an alert's "traces" link among them) opens the same search. */
  function fromUrl() {
    for (const [param, id] of Object.entries(FIELDS)) if (url.get(param)) byId(id).value = url.get(param);
    if (url.get("errors")) byId("errors-only").checked = true;
    if (url.get("start") && url.get("end")) ui.timeRange.setCustom(url.get("start"), url.get("end"));
    else if (url.get("range") && byId("range").querySelector(`option[value="${url.get("range")}"]`)) ui.timeRange.setPreset(url.get("range"));
  }

  function toUrl(r) {
    const state = {};
    for (const [param, id] of Object.entries(FIELDS)) state[param] = byId(id).value.trim();
    state.errors = byId("errors-only").checked ? "1" : "";
    const custom = byId("range").value === "custom";
    Object.assign(state, { range: custom ? "" : byId("range").value, start: custom ? r.start : "", end: custom ? r.end : "" });
    url.update(state);
  }

  function buildQuery() {
    const parts = [];
    const field = (id) => byId(id).value.trim();
    if (field("service")) parts.push("service=" + searchValue(field("service")));
    if (field("operation")) parts.push("name=" + searchValue(field("operation")));
    if (field("min-duration")) parts.push("duration>=" + field("min-duration"));
    if (byId("errors-only").checked) parts.push("status=error");
    if (field("tq")) parts.push(field("tq"));
    return parts.join(" ");
  }

  function traceRow(t) {
    return el("tr", {},
      el("td", { class: "mono" }, format.timestamp(t.start)),
      el("td", {}, t.root_service + " · " + t.root_name),
      el("td", {}, format.ms(t.duration_ms)),
      el("td", {}, t.span_count),
      el("td", {}, t.error_count ? el("span", { class: "lvl lvl-error" }, t.error_count) : "0"),
      el("td", {}, el("a", { class: "mono", href: config.base + "/traces/" + encodeURIComponent(t.trace_id) + "/" }, t.trace_id.slice(0, 12) + "…")),
      el("td", {}, el("input", { type: "checkbox", class: "cmp", value: t.trace_id, "aria-label": "compare " + t.trace_id })));
  }

  /* Two ticked traces open side by side. */
  document.addEventListener("change", (e) => {
    if (!e.target.classList || !e.target.classList.contains("cmp")) return;
    const picked = Array.from(document.querySelectorAll("input.cmp:checked")).map((c) => c.value);
    const link = byId("compare-link");
    link.hidden = picked.length !== 2;
    if (picked.length === 2) link.href = config.base + "/traces/compare/?a=" + picked[0] + "&b=" + picked[1];
  });

  async function run() {
    const r = ui.timeRange.get();
    const q = buildQuery();
    toUrl(r);
    const errBox = byId("query-error");
    ui.queryError(errBox, null);
    try {
      const found = await api.get("/traces/search/", { q, start: r.start, end: r.end, limit: 100 });
      const map = await api.get("/service-map/", { start: r.start, end: r.end });
      byId("traces").querySelector("tbody").replaceChildren(...(found.traces.length ? found.traces.map(traceRow)
        : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No traces match."))]));
      drawMap(map);
    } catch (err) { ui.queryError(errBox, err, q); }
  }

  function drawMap(map) {
    const nodes = map.nodes, n = nodes.length;
    const pos = {};
    nodes.forEach((node, i) => {
      const a = 2 * Math.PI * i / Math.max(n, 1) - Math.PI / 2;
      pos[node.service] = n === 1 ? [0, 0] : [Math.cos(a), Math.sin(a)];
    });
    const annotations = map.edges.map((e) => {
      const s = pos[e.source], t = pos[e.target];
      return { x: t[0], y: t[1], ax: s[0], ay: s[1], xref: "x", yref: "y", axref: "x", ayref: "y", showarrow: true,
        arrowhead: 3, arrowsize: 1.4, arrowwidth: 1.5, standoff: 22, startstandoff: 22, arrowcolor: e.errors ? "#d43c3c" : "#7d8a99" };
    });
    const nodeTrace = { type: "scatter", mode: "markers+text", x: nodes.map((d) => pos[d.service][0]),
      y: nodes.map((d) => pos[d.service][1]), text: nodes.map((d) => d.service), textposition: "bottom center",
      marker: { size: 30, color: nodes.map((d) => (d.errors ? "#f3b5b5" : "#bcd3f5")), line: { width: 2, color: "#3b6ee8" } },
      hovertext: nodes.map((d) => d.service + ": " + d.spans + " spans, " + d.errors + " errors"), hoverinfo: "text" };
    Plotly.react(byId("service-map"), [nodeTrace], { annotations, showlegend: false, height: 320, margin: { l: 10, r: 10, t: 10, b: 10 },
      xaxis: { visible: false, range: [-1.6, 1.6] }, yaxis: { visible: false, range: [-1.5, 1.4] } }, { displayModeBar: false, responsive: true });
    byId("edges").querySelector("tbody").replaceChildren(...(map.edges.length ? map.edges.map((e) => el("tr", {},
      el("td", {}, e.source + " → " + e.target), el("td", {}, e.calls), el("td", {}, e.errors), el("td", {}, format.ms(e.avg_ms))))
      : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No calls between services in this range."))]));
  }

  byId("trace-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  fromUrl();
  ui.timeRange.init(run);
  run();
})();
