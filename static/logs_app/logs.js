/* Logs explorer: time range, search with history, histogram (click/drag to zoom), expandable records,
   context, live tail (server-sent events from /o/<org>/logs/tail/stream/), links to the trace and to the correlation id, export. */
(function () {
  "use strict";
  const T = window.Telemetry;
  const $ = function (id) { return document.getElementById(id); };
  const HKEY = "logs-history:" + T.ORG;
  const state = {q: "", start: "", end: "", cursor: null, zoomStack: [], records: {}, tailSource: null};

  function history() { try { return JSON.parse(localStorage.getItem(HKEY) || "[]"); } catch (e) { return []; } }
  function remember(q) {
    if (!q) return;
    const h = history().filter(function (x) { return x !== q; });
    h.unshift(q); localStorage.setItem(HKEY, JSON.stringify(h.slice(0, 20))); renderHistory();
  }
  function renderHistory() {
    const h = history();
    $("history").innerHTML = h.map(function (q) { return '<option value="' + T.esc(q) + '">'; }).join("");
    $("history-list").innerHTML = h.length ? '<span class="muted">Recent:</span> ' + h.slice(0, 8).map(function (q) {
      return '<button type="button" class="chip" data-q="' + T.esc(q) + '">' + T.esc(q) + "</button>";
    }).join("") : "";
  }
  $("history-list").addEventListener("click", function (e) {
    const b = e.target.closest(".chip"); if (!b) return;
    $("q").value = b.dataset.q; run();
  });

  function currentRange() {
    if (state.zoomStack.length) return state.zoomStack[state.zoomStack.length - 1];
    return T.range();
  }

  async function run(keepZoom) {
    stopTail();
    if (!keepZoom) { state.zoomStack = []; $("zoom-out").hidden = true; }
    state.q = $("q").value.trim();
    const r = currentRange();
    state.start = r.start; state.end = r.end; state.cursor = null; state.records = {};
    const gen = state.gen = (state.gen || 0) + 1;  // a newer search makes this one's answers stale
    const url = new URL(window.location.href);
    url.searchParams.set("q", state.q); window.history.replaceState(null, "", url);
    T.showQueryError(null);
    $("results").querySelector("tbody").innerHTML = "";
    try {
      // One request after the other: the embedded SQLite setup serves them on one connection anyway.
      const hist = await T.api("logs/histogram/?" + T.qs({q: state.q, start: state.start, end: state.end, buckets: 60}));
      const page = await T.api("logs/search/?" + T.qs({q: state.q, start: state.start, end: state.end, limit: 100}));
      if (gen !== state.gen) return;
      remember(state.q);
      drawHistogram(hist);
      appendRecords(page.records);
      state.cursor = page.next_cursor;
      $("more").hidden = !state.cursor;
      if (!page.records.length) $("results").querySelector("tbody").innerHTML = '<tr><td colspan="4" class="empty">No matching records in this range.</td></tr>';
    } catch (err) {
      if (gen === state.gen) T.showQueryError(err);
    }
  }

  async function more() {
    if (!state.cursor) return;
    const page = await T.api("logs/search/?" + T.qs({q: state.q, start: state.start, end: state.end, limit: 100, cursor: state.cursor}));
    appendRecords(page.records); state.cursor = page.next_cursor; $("more").hidden = !state.cursor;
  }

  function drawHistogram(hist) {
    $("total").textContent = hist.total.toLocaleString();
    const levels = ["fatal", "error", "warn", "info", "debug", "trace"];
    const x = hist.buckets.map(function (b) { return b.start; });
    const traces = levels.filter(function (l) { return hist.buckets.some(function (b) { return (b.by_level[l] || 0) > 0; }); })
      .map(function (l) {
        return {type: "bar", name: l, x: x, y: hist.buckets.map(function (b) { return b.by_level[l] || 0; }),
          marker: {color: T.LEVEL_COLORS[l]}, hovertemplate: "%{y} " + l + "<extra>%{x}</extra>"};
      });
    if (!traces.length) traces.push({type: "bar", x: x, y: hist.buckets.map(function () { return 0; }), name: "none", showlegend: false});
    state.step = hist.step_seconds;
    const layout = {barmode: "stack", margin: {l: 40, r: 10, t: 6, b: 30}, height: 160, bargap: 0.1,
      xaxis: {type: "date", range: [hist.start, hist.end]}, yaxis: {fixedrange: true, rangemode: "tozero"},
      legend: {orientation: "h", y: 1.25}, dragmode: "zoom"};
    const el = $("histogram");
    state.drawing = true;
    Plotly.react(el, traces, layout, {displayModeBar: false, responsive: true});
    state.drawing = false;
    if (!el._wired) {
      el._wired = true;
      el.on("plotly_click", function (ev) {
        if (!ev.points || !ev.points.length) return;
        const start = parseUtc(ev.points[0].x);
        zoomTo(start.toISOString(), new Date(start.getTime() + state.step * 1000).toISOString());
      });
      el.on("plotly_relayout", function (ev) {
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
    state.zoomStack.push({start: start, end: end});
    $("zoom-out").hidden = false;
    T.setCustomRange(start, end);
    run(true);
  }
  $("zoom-out").addEventListener("click", function () {
    state.zoomStack.pop();
    if (!state.zoomStack.length) { $("range").value = "1h"; $("custom-range").hidden = true; $("zoom-out").hidden = true; }
    else { const z = state.zoomStack[state.zoomStack.length - 1]; T.setCustomRange(z.start, z.end); }
    run(true);
  });

  function rowHtml(r, fresh) {
    return '<tr class="rec lvl-row-' + T.esc(r.level) + (fresh ? " fresh" : "") + '" data-id="' + T.esc(r.id) + '" tabindex="0">' +
      '<td class="t mono">' + T.esc(T.fmtTime(r.time)) + "</td><td>" + T.levelBadge(r.level) + "</td><td>" + T.esc(r.service) +
      '</td><td class="body">' + T.esc(r.body) + "</td></tr>";
  }
  function appendRecords(records, prepend) {
    const tbody = $("results").querySelector("tbody");
    const empty = tbody.querySelector(".empty"); if (empty) empty.parentNode.remove();
    records.forEach(function (r) { state.records[r.id] = r; });
    const html = records.map(function (r) { return rowHtml(r, prepend); }).join("");
    if (prepend) tbody.insertAdjacentHTML("afterbegin", html); else tbody.insertAdjacentHTML("beforeend", html);
  }

  function detailHtml(r) {
    const links = [];
    if (r.trace_id) links.push('<a class="button small trace-link" href="' + T.BASE + "/traces/" + T.esc(r.trace_id) + '/">View trace ' + T.esc(r.trace_id.slice(0, 8)) + "…</a>");
    if (r.correlation_id) links.push('<button type="button" class="small secondary corr-link" data-cid="' + T.esc(r.correlation_id) + '">All records with correlation id ' + T.esc(r.correlation_id) + "</button>");
    links.push('<button type="button" class="small secondary context-btn">Show context</button>');
    const ids = {id: r.id, trace_id: r.trace_id, span_id: r.span_id, correlation_id: r.correlation_id, user_id: r.user_id, severity_number: r.severity_number};
    return '<tr class="detail"><td colspan="4"><div class="actions">' + links.join(" ") + "</div>" +
      '<div class="detail-grid"><div><h3>Attributes</h3>' + T.kv(r.attributes) + "</div><div><h3>Resource</h3>" + T.kv(r.resource) +
      "</div><div><h3>Record</h3>" + T.kv(ids) + '</div></div><div class="context"></div></td></tr>';
  }

  $("results").addEventListener("click", async function (e) {
    const corr = e.target.closest(".corr-link");
    if (corr) { $("q").value = 'correlation_id="' + corr.dataset.cid + '"'; run(); return; }
    const ctxBtn = e.target.closest(".context-btn");
    if (ctxBtn) {
      const detail = ctxBtn.closest("tr.detail"); const id = detail.previousElementSibling.dataset.id;
      const box = detail.querySelector(".context");
      try {
        const c = await T.api("logs/context/" + encodeURIComponent(id) + "/?before=10&after=10");
        const rows = c.before.concat([c.record], c.after);
        box.innerHTML = "<h3>Context: " + T.esc(c.record.service) + " (" + c.before.length + " before, " + c.after.length + ' after)</h3><table class="list ctx">' +
          rows.map(function (r) {
            return '<tr class="' + (r.id === c.record.id ? "here" : "") + '"><td class="t mono">' + T.esc(T.fmtTime(r.time)) + "</td><td>" + T.levelBadge(r.level) + '</td><td class="body">' + T.esc(r.body) + "</td></tr>";
          }).join("") + "</table>";
      } catch (err) { box.textContent = err.message; }
      return;
    }
    if (e.target.closest("a") || e.target.closest("tr.detail")) return;
    const tr = e.target.closest("tr.rec"); if (!tr) return;
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); tr.classList.remove("open"); return; }
    tr.classList.add("open");
    tr.insertAdjacentHTML("afterend", detailHtml(state.records[tr.dataset.id]));
  });

  // Live tail: a server-sent event stream of new records, prepended as they arrive. The first page comes
  // from the tail API, so a bad query shows its error under the cursor and the stream starts at "now";
  // EventSource reconnects by itself with the last cursor (Last-Event-ID) when a stream ends.
  async function startTail() {
    state.q = $("q").value.trim();
    let first;
    try { first = await T.api("logs/tail/?" + T.qs({q: state.q})); } catch (err) { T.showQueryError(err); return; }
    $("tail").setAttribute("aria-pressed", "true"); $("tail").textContent = "■ Stop tail";
    $("tail-status").hidden = false; $("tail-status").textContent = "Live tail: waiting for new records…";
    const src = new EventSource(location.pathname + "tail/stream/?" + T.qs({q: state.q, cursor: first.cursor}));
    state.tailSource = src;
    src.addEventListener("records", function (ev) {
      const records = JSON.parse(ev.data);
      appendRecords(records.slice().reverse(), true);
      $("tail-status").textContent = "Live tail: " + records.length + " new record(s) at " + new Date().toISOString().slice(11, 19) + " UTC";
    });
    src.addEventListener("end", function () {
      $("tail-status").textContent = "Live tail stopped: your access to this organization has ended."; stopTail(true);
    });
    src.onerror = function () {
      if (src.readyState === EventSource.CLOSED) { $("tail-status").textContent = "Live tail stopped: the server closed the stream."; stopTail(true); }
    };
  }
  function stopTail(keepStatus) {
    if (state.tailSource) state.tailSource.close();
    state.tailSource = null;
    $("tail").setAttribute("aria-pressed", "false"); $("tail").textContent = "▶ Live tail";
    if (!keepStatus) $("tail-status").hidden = true;
  }
  $("tail").addEventListener("click", function () { if ($("tail").getAttribute("aria-pressed") === "true") stopTail(); else startTail(); });

  // Export exactly what is on screen: query and time range.
  $("export").addEventListener("click", async function () {
    const r = currentRange();
    try {
      const ex = await T.api("exports/", {method: "POST", body: {query: $("q").value.trim(), start: r.start, end: r.end,
        format: $("export-format").value, gzip: $("export-gzip").checked}});
      T.flash("Export #" + ex.id + " started.", "info");
      watchExport(ex.id);
    } catch (err) { T.flash("Export failed: " + err.message, "error"); }
  });
  async function watchExport(id) {
    const ex = await T.api("exports/" + id + "/");
    const el = $("flash"); el.hidden = false; el.className = "flash info"; clearTimeout(T.flash._t);
    if (ex.status === "done") {
      el.innerHTML = "Export #" + ex.id + " ready: " + ex.rows_written + " rows, " + T.fmtBytes(ex.size_bytes) +
        ' — <a id="export-download" href="' + T.esc(ex.download_url) + '">Download</a> · <a href="' + T.BASE + '/exports/">All exports</a>';
      return;
    }
    if (ex.status === "failed" || ex.status === "cancelled") { el.className = "flash error"; el.textContent = "Export #" + ex.id + " " + ex.status + ". " + (ex.error || ""); return; }
    el.textContent = "Export #" + ex.id + " " + ex.status + ": " + ex.rows_written + " rows" + (ex.percent !== null ? " (" + ex.percent + "%)" : "");
    setTimeout(function () { watchExport(id); }, 700);
  }

  $("search-form").addEventListener("submit", function (e) { e.preventDefault(); run(); });
  $("more").addEventListener("click", more);
  T.initRange(function () { run(); });
  const params = new URLSearchParams(window.location.search);
  if (params.get("q")) $("q").value = params.get("q");
  if (params.get("start") && params.get("end")) T.setCustomRange(params.get("start"), params.get("end"));
  renderHistory();
  run();
})();
