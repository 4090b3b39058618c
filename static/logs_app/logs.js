/* Logs explorer: time range, search with history, histogram (click/drag to zoom), expandable records,
   context, live tail (server-sent events from /o/<org>/logs/tail/stream/), links to the trace and to the
   correlation id, export. */
"use strict";
(function () {
  const { api, query, url, config, el, byId, format, searchValue, ui } = window.Portal;
  const LEVEL_COLORS = { trace: "#9aa3ad", debug: "#7d8a99", info: "#3b82c4", warn: "#e0a100", error: "#d43c3c", fatal: "#8b1a1a" };
  const HKEY = "logs-history:" + config.org;
  const state = { q: "", start: "", end: "", cursor: null, zoomStack: [], records: {}, tailSource: null, gen: 0 };
  const tbody = byId("results").querySelector("tbody");

  // --- search history (per browser, per org) ---------------------------------------------------
  function recent() { try { return JSON.parse(localStorage.getItem(HKEY) || "[]"); } catch (e) { return []; } }
  function remember(q) {
    if (!q) return;
    const h = recent().filter((x) => x !== q);
    h.unshift(q);
    localStorage.setItem(HKEY, JSON.stringify(h.slice(0, 20)));
    renderHistory();
  }
  function renderHistory() {
    const h = recent();
    byId("history").replaceChildren(...h.map((q) => el("option", { value: q })));
    byId("history-list").replaceChildren(...(h.length ? [el("span", { class: "muted" }, "Recent:"), " "] : []),
      ...h.slice(0, 8).map((q) => el("button", { type: "button", class: "chip", "data-q": q }, q)));
  }
  byId("history-list").addEventListener("click", (e) => {
    const b = e.target.closest(".chip");
    if (!b) return;
    byId("q").value = b.dataset.q;
    run();
  });

  function currentRange() {
    return state.zoomStack.length ? state.zoomStack[state.zoomStack.length - 1] : ui.timeRange.get();
  }

  // --- search ----------------------------------------------------------------------------------
  async function run(keepZoom) {
    stopTail();
    if (!keepZoom) { state.zoomStack = []; byId("zoom-out").hidden = true; }
    state.q = byId("q").value.trim();
    const r = currentRange();
    state.start = r.start; state.end = r.end; state.cursor = null; state.records = {};
    const gen = ++state.gen;  // a newer search makes this one's answers stale
    url.update({ q: state.q });
    ui.queryError(byId("query-error"), null);
    tbody.replaceChildren();
    try {
      // One request after the other: the embedded SQLite setup serves them on one connection anyway.
      const hist = await api.get("/logs/histogram/", { q: state.q, start: state.start, end: state.end, buckets: 60 });
      const page = await api.get("/logs/search/", { q: state.q, start: state.start, end: state.end, limit: 100 });
      if (gen !== state.gen) return;
      remember(state.q);
      drawHistogram(hist);
      appendRecords(page.records);
      state.cursor = page.next_cursor;
      byId("more").hidden = !state.cursor;
      if (!page.records.length) tbody.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "No matching records in this range.")));
      // Facets, counts by field and saved searches (logs_analytics.js) follow the search that ran.
      document.dispatchEvent(new CustomEvent("logs:searched", { detail: { q: state.q, start: state.start, end: state.end } }));
    } catch (err) {
      if (gen === state.gen) ui.queryError(byId("query-error"), err, state.q);
    }
  }

  async function more() {
    if (!state.cursor) return;
    const page = await api.get("/logs/search/", { q: state.q, start: state.start, end: state.end, limit: 100, cursor: state.cursor });
    appendRecords(page.records);
    state.cursor = page.next_cursor;
    byId("more").hidden = !state.cursor;
  }

  // --- histogram and zoom ----------------------------------------------------------------------
  function drawHistogram(hist) {
    byId("total").textContent = hist.total.toLocaleString();
    const levels = ["fatal", "error", "warn", "info", "debug", "trace"];
    const x = hist.buckets.map((b) => b.start);
    const traces = levels.filter((l) => hist.buckets.some((b) => (b.by_level[l] || 0) > 0)).map((l) => ({
      type: "bar", name: l, x, y: hist.buckets.map((b) => b.by_level[l] || 0),
      marker: { color: LEVEL_COLORS[l] }, hovertemplate: "%{y} " + l + "<extra>%{x}</extra>",
    }));
    if (!traces.length) traces.push({ type: "bar", x, y: hist.buckets.map(() => 0), name: "none", showlegend: false });
    state.step = hist.step_seconds;
    const layout = { barmode: "stack", margin: { l: 40, r: 10, t: 6, b: 30 }, height: 160, bargap: 0.1,
      xaxis: { type: "date", range: [hist.start, hist.end] }, yaxis: { fixedrange: true, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.25 }, dragmode: "zoom" };
    const box = byId("histogram");
    state.drawing = true;
    Plotly.react(box, traces, layout, { displayModeBar: false, responsive: true });
    state.drawing = false;
    if (!box.dataset.wired) {
      box.dataset.wired = "1";
      box.on("plotly_click", (ev) => {
        if (!ev.points || !ev.points.length) return;
        const start = parseUtc(ev.points[0].x);
        zoomTo(start.toISOString(), new Date(start.getTime() + state.step * 1000).toISOString());
      });
      box.on("plotly_relayout", (ev) => {
        if (state.drawing) return;
        if (ev["xaxis.range[0]"] && ev["xaxis.range[1]"]) {
          const a = parseUtc(ev["xaxis.range[0]"]), b = parseUtc(ev["xaxis.range[1]"]);
          if (!isNaN(a) && !isNaN(b) && b > a) zoomTo(a.toISOString(), b.toISOString());
        }
      });
    }
  }

  // Plotly hands back dates as "YYYY-MM-DD HH:MM:SS.sss" wall-clock strings of the UTC axis.
  function parseUtc(v) {
    const s = String(v).replace(" ", "T");
    return new Date(/(Z|[+-]\d\d:\d\d)$/.test(s) ? s : s + "Z");
  }

  function zoomTo(start, end) {
    state.zoomStack.push({ start, end });
    byId("zoom-out").hidden = false;
    ui.timeRange.setCustom(start, end);
    run(true);
  }
  byId("zoom-out").addEventListener("click", () => {
    state.zoomStack.pop();
    if (!state.zoomStack.length) { ui.timeRange.setPreset("1h"); byId("zoom-out").hidden = true; }
    else { const z = state.zoomStack[state.zoomStack.length - 1]; ui.timeRange.setCustom(z.start, z.end); }
    run(true);
  });

  // --- records and their detail ----------------------------------------------------------------
  function recordRow(r, fresh) {
    return el("tr", { class: ["rec", "lvl-row-" + r.level, fresh && "fresh"], "data-id": r.id, tabindex: 0 },
      el("td", { class: "t mono" }, format.timestamp(r.time)), el("td", {}, ui.levelBadge(r.level)),
      el("td", {}, r.service), el("td", { class: "body" }, r.body));
  }
  function appendRecords(records, prepend) {
    const empty = tbody.querySelector(".empty");
    if (empty) empty.parentNode.remove();
    records.forEach((r) => { state.records[r.id] = r; });
    const rows = records.map((r) => recordRow(r, prepend));
    if (prepend) tbody.prepend(...rows); else tbody.append(...rows);
  }

  function detailRow(r) {
    const ids = { id: r.id, trace_id: r.trace_id, span_id: r.span_id, correlation_id: r.correlation_id, user_id: r.user_id,
      severity_number: r.severity_number };
    return el("tr", { class: "detail" }, el("td", { colspan: 4 },
      el("div", { class: "actions" },
        r.trace_id ? el("a", { class: "button small trace-link", href: config.base + "/traces/" + encodeURIComponent(r.trace_id) + "/" },
          "View trace " + r.trace_id.slice(0, 8) + "…") : null, " ",
        r.correlation_id ? el("button", { type: "button", class: "small secondary corr-link", "data-cid": r.correlation_id },
          "All records with correlation id " + r.correlation_id) : null, " ",
        el("button", { type: "button", class: "small secondary context-btn" }, "Show context"), " ",
        el("a", { class: "small context-link", href: config.base + "/logs/" + query({ context: r.id }),
          title: "A link to this record among the records around it (for another member of the organization)" }, "Link to context")),
      el("div", { class: "detail-grid" },
        el("div", {}, el("h3", {}, "Attributes"), ui.kvTable(r.attributes)),
        el("div", {}, el("h3", {}, "Resource"), ui.kvTable(r.resource)),
        el("div", {}, el("h3", {}, "Record"), ui.kvTable(ids))),
      el("div", { class: "context" })));
  }

  async function showContext(detail) {
    await renderContext(detail.previousElementSibling.dataset.id, detail.querySelector(".context"));
  }

  /* The records around one record (same service), the record marked; also the page's own view when the URL
     names a record (?context=<id>): another org's record is the API's 404, shown as "not found". */
  async function renderContext(id, box) {
    try {
      const c = await api.get("/logs/context/" + encodeURIComponent(id) + "/", { before: 10, after: 10 });
      const rows = c.before.concat([c.record], c.after);
      box.replaceChildren(
        el("h3", {}, "Context: " + c.record.service + " (" + c.before.length + " before, " + c.after.length + " after)"),
        el("table", { class: "list ctx" }, rows.map((r) => el("tr", { class: r.id === c.record.id ? "here" : "" },
          el("td", { class: "t mono" }, format.timestamp(r.time)), el("td", {}, ui.levelBadge(r.level)),
          el("td", { class: "body" }, r.body)))));
    } catch (err) { box.textContent = err.message; }
  }

  byId("results").addEventListener("click", (e) => {
    const corr = e.target.closest(".corr-link");
    if (corr) { byId("q").value = "correlation_id=" + searchValue(corr.dataset.cid, true); run(); return; }
    const ctxBtn = e.target.closest(".context-btn");
    if (ctxBtn) { showContext(ctxBtn.closest("tr.detail")); return; }
    if (e.target.closest("a") || e.target.closest("tr.detail")) return;
    const tr = e.target.closest("tr.rec");
    if (!tr) return;
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); tr.classList.remove("open"); return; }
    tr.classList.add("open");
    tr.after(detailRow(state.records[tr.dataset.id]));
  });

  // --- live tail -------------------------------------------------------------------------------
  // A server-sent event stream of new records, prepended as they arrive. The first page comes from the
  // tail API, so a bad query shows its error under the cursor and the stream starts at "now";
  // EventSource reconnects by itself with the last cursor (Last-Event-ID) when a stream ends.
  const tailBtn = byId("tail"), tailStatus = byId("tail-status");
  async function startTail() {
    state.q = byId("q").value.trim();
    let first;
    try { first = await api.get("/logs/tail/", { q: state.q }); } catch (err) { ui.queryError(byId("query-error"), err, state.q); return; }
    tailBtn.setAttribute("aria-pressed", "true"); tailBtn.textContent = "■ Stop tail";
    tailStatus.hidden = false; tailStatus.textContent = "Live tail: waiting for new records…";
    const src = new EventSource(location.pathname + "tail/stream/" + query({ q: state.q, cursor: first.cursor }));
    state.tailSource = src;
    src.addEventListener("records", (ev) => {
      const records = JSON.parse(ev.data);
      appendRecords(records.slice().reverse(), true);
      tailStatus.textContent = "Live tail: " + records.length + " new record(s) at " + new Date().toISOString().slice(11, 19) + " UTC";
    });
    src.addEventListener("end", () => {
      tailStatus.textContent = "Live tail stopped: your access to this organization has ended.";
      stopTail(true);
    });
    src.onerror = () => {
      if (src.readyState === EventSource.CLOSED) { tailStatus.textContent = "Live tail stopped: the server closed the stream."; stopTail(true); }
    };
  }
  function stopTail(keepStatus) {
    if (state.tailSource) state.tailSource.close();
    state.tailSource = null;
    tailBtn.setAttribute("aria-pressed", "false"); tailBtn.textContent = "▶ Live tail";
    if (!keepStatus) tailStatus.hidden = true;
  }
  tailBtn.addEventListener("click", () => { if (tailBtn.getAttribute("aria-pressed") === "true") stopTail(); else startTail(); });

  // --- export exactly what is on screen: query and time range -----------------------------------
  byId("export").addEventListener("click", async () => {
    const r = currentRange();
    try {
      const ex = await api.post("/exports/", { query: byId("q").value.trim(), start: r.start, end: r.end,
        format: byId("export-format").value, gzip: byId("export-gzip").checked });
      ui.flash("Export #" + ex.id + " started.", "info");
      watchExport(ex.id);
    } catch (err) { ui.flash("Export failed: " + err.message, "error"); }
  });
  async function watchExport(id) {
    const ex = await api.get("/exports/" + id + "/");
    if (ex.status === "done") {
      ui.flash(["Export #" + ex.id + " ready: " + ex.rows_written + " rows, " + format.bytes(ex.size_bytes) + " — ",
        el("a", { id: "export-download", href: ex.download_url }, "Download"), " · ",
        el("a", { href: config.base + "/exports/" }, "All exports")], "info", true);
      return;
    }
    if (ex.status === "failed" || ex.status === "cancelled") {
      ui.flash("Export #" + ex.id + " " + ex.status + ". " + (ex.error || ""), "error", true);
      return;
    }
    ui.flash("Export #" + ex.id + " " + ex.status + ": " + ex.rows_written + " rows" + (ex.percent !== null ? " (" + ex.percent + "%)" : ""), "info", true);
    setTimeout(() => watchExport(id), 700);
  }

  // --- start -----------------------------------------------------------------------------------
  byId("search-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  byId("more").addEventListener("click", more);
  ui.timeRange.init(() => run());
  if (url.get("q")) byId("q").value = url.get("q");
  if (url.get("start") && url.get("end")) ui.timeRange.setCustom(url.get("start"), url.get("end"));
  if (url.get("context")) {
    const view = byId("context-view");
    view.hidden = false;
    renderContext(url.get("context"), view);
  }
  renderHistory();
  run();
})();
