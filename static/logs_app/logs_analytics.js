/* Logs explorer analytics: facets of the current search (click a value to filter to it, ⊖ to exclude it),
   counts over time grouped by a field (a stacked chart: top values + "other"), and the org's saved searches.
   Follows logs.js: it runs after each search that logs.js reports with the "logs:searched" event, and changes
   the search by editing the query box and submitting the form, as a user would. */
"use strict";
(function () {
  const { api, config, el, byId, ui } = window.Portal;
  const PALETTE = ["#3b82c4", "#e0a100", "#2e9e6b", "#d43c3c", "#8a5cc2", "#1fa3b3", "#c2569b", "#7d8a99",
    "#b5762c", "#4d6fd1"];
  const OTHER_COLOR = "#c9ced6";
  const state = { q: "", start: "", end: "", gen: 0, saved: [] };

  // --- changing the search ---------------------------------------------------------------------
  /* The current query AND a term: the query is parenthesised when it has a top-level OR (AND binds tighter). */
  function withTerm(q, term) {
    if (!q) return term;
    return (/\bOR\b/.test(q) ? "(" + q + ")" : q) + " " + term;
  }
  function search(q) {
    byId("q").value = q;
    byId("search-form").requestSubmit();
  }

  // --- facets ------------------------------------------------------------------------------------
  function facetRow(v) {
    const label = v.value === null ? "(null)" : v.value === "" ? '""' : v.value;
    const f = v.filter;
    return el("div", { class: "facet-row" },
      el("button", { type: "button", class: "facet-in", title: f ? "Filter: " + f.include : "Cannot be filtered on",
        "data-term": f ? f.include : "", disabled: !f }, label),
      el("span", { class: "cnt" }, v.count.toLocaleString()),
      f ? el("button", { type: "button", class: "facet-out", title: "Exclude: " + f.exclude, "aria-label": "Exclude " + label,
        "data-term": f.exclude }, "⊖") : null);
  }
  function facetGroup(title, count, values, field) {
    return el("div", { class: "facet", "data-field": field || "" },
      el("h4", {}, title, count !== null ? el("span", { class: "n" }, " · " + count.toLocaleString()) : null),
      values.length ? values.map(facetRow) : el("span", { class: "muted" }, "none"));
  }
  function drawFacets(f) {
    const s = f.sample;
    byId("facets-note").textContent = s.complete
      ? "over all " + s.records.toLocaleString() + " matching records"
      : "over the newest " + s.records.toLocaleString() + " matching records (a sample)";
    byId("facets").replaceChildren(
      facetGroup("service", null, f.service, "service"),
      facetGroup("level", null, f.level, "level"),
      ...f.attributes.map((a) => facetGroup(a.key, a.count, a.values, a.field)));
    const fields = ["service", "level"].concat(f.attributes.map((a) => a.field).filter(Boolean));
    byId("group-fields").replaceChildren(...fields.map((x) => el("option", { value: x })));
  }
  byId("facets").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-term]");
    if (!b || !b.dataset.term) return;
    search(withTerm(byId("q").value.trim(), b.dataset.term));
  });

  // --- counts over time by a field ---------------------------------------------------------------
  function drawCounts(c) {
    const x = c.buckets;
    const traces = c.series.map((s, i) => ({
      type: "bar", name: s.value === null ? "other" : s.value === "" ? "(none)" : s.value, x, y: s.counts,
      marker: { color: s.value === null ? OTHER_COLOR : PALETTE[i % PALETTE.length] },
      customdata: x.map(() => (s.filter ? s.filter.include : "")),
      hovertemplate: "%{y} " + (s.value === null ? "other" : String(s.value).replace(/%/g, "%%")) + "<extra>%{x}</extra>",
    }));
    if (!traces.length) traces.push({ type: "bar", x, y: x.map(() => 0), name: "none", showlegend: false });
    const layout = { barmode: "stack", margin: { l: 40, r: 10, t: 6, b: 30 }, height: 180, bargap: 0.1,
      xaxis: { type: "date", range: [c.start, c.end], fixedrange: true }, yaxis: { fixedrange: true, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.3 }, showlegend: true };
    const box = byId("counts-chart");
    Plotly.react(box, traces, layout, { displayModeBar: false, responsive: true });
    if (!box.dataset.wired) {
      box.dataset.wired = "1";
      // A click on a segment keeps only that value (the "other" segment has no single term).
      box.on("plotly_click", (ev) => {
        const term = ev.points && ev.points.length && ev.points[0].customdata;
        if (term) search(withTerm(byId("q").value.trim(), term));
      });
    }
    byId("counts-note").textContent = c.series.length ? c.series.filter((s) => s.value !== null).length + " top values" +
      (c.series.some((s) => s.value === null) ? " + other" : "") : "no matching records";
  }

  async function loadCounts(gen) {
    const by = byId("group-by").value.trim() || "service";
    try {
      const c = await api.get("/logs/counts/", { q: state.q, start: state.start, end: state.end, by, buckets: 60, top: 8 });
      if (gen === state.gen) drawCounts(c);
    } catch (err) {
      if (gen === state.gen) { byId("counts-note").textContent = err.message; Plotly.purge(byId("counts-chart")); }
    }
  }
  byId("group-by").addEventListener("change", () => loadCounts(state.gen));

  // One request after the other, after the search's own (the embedded SQLite setup serves one at a time).
  document.addEventListener("logs:searched", async (ev) => {
    Object.assign(state, ev.detail);
    const gen = ++state.gen;
    try {
      const f = await api.get("/logs/facets/", { q: state.q, start: state.start, end: state.end, top: 8, keys: 12 });
      if (gen === state.gen) drawFacets(f);
    } catch (err) {
      if (gen === state.gen) { byId("facets").replaceChildren(); byId("facets-note").textContent = err.message; }
    }
    await loadCounts(gen);
    markSaved();
  });

  // --- saved searches ------------------------------------------------------------------------------
  const PRESETS = ["15m", "1h", "6h", "24h", "7d"];
  function currentWindow() {
    const sel = byId("range");
    if (sel.value !== "custom") return sel.value;
    const secs = Math.round((new Date(state.end) - new Date(state.start)) / 1000);
    return Math.max(1, secs) + "s";
  }
  async function loadSaved(selectId) {
    try {
      const page = await api.get("/logs/saved-searches/", { page_size: 200 });
      state.saved = page.results || [];
    } catch (err) { state.saved = []; }
    byId("saved-searches").replaceChildren(el("option", { value: "" }, "Open a saved search…"),
      ...state.saved.map((s) => el("option", { value: String(s.id) }, s.name + " (" + s.window + ")")));
    if (selectId) byId("saved-searches").value = String(selectId);
    markSaved();
  }
  /* The saved search matching the query on screen, if any, is the one shown as selected. */
  function markSaved() {
    const sel = byId("saved-searches");
    const chosen = state.saved.find((s) => String(s.id) === sel.value);
    if (chosen && chosen.query !== byId("q").value.trim()) sel.value = "";
    byId("delete-saved").hidden = !sel.value;
  }
  byId("saved-searches").addEventListener("change", () => {
    const s = state.saved.find((x) => String(x.id) === byId("saved-searches").value);
    byId("delete-saved").hidden = !s;
    if (!s) return;
    const m = /^(\d+)([smhdw])$/.exec(s.window);
    if (PRESETS.includes(s.window)) ui.timeRange.setPreset(s.window);
    else if (m) {
      const secs = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
      const end = Date.now();
      ui.timeRange.setCustom(end - secs * 1000, end);
    }
    search(s.query);
  });
  byId("save-search").addEventListener("click", async () => {
    const name = byId("saved-name").value.trim();
    if (!name) { ui.flash("Give the search a name first.", "error"); byId("saved-name").focus(); return; }
    try {
      const s = await api.post("/logs/saved-searches/", { name, query: byId("q").value.trim(), window: currentWindow() });
      byId("saved-name").value = "";
      ui.flash("Saved “" + s.name + "” for everyone in " + config.org + ".", "info");
      await loadSaved(s.id);
    } catch (err) { ui.flash("Not saved: " + err.message, "error"); }
  });
  byId("delete-saved").addEventListener("click", async () => {
    const s = state.saved.find((x) => String(x.id) === byId("saved-searches").value);
    if (!s || !window.confirm("Delete the saved search “" + s.name + "” for everyone?")) return;
    try { await api.delete("/logs/saved-searches/" + s.id + "/"); ui.flash("Deleted “" + s.name + "”.", "info"); await loadSaved(); }
    catch (err) { ui.flash("Not deleted: " + err.message, "error"); }
  });
  byId("save-ctl").hidden = !config.can_write;
  loadSaved();
})();
