/* Explore: PromQL editor with autocompletion (metric names, label names, label values from the API),
   per-user query history, graph and table views, and parse errors shown at the parser's position. */
"use strict";
(function () {
  const { api, query, url, config, el, byId, format, ui } = window.Portal;
  const { legendName } = window.Panels;
  const input = byId("promql");
  const list = byId("suggestions");
  const errBox = byId("query-error");
  const statusEl = byId("explore-status");
  const graph = byId("result-graph");
  const tableBox = byId("result-table");
  const preset = byId("time-preset");
  const FUNCTIONS = ["abs", "absent", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "count", "count_over_time", "delta", "deriv", "exp", "floor", "group", "histogram_quantile", "holt_winters", "idelta",
    "increase", "irate", "label_join", "label_replace", "ln", "max", "max_over_time", "min", "min_over_time", "predict_linear",
    "quantile", "quantile_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc", "sqrt", "stddev", "sum",
    "sum_over_time", "time", "timestamp", "topk", "vector"];
  const cache = new Map();
  let items = [], active = 0, ctx = null, reqSeq = 0;

  input.value = config.query || "";
  if (config.start && [...preset.options].some((o) => o.value === config.start)) {
    preset.value = config.start;
  } else if (config.start) {  // an absolute range from a dashboard's Explore link
    preset.append(el("option", { value: config.start, "data-to": config.end || "now" }, "Range from the dashboard"));
    preset.value = config.start;
  }
  function rangeEnd() { return preset.selectedOptions[0].dataset.to || "now"; }

  async function cached(path, params) {
    const key = path + query(params);
    if (!cache.has(key)) cache.set(key, api.get(path, params).then((r) => r.results).catch(() => []));
    return cache.get(key);
  }

  /* What is being typed at the cursor: a metric/function, a label name, or a label value. */
  function context() {
    const pos = input.selectionStart, before = input.value.slice(0, pos);
    const open = before.lastIndexOf("{"), close = before.lastIndexOf("}");
    const inBraces = open > close;
    const metricBefore = (s) => { const m = /([a-zA-Z_:][\w:]*)\s*$/.exec(s); return m ? m[1] : ""; };
    let m;
    if (inBraces && (m = /([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(before))) {
      return { kind: "value", label: m[1], prefix: m[3], start: pos - m[3].length, metric: metricBefore(before.slice(0, open)) };
    }
    if (inBraces && (m = /[{,]\s*([a-zA-Z_]\w*)?$/.exec(before))) {
      const p = m[1] || "";
      return { kind: "label", prefix: p, start: pos - p.length, metric: metricBefore(before.slice(0, open)) };
    }
    if ((m = /\b(by|without)\s*\(([^)]*,)?\s*([a-zA-Z_]\w*)?$/.exec(before))) {
      const p = m[3] || "";
      return { kind: "label", prefix: p, start: pos - p.length, metric: (/([a-zA-Z_:][\w:]*)\s*[{[]/.exec(input.value) || [])[1] || "" };
    }
    if ((m = /([a-zA-Z_:][\w:]*)$/.exec(before))) {
      return { kind: "metric", prefix: m[1], start: pos - m[1].length };
    }
    return null;
  }

  async function suggest() {
    const seq = ++reqSeq;
    ctx = context();
    if (!ctx) { hide(); return; }
    let found = [];
    const match = ctx.metric ? { match: ctx.metric } : {};
    if (ctx.kind === "metric") {
      if (ctx.prefix.length < 1) { hide(); return; }
      const names = await cached("/explore/labels/__name__/values/");
      found = names.filter((n) => n.startsWith(ctx.prefix)).map((n) => ({ text: n, kind: "metric" }))
        .concat(FUNCTIONS.filter((f) => f.startsWith(ctx.prefix)).map((f) => ({ text: f, kind: "function" })));
    } else if (ctx.kind === "label") {
      const names = await cached("/explore/labels/", match);
      found = names.filter((n) => n.startsWith(ctx.prefix) && n !== "__name__").map((n) => ({ text: n, kind: "label" }));
    } else {
      const values = await cached("/explore/labels/" + encodeURIComponent(ctx.label) + "/values/", match);
      found = values.filter((v) => v.startsWith(ctx.prefix)).map((v) => ({ text: v, kind: "value" }));
    }
    if (seq !== reqSeq) return;
    items = found.slice(0, 50);
    if (!items.length || (items.length === 1 && items[0].text === ctx.prefix)) { hide(); return; }
    active = 0;
    render();
  }

  function render() {
    list.replaceChildren(...items.map((it, i) => {
      const li = el("li", { role: "option", class: i === active ? "active" : "", "data-value": it.text }, it.text, el("span", { class: "kind" }, it.kind));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(i); });
      return li;
    }));
    list.hidden = false;
  }
  function hide() { list.hidden = true; items = []; }

  function accept(i) {
    const it = items[i];
    if (!it || !ctx) return;
    const pos = input.selectionStart;
    let insert = it.text;
    const after = input.value.slice(pos);
    if (ctx.kind === "value" && !after.startsWith('"')) insert += '"';
    if (ctx.kind === "function" || it.kind === "function") insert += "(";
    input.value = input.value.slice(0, ctx.start) + insert + after;
    const caret = ctx.start + insert.length;
    input.setSelectionRange(caret, caret);
    hide();
    input.focus();
  }

  input.addEventListener("input", () => suggest());
  input.addEventListener("click", () => hide());
  input.addEventListener("blur", () => setTimeout(hide, 150));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); hide(); run(); return; }
    if (list.hidden) return;
    if (e.key === "ArrowDown") { e.preventDefault(); active = (active + 1) % items.length; render(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); active = (active - 1 + items.length) % items.length; render(); }
    else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); accept(active); }
    else if (e.key === "Escape") { hide(); }
  });

  function view() { return document.querySelector('input[name="view"]:checked').value; }

  /* The API's message, and the cursor put where the parser stopped. */
  function showError(e, promql) {
    ui.queryError(errBox, e, promql);
    if (errBox.dataset.position !== undefined) {
      const p = Number(errBox.dataset.position);
      input.focus();
      input.setSelectionRange(p, Math.min(promql.length, p + 1));
    }
  }

  async function run() {
    const promql = input.value.trim();
    if (!promql) return;
    ui.queryError(errBox, null);
    statusEl.textContent = "Running…";
    const tableView = view() === "table";
    try {
      const data = await api.get("/explore/query/", { query: promql, from: preset.value, to: rangeEnd(), instant: tableView ? "1" : "" });
      statusEl.textContent = data.result.length + " series · step " + data.step + "s";
      graph.hidden = tableView; tableBox.hidden = !tableView;
      if (tableView) renderTable(data); else renderGraph(data);
      url.update({ query: promql, from: preset.value });
    } catch (e) {
      statusEl.textContent = "";
      showError(e, promql);
    }
    loadHistory();
  }

  function renderGraph(data) {
    const series = data.resultType === "matrix" ? data.result : data.result.map((s) => ({ metric: s.metric, values: [s.value] }));
    const traces = series.map((s) => ({ type: "scatter", mode: s.values.length > 2 ? "lines" : "lines+markers", name: legendName("", s.metric), x: s.values.map((v) => new Date(v[0] * 1000)), y: s.values.map((v) => Number(v[1])) }));
    Plotly.react(graph, traces, { margin: { l: 60, r: 10, t: 10, b: 40 }, showlegend: true, legend: { orientation: "h", y: -0.2 },
      xaxis: { type: "date" }, yaxis: { tickformat: "~s" }, uirevision: "keep" }, { responsive: true, displaylogo: false });
    graph.dataset.points = String(series.reduce((n, s) => n + s.values.length, 0));
  }

  function renderTable(data) {
    const rows = data.result.map((s) => ({ metric: s.metric, value: s.value ? s.value[1] : (s.values || []).slice(-1)[0]?.[1] }));
    tableBox.replaceChildren(el("table", { class: "list", id: "explore-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Series"), el("th", { class: "num" }, "Value"))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, el("td", { class: "mono" }, legendName("", r.metric)), el("td", { class: "num" }, format.value(r.value, "none")))))));
  }

  async function loadHistory() {
    try {
      const data = await api.get("/explore/history/");
      const ul = byId("history");
      ul.replaceChildren(...data.results.map((h) => {
        const li = el("li", { title: new Date(h.created_at).toLocaleString() }, h.query);
        li.addEventListener("click", () => { input.value = h.query; run(); });
        return li;
      }));
    } catch (e) { /* history is a convenience; the query result says what matters */ }
  }

  byId("run-query").addEventListener("click", run);
  document.querySelectorAll('input[name="view"]').forEach((r) => r.addEventListener("change", run));
  preset.addEventListener("change", run);
  loadHistory();
  if (input.value) run();
})();
