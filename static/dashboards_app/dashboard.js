/* One dashboard: time picker, auto refresh, variables, panel grid with drag/resize, panel editor with
   live preview, full-screen panels, legend toggles, links to Explore. Talks to /api/v1 only. */
"use strict";
(function () {
  const { api, query, url, config, el, byId, searchValue } = window.Portal;
  const doc = JSON.parse(JSON.stringify(config.doc));
  const state = {
    from: doc.time.from, to: doc.time.to, refresh: doc.refresh || "", vars: {}, options: {},
    editing: false, dirty: false, version: config.version, timer: null, seq: 0, lastData: {},
  };
  const ROW_PX = 30, COLS = 24;
  const grid = byId("grid");
  const statusEl = byId("dash-status");
  const params = url.params();

  // --- URL state: from/to/refresh/var-* survive reloads and links ------------------------------
  if (params.get("from")) state.from = params.get("from");
  if (params.get("to")) state.to = params.get("to");
  if (params.has("refresh")) state.refresh = params.get("refresh");
  for (const [k, v] of params) {
    if (k.startsWith("var-")) { const n = k.slice(4); state.vars[n] = state.vars[n] ? [].concat(state.vars[n], v) : v; }
  }

  function pushUrl() {
    url.update(Object.assign({ from: state.from, to: state.to, refresh: state.refresh }, varParams()), "var-");
  }

  function setStatus(text, isError) { statusEl.textContent = text; statusEl.classList.toggle("error", !!isError); }

  function dataPath() {
    return config.builtin ? "/builtin-dashboards/" + config.slug + "/data/" : "/dashboards/" + config.uid + "/data/";
  }

  function varParams() {
    const p = {};
    for (const [k, v] of Object.entries(state.vars)) p["var-" + k] = v;
    return p;
  }

  function scopeParam() {
    const box = byId("platform-scope");
    return box ? (box.checked ? "platform" : "org") : undefined;
  }

  // --- time picker ---------------------------------------------------------------------------
  const preset = byId("time-preset");
  const absBox = byId("absolute-range");
  const absFrom = byId("abs-from"), absTo = byId("abs-to");
  function toLocalInput(d) { const z = new Date(d.getTime() - d.getTimezoneOffset() * 60000); return z.toISOString().slice(0, 19); }
  function syncTimeControls() {
    const isRel = state.to === "now" && [...preset.options].some((o) => o.value === state.from);
    preset.value = isRel ? state.from : "absolute";
    absBox.hidden = isRel;
    if (!isRel) {
      absFrom.value = toLocalInput(new Date(Number(state.from) * 1000 || Date.parse(state.from) || Date.now() - 3600e3));
      absTo.value = toLocalInput(new Date(state.to === "now" ? Date.now() : (Number(state.to) * 1000 || Date.parse(state.to))));
    }
  }
  preset.addEventListener("change", () => {
    if (preset.value === "absolute") {
      absBox.hidden = false;
      absFrom.value = toLocalInput(new Date(Date.now() - 3600e3)); absTo.value = toLocalInput(new Date());
      return;
    }
    state.from = preset.value; state.to = "now"; absBox.hidden = true; pushUrl(); load();
  });
  byId("abs-apply").addEventListener("click", () => {
    const f = new Date(absFrom.value), t = new Date(absTo.value);
    if (!(f < t)) { setStatus("The start of the range must be before its end.", true); return; }
    state.from = String(Math.floor(f.getTime() / 1000)); state.to = String(Math.floor(t.getTime() / 1000));
    pushUrl(); load();
  });

  // --- auto refresh --------------------------------------------------------------------------
  const refreshSel = byId("refresh-every");
  function seconds(d) { const m = /^(\d+)([smh])$/.exec(d || ""); return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2]] : 0; }
  function schedule() {
    clearInterval(state.timer); state.timer = null;
    const s = seconds(state.refresh);
    if (s) state.timer = setInterval(() => { if (!document.hidden && !state.editing) load(); }, s * 1000);
  }
  if (state.refresh && ![...refreshSel.options].some((o) => o.value === state.refresh)) refreshSel.append(el("option", { value: state.refresh }, state.refresh));
  refreshSel.value = state.refresh;
  refreshSel.addEventListener("change", () => { state.refresh = refreshSel.value; pushUrl(); schedule(); });
  byId("refresh-now").addEventListener("click", () => load());
  const scopeBox = byId("platform-scope");
  if (scopeBox) scopeBox.addEventListener("change", () => load());

  // --- variables -----------------------------------------------------------------------------
  function renderVariables() {
    const box = byId("variables");
    box.replaceChildren();
    for (const v of doc.variables || []) {
      const opts = state.options[v.name] || v.options || [];
      const sel = el("select", { id: "var-" + v.name, "data-variable": v.name });
      if (v.multi) { sel.multiple = true; sel.size = Math.min(4, opts.length + (v.includeAll ? 1 : 0)); }
      if (v.includeAll) sel.append(el("option", { value: "$__all" }, "All"));
      opts.forEach((o) => sel.append(el("option", { value: o }, o)));
      const cur = [].concat(state.vars[v.name] ?? v.current ?? (v.includeAll ? "$__all" : opts[0] ?? ""));
      [...sel.options].forEach((o) => { o.selected = cur.includes(o.value); });
      sel.addEventListener("change", () => {
        const chosen = [...sel.selectedOptions].map((o) => o.value);
        state.vars[v.name] = v.multi ? chosen : chosen[0];
        pushUrl(); load();
      });
      box.append(el("label", { class: "variable" }, (v.label || v.name) + " ", sel));
    }
  }

  // --- grid layout, drag and resize ----------------------------------------------------------
  function colWidth() { return grid.clientWidth / COLS; }
  function place(node, g) {
    const cw = colWidth();
    node.style.left = (g.x * cw) + "px"; node.style.top = (g.y * ROW_PX) + "px";
    node.style.width = (g.w * cw - 8) + "px"; node.style.height = (g.h * ROW_PX - 8) + "px";
  }
  function layoutGrid() {
    let bottom = 0;
    for (const p of doc.panels) {
      const node = grid.querySelector('[data-panel-id="' + p.id + '"]');
      if (node) place(node, p.gridPos);
      bottom = Math.max(bottom, p.gridPos.y + p.gridPos.h);
    }
    grid.style.height = (bottom * ROW_PX + 20) + "px";
    grid.querySelectorAll(".panel-body").forEach((b) => window.Panels.resize(b));
  }

  function overlaps(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }

  /* The moved panel keeps its place; every panel it now overlaps moves down below it (and so on). */
  function resolveCollisions(moved) {
    const placed = [moved];
    const others = doc.panels.filter((p) => p !== moved).sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
    for (const p of others) {
      let again = true;
      while (again) {
        again = false;
        for (const q of placed) {
          if (overlaps(p.gridPos, q.gridPos)) { p.gridPos.y = q.gridPos.y + q.gridPos.h; again = true; }
        }
      }
      placed.push(p);
    }
  }

  function startDrag(ev, panel, node, mode) {
    if (!state.editing) return;
    ev.preventDefault();
    const cw = colWidth(), start = { x: ev.clientX, y: ev.clientY }, g0 = Object.assign({}, panel.gridPos);
    node.classList.add("dragging");
    function move(e) {
      const dx = Math.round((e.clientX - start.x) / cw), dy = Math.round((e.clientY - start.y) / ROW_PX);
      const g = panel.gridPos;
      if (mode === "move") {
        g.x = Math.min(COLS - g.w, Math.max(0, g0.x + dx)); g.y = Math.max(0, g0.y + dy);
      } else {
        g.w = Math.min(COLS - g.x, Math.max(2, g0.w + dx)); g.h = Math.min(60, Math.max(2, g0.h + dy));
      }
      place(node, g);
    }
    function up() {
      document.removeEventListener("mousemove", move); document.removeEventListener("mouseup", up);
      node.classList.remove("dragging");
      if (JSON.stringify(g0) !== JSON.stringify(panel.gridPos)) { resolveCollisions(panel); markDirty(); layoutGrid(); }
    }
    document.addEventListener("mousemove", move); document.addEventListener("mouseup", up);
  }

  function exploreLink(panel) {
    const expr = panel.targets[0] ? panel.targets[0].expr : "";
    return config.base + "/explore/" + query({ query: expr, from: state.from, to: state.to });
  }

  /* "Logs / traces for this": the panel's service (an equality matcher on service / service_name / job in
     its first query, else a single-valued service variable) and the dashboard's window, made absolute at
     the click so the link keeps meaning the same thing when copied. */
  const SERVICE_MATCHER = /\b(?:service_name|service|job)\s*=\s*"([^"$]+)"/;
  function panelService(panel) {
    for (const t of panel.targets) { const m = SERVICE_MATCHER.exec(t.expr || ""); if (m) return m[1]; }
    for (const name of ["service", "service_name"]) {
      const v = state.vars[name];
      if (typeof v === "string" && v && v !== "$__all") return v;
      if (Array.isArray(v) && v.length === 1 && v[0] !== "$__all") return v[0];
    }
    return "";
  }
  const REL = /^now(?:-(\d+)([smhdw]))?$/, UNIT_S = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  // One "now" for both ends, so a relative window keeps its exact width in the link.
  function absolute(t, now) {
    const m = REL.exec(String(t));
    if (m) return new Date(now - (m[1] ? Number(m[1]) * UNIT_S[m[2]] * 1000 : 0)).toISOString();
    return /^\d+(\.\d+)?$/.test(String(t)) ? new Date(Number(t) * 1000).toISOString() : new Date(t).toISOString();
  }
  function signalLink(panel, kind) {
    const service = panelService(panel), now = Date.now();
    const window_ = { start: absolute(state.from, now), end: absolute(state.to, now) };
    if (kind === "logs") return config.base + "/logs/" + query({ q: service ? "service=" + searchValue(service) : "", ...window_ });
    return config.base + "/traces/" + query({ service, ...window_ });
  }
  function signalAnchor(panel, kind, label, title) {
    const a = el("a", { class: "icon " + kind + "-link", href: "#", title }, label);
    const refresh = () => { a.href = signalLink(panel, kind); };
    a.addEventListener("mouseenter", refresh); a.addEventListener("focus", refresh); a.addEventListener("mousedown", refresh);
    return a;
  }

  function buildPanel(panel) {
    const body = el("div", { class: "panel-body", id: "panel-body-" + panel.id });
    const legendBtn = el("button", { type: "button", class: "icon legend-toggle", title: "Toggle legend", "aria-pressed": String(!!panel.legend.show) }, "☰");
    legendBtn.addEventListener("click", () => {
      panel.legend.show = !panel.legend.show; legendBtn.setAttribute("aria-pressed", String(panel.legend.show));
      if (state.editing) markDirty();
      drawPanel(panel);
    });
    const fsBtn = el("button", { type: "button", class: "icon fullscreen-toggle", title: "Full screen" }, "⤢");
    const node = el("div", { class: "panel panel-" + panel.type, "data-panel-id": panel.id, "data-panel-type": panel.type });
    fsBtn.addEventListener("click", () => toggleFullscreen(node));
    const editBtn = el("button", { type: "button", class: "icon panel-edit", title: "Edit panel", hidden: !state.editing }, "✎");
    editBtn.addEventListener("click", () => openEditor(panel));
    const tools = el("span", { class: "panel-tools" },
      panel.targets.length ? el("a", { class: "icon explore-link", href: exploreLink(panel), title: "Open in Explore" }, "↗") : null,
      panel.targets.length ? signalAnchor(panel, "logs", "≣", "Logs for this (service and time range)") : null,
      panel.targets.length ? signalAnchor(panel, "traces", "⋔", "Traces for this (service and time range)") : null,
      ["timeseries", "bar", "heatmap"].includes(panel.type) ? legendBtn : null, fsBtn, editBtn);
    const head = el("div", { class: "panel-head" }, el("span", { class: "panel-title", title: panel.description || "" },
      (panel.options && panel.options.row ? panel.options.row + " · " : "") + (panel.title || "")), tools);
    head.addEventListener("mousedown", (e) => { if (!e.target.closest("button,a")) startDrag(e, panel, node, "move"); });
    const handle = el("div", { class: "resize-handle", title: "Resize" });
    handle.addEventListener("mousedown", (e) => startDrag(e, panel, node, "resize"));
    node.append(head, body, handle);
    return node;
  }

  function toggleFullscreen(node) {
    const on = !node.classList.contains("fullscreen");
    grid.querySelectorAll(".panel.fullscreen").forEach((n) => n.classList.remove("fullscreen"));
    node.classList.toggle("fullscreen", on);
    document.body.classList.toggle("has-fullscreen", on);
    window.Panels.resize(node.querySelector(".panel-body"));
    if (!on) layoutGrid();
  }
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { const fs = grid.querySelector(".panel.fullscreen"); if (fs) toggleFullscreen(fs); }
  });

  function buildGrid() {
    grid.replaceChildren(...doc.panels.map(buildPanel));
    layoutGrid();
  }
  window.addEventListener("resize", () => layoutGrid());

  function drawPanel(panel) {
    const body = byId("panel-body-" + panel.id);
    if (!body) return;
    const data = state.lastData[String(panel.id)];
    window.Panels.render(body, panel, data ? data.targets : []);
  }

  // --- loading -------------------------------------------------------------------------------
  async function load() {
    const seq = ++state.seq;
    setStatus("Loading…");
    grid.dataset.loaded = "0";
    try {
      const data = await api.get(dataPath(), Object.assign({ from: state.from, to: state.to, scope: scopeParam() }, varParams()));
      if (seq !== state.seq) return;
      state.options = data.options || {};
      state.lastData = data.panels || {};
      renderVariables();
      doc.panels.forEach(drawPanel);
      const at = new Date().toLocaleTimeString();
      setStatus((data.scope === "platform" ? "Whole platform · " : "") + "Updated " + at + " · step " + data.step + "s");
      grid.dataset.loaded = String(seq);
      // When the page first had every panel drawn (read by bench/dashboard_load.py).
      if (!state.readyAt) state.readyAt = performance.now();
    } catch (e) {
      if (seq !== state.seq) return;
      setStatus(e.message, true);
      grid.dataset.loaded = "error";
    }
  }

  // --- editing -------------------------------------------------------------------------------
  function markDirty() {
    state.dirty = true;
    const save = byId("save-dashboard");
    if (save) save.classList.add("attention");
  }

  const editToggle = byId("edit-toggle");
  if (editToggle) {
    editToggle.addEventListener("click", () => setEditing(!state.editing));
    byId("add-panel").addEventListener("click", () => {
      const id = Math.max(0, ...doc.panels.map((p) => p.id)) + 1;
      const y = Math.max(0, ...doc.panels.map((p) => p.gridPos.y + p.gridPos.h));
      const panel = { id, type: "timeseries", title: "New panel", description: "", targets: [{ expr: "", legend: "", refId: "A" }], unit: "none",
                      decimals: null, min: null, max: null, thresholds: [], legend: { show: true }, gridPos: { x: 0, y, w: 12, h: 8 }, options: {} };
      openEditor(panel, true);
    });
    byId("save-dashboard").addEventListener("click", save);
    byId("edit-settings").addEventListener("click", openSettings);
  }

  function setEditing(on) {
    state.editing = on;
    document.body.classList.toggle("editing", on);
    editToggle.textContent = on ? "Done" : "Edit layout";
    ["add-panel", "save-dashboard", "edit-settings"].forEach((id) => { byId(id).hidden = !on; });
    grid.querySelectorAll(".panel-edit").forEach((b) => { b.hidden = !on; });
  }

  async function save() {
    const body = Object.assign({}, doc, { version: state.version, message: "saved from the dashboard page" });
    try {
      const saved = await api.put("/dashboards/" + config.uid + "/", body);
      state.version = saved.version; state.dirty = false;
      byId("save-dashboard").classList.remove("attention");
      setStatus("Saved version " + saved.version + ".");
    } catch (e) {
      setStatus("Not saved: " + e.message, true);
    }
  }

  window.addEventListener("beforeunload", (e) => { if (state.dirty) { e.preventDefault(); e.returnValue = ""; } });

  // Panel editor with live preview.
  const dlg = byId("panel-editor");
  let editing = null, isNew = false, previewTimer = null;
  const f = byId;

  function targetRow(t) {
    const row = el("div", { class: "target-row" },
      el("textarea", { class: "pe-expr mono", rows: "2", placeholder: "PromQL, e.g. sum(rate(http_requests_total[$__rate_interval]))", "aria-label": "PromQL query" }),
      el("input", { class: "pe-legend", placeholder: "Legend, e.g. {{route}}", "aria-label": "Legend" }),
      el("button", { type: "button", class: "secondary pe-remove", title: "Remove query" }, "✕"));
    row.querySelector(".pe-expr").value = t.expr || ""; row.querySelector(".pe-legend").value = t.legend || "";
    row.querySelector(".pe-remove").addEventListener("click", () => { row.remove(); schedulePreview(); });
    return row;
  }

  function thresholdsText(ths) { return (ths || []).map((t) => (t.value === null ? "base" : t.value) + " " + t.color).join("\n"); }
  function parseThresholds(text) {
    const out = [];
    for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const [v, c] = line.split(/\s+/);
      if (v !== "base" && Number.isNaN(Number(v))) throw new Error("Threshold '" + line + "': the value must be a number or base.");
      out.push({ value: v === "base" ? null : Number(v), color: c || "red" });
    }
    return out;
  }

  function formPanel() {
    const numOrNull = (v) => (v === "" ? null : Number(v));
    return Object.assign({}, editing, {
      title: f("pe-title").value, type: f("pe-type").value, unit: f("pe-unit").value,
      decimals: f("pe-decimals").value === "" ? null : Number(f("pe-decimals").value),
      min: numOrNull(f("pe-min").value), max: numOrNull(f("pe-max").value),
      legend: { show: f("pe-legend").checked },
      thresholds: parseThresholds(f("pe-thresholds").value),
      targets: [...document.querySelectorAll("#pe-targets .target-row")].map((r, i) => ({
        expr: r.querySelector(".pe-expr").value.trim(), legend: r.querySelector(".pe-legend").value, refId: String.fromCharCode(65 + i),
      })).filter((t) => t.expr),
      options: Object.assign({}, editing.options, f("pe-type").value === "text" ? { content: f("pe-content").value } : {}),
    });
  }

  function openEditor(panel, fresh) {
    editing = JSON.parse(JSON.stringify(panel)); isNew = !!fresh;
    f("pe-title").value = editing.title; f("pe-type").value = editing.type === "placeholder" ? "text" : editing.type;
    f("pe-unit").value = editing.unit; f("pe-decimals").value = editing.decimals ?? "";
    f("pe-min").value = editing.min ?? ""; f("pe-max").value = editing.max ?? "";
    f("pe-legend").checked = !!editing.legend.show; f("pe-thresholds").value = thresholdsText(editing.thresholds);
    f("pe-content").value = (editing.options || {}).content || "";
    f("pe-targets").replaceChildren(...(editing.targets.length ? editing.targets : [{ expr: "", legend: "" }]).map(targetRow));
    f("pe-error").textContent = ""; f("pe-delete").hidden = isNew;
    f("pe-preview").replaceChildren();
    dlg.showModal();
    preview();
  }

  function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 400); }

  async function preview() {
    let panel;
    try { panel = formPanel(); } catch (e) { f("pe-error").textContent = e.message; return; }
    f("pe-error").textContent = "";
    const box = f("pe-preview");
    try {
      const data = await api.post("/dashboards/preview/", { panel: Object.assign({}, panel, { id: 1, gridPos: { x: 0, y: 0, w: 12, h: 8 } }),
        variables: doc.variables, vars: state.vars, from: state.from, to: state.to });
      window.Panels.render(box, panel, (data.panels["1"] || {}).targets || []);
    } catch (e) {
      f("pe-error").textContent = e.message;
    }
  }

  if (dlg) {
    dlg.addEventListener("input", schedulePreview);
    dlg.addEventListener("change", schedulePreview);
    f("pe-add-target").addEventListener("click", () => { f("pe-targets").append(targetRow({ expr: "", legend: "" })); });
    f("pe-cancel").addEventListener("click", () => dlg.close());
    f("pe-apply").addEventListener("click", () => {
      let panel;
      try { panel = formPanel(); } catch (e) { f("pe-error").textContent = e.message; return; }
      const i = doc.panels.findIndex((p) => p.id === panel.id);
      if (i >= 0) doc.panels[i] = panel; else doc.panels.push(panel);
      dlg.close(); markDirty(); buildGrid(); setEditing(true); load();
    });
    f("pe-delete").addEventListener("click", () => {
      doc.panels = doc.panels.filter((p) => p.id !== editing.id);
      dlg.close(); markDirty(); buildGrid(); setEditing(true);
    });
  }

  // Dashboard settings (title, description, tags, default time, refresh, variables).
  const sdlg = byId("settings-editor");
  function openSettings() {
    f("se-title").value = doc.title; f("se-description").value = doc.description; f("se-tags").value = doc.tags.join(", ");
    f("se-from").value = doc.time.from; f("se-refresh").value = doc.refresh;
    f("se-variables").value = JSON.stringify(doc.variables, null, 2); f("se-error").textContent = "";
    sdlg.showModal();
  }
  if (sdlg) {
    f("se-cancel").addEventListener("click", () => sdlg.close());
    f("se-apply").addEventListener("click", () => {
      let vars;
      try { vars = JSON.parse(f("se-variables").value || "[]"); } catch (e) { f("se-error").textContent = "Variables: " + e.message; return; }
      doc.title = f("se-title").value.trim(); doc.description = f("se-description").value;
      doc.tags = f("se-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
      doc.time = { from: f("se-from").value.trim() || "now-1h", to: "now" }; doc.refresh = f("se-refresh").value.trim();
      doc.variables = vars;
      byId("dash-title").textContent = doc.title;
      byId("dash-description").textContent = doc.description;
      sdlg.close(); markDirty(); load();
    });
  }

  const cloneBtn = byId("clone-builtin");
  if (cloneBtn) cloneBtn.addEventListener("click", async () => {
    try {
      const made = await api.post("/builtin-dashboards/" + config.slug + "/clone/", {});
      window.location = config.base + "/dashboards/" + made.uid + "/";
    } catch (e) { setStatus(e.message, true); }
  });

  // --- start ---------------------------------------------------------------------------------
  syncTimeControls();
  renderVariables();
  buildGrid();
  schedule();
  load();
  if (editToggle && params.get("edit") === "1") setEditing(true);
  window.dashboardState = state;
})();
