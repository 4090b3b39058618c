/* One trace: a waterfall (span tree by start time), span attributes and events, and the trace's logs beside. */
"use strict";
(function () {
  const { api, query, config, el, $$, byId, format, searchValue, ui } = window.Portal;
  const PALETTE = ["#3b6ee8", "#2e9d5b", "#a15be0", "#e07b1a", "#1aa3b8", "#c2477a"];

  /* Depth-first by parent, children by start time; spans whose parent is missing become roots. */
  function order(spans) {
    const spanById = {}, children = {};
    spans.forEach((s) => { spanById[s.span_id] = s; });
    spans.forEach((s) => {
      const p = s.parent_span_id && spanById[s.parent_span_id] ? s.parent_span_id : "";
      (children[p] = children[p] || []).push(s);
    });
    const out = [];
    (function walk(parent, depth) {
      (children[parent] || []).sort((a, b) => (a.start < b.start ? -1 : 1)).forEach((s) => {
        out.push({ span: s, depth }); walk(s.span_id, depth + 1);
      });
    })("", 0);
    return out;
  }

  function waterfallRow(x, i, t0, total, services) {
    const s = x.span;
    const left = (Date.parse(s.start) - t0) / total * 100, width = Math.max(s.duration_ms / total * 100, 0.3);
    const color = s.status === "error" ? "#d43c3c" : PALETTE[services.indexOf(s.service) % PALETTE.length];
    // The duration label sits inside the bar's right end when the bar reaches the right edge.
    const dur = left + width > 85
      ? el("span", { class: "wf-dur inside", style: { right: Math.max(100 - left - width, 0) + "%" } }, format.ms(s.duration_ms))
      : el("span", { class: "wf-dur", style: { left: (left + width) + "%" } }, format.ms(s.duration_ms));
    // Spans on the critical path (what the trace waited for) are marked; their critical share is drawn on the bar.
    const crit = s.critical_ms > 0;
    return el("div", { class: ["wf-row", s.status === "error" && "err", crit && "crit"], "data-i": i, tabindex: 0,
      title: "self " + format.ms(s.self_ms) + (crit ? " · critical " + format.ms(s.critical_ms) : "") },
      el("div", { class: "wf-name", style: { paddingLeft: (x.depth * 14 + 4) + "px" } },
        el("span", { class: "svc", style: { borderColor: color } }, s.service), " ", s.name,
        el("span", { class: "wf-self muted" }, " self " + format.ms(s.self_ms))),
      el("div", { class: "wf-track" },
        el("div", { class: "wf-bar", style: { left: left + "%", width: width + "%", background: color } }), dur));
  }

  function render(trace) {
    const spans = trace.spans;
    const t0 = Math.min(...spans.map((s) => Date.parse(s.start)));
    const t1 = Math.max(...spans.map((s) => Date.parse(s.end)));
    const total = Math.max(t1 - t0, 0.001);
    const services = Array.from(new Set(spans.map((s) => s.service)));
    const critical = spans.reduce((a, s) => a + (s.critical_ms || 0), 0);
    byId("trace-summary").textContent = spans.length + " spans · " + services.length + " services · " + format.ms(total)
      + " · critical path " + spans.filter((s) => s.critical_ms > 0).length + " spans, " + format.ms(critical);
    const ordered = order(spans);
    const waterfall = byId("waterfall");
    waterfall.replaceChildren(
      el("div", { class: "wf-head" }, el("div", { class: "wf-name" }, "Span"), el("div", { class: "wf-track" }, "0 — " + format.ms(total))),
      ...ordered.map((x, i) => waterfallRow(x, i, t0, total, services)));
    waterfall.addEventListener("click", (e) => {
      const row = e.target.closest(".wf-row");
      if (!row) return;
      $$(".wf-row.sel").forEach((r) => r.classList.remove("sel"));
      row.classList.add("sel");
      showSpan(ordered[Number(row.dataset.i)].span, trace.logs);
    });
    if (ordered.length) { waterfall.querySelector(".wf-row").classList.add("sel"); showSpan(ordered[0].span, trace.logs); }
    renderLogs(trace.logs, null);
  }

  /* The span's service page over the hour around the span, so an older trace opens its own time. */
  function serviceLink(s) {
    const t0 = Date.parse(s.start), t1 = Date.parse(s.end);
    return config.base + "/services/" + encodeURIComponent(s.service) + "/"
      + query({ start: new Date(t0 - 30 * 60e3).toISOString(), end: new Date(Math.min(t1 + 30 * 60e3, Date.now())).toISOString() });
  }

  function showSpan(s, logs) {
    const d = byId("span-detail");
    d.hidden = false;
    d.replaceChildren(
      el("h2", {}, el("a", { class: "service-link", href: serviceLink(s) }, s.service),
        " · " + s.name),
      ui.kvTable({ span_id: s.span_id, parent_span_id: s.parent_span_id || "(root)", kind: s.kind,
        status: s.status + (s.status_message ? ": " + s.status_message : ""), start: format.timestamp(s.start), duration: format.ms(s.duration_ms),
        "self time": format.ms(s.self_ms), "on critical path": s.critical_ms > 0 ? format.ms(s.critical_ms) : "no" }),
      el("h3", {}, "Attributes"), ui.kvTable(s.attributes),
      el("h3", {}, "Resource"), ui.kvTable(s.resource),
      el("h3", {}, "Events"),
      s.events.length ? el("table", { class: "list events" }, s.events.map((ev) => el("tr", {},
        el("td", { class: "mono" }, format.timestamp(ev.time)), el("td", {}, el("strong", {}, ev.name)), el("td", {}, ui.kvTable(ev.attributes)))))
        : el("span", { class: "muted" }, "none"));
    renderLogs(logs, s.span_id);
  }

  function renderLogs(logs, spanId) {
    const box = byId("trace-logs");
    if (!logs.length) { box.replaceChildren(el("div", { class: "empty" }, "No log records carry this trace id.")); return; }
    box.replaceChildren(el("table", { class: "list logs" }, logs.map((r) => el("tr", { class: spanId && r.span_id === spanId ? "here" : "" },
      el("td", { class: "t mono" }, format.timestamp(r.time)), el("td", {}, ui.levelBadge(r.level)), el("td", {}, r.service),
      el("td", { class: "body" }, r.body, r.correlation_id ? [" ", el("a", { class: "muted",
        href: config.base + "/logs/" + query({ q: "correlation_id=" + searchValue(r.correlation_id, true) }) }, "cid")] : null)))));
  }

  byId("compare-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const other = byId("compare-with").value.trim().toLowerCase();
    if (other) location.href = config.base + "/traces/compare/" + query({ a: config.trace_id, b: other });
  });

  api.get("/traces/" + encodeURIComponent(config.trace_id) + "/").then(render).catch((err) => ui.flash(err.message, "error"));
})();
