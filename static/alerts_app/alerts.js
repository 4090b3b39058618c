/* Alerting pages: alert list (sync states), rule editor (templates, preview), channel/policy forms,
   silences. All writes go through the REST API; which page this is comes from the page config. */
"use strict";
(function () {
  const { api, config, el, $, $$ } = window.Portal;
  const state = { template: "" };

  /* An ApiError's message in the page's error box; the field it names (details.field) is marked. */
  function showError(box, e) {
    box.textContent = e ? e.message : "";
    $$(".field-error").forEach((node) => node.classList.remove("field-error"));
    const field = e && e.details && e.details.field;
    if (field) {
      const name = field.split(".").pop();
      const input = $(`[name="${name}"]`);
      if (input) { input.classList.add("field-error"); input.focus(); }
    }
  }

  function parsePairs(text, sep) {
    const out = {};
    (text || "").split("\n").map((l) => l.trim()).filter(Boolean).forEach((l) => {
      const i = l.indexOf(sep);
      if (i > 0) out[l.slice(0, i).trim()] = l.slice(i + sep.length).trim();
    });
    return out;
  }

  // --- alert list: refresh sync states until nothing is pending ---------------------------------
  function initList() {
    $$("[data-delete-rule]").forEach((b) => b.addEventListener("click", async () => {
      if (!confirm("Delete this rule?")) return;
      await api.delete("/alerts/rules/" + b.dataset.deleteRule + "/");
      location.reload();
    }));
    async function poll() {
      const pending = $$("[data-rule]").filter((tr) => $("[data-sync-state]", tr).textContent !== "synced");
      if (!pending.length) return;
      const data = await api.get("/alerts/rules/", { page_size: 500 });
      for (const r of data.results || data) {
        const tr = $(`[data-rule="${r.id}"]`);
        if (!tr) continue;
        const cell = $("[data-sync-state]", tr);
        cell.textContent = r.sync_state; cell.className = "sync sync-" + r.sync_state;
        cell.title = r.sync_error || "";
      }
      setTimeout(poll, 1000);
    }
    setTimeout(poll, 500);
  }

  // --- rule editor ------------------------------------------------------------------------------
  function ruleFromForm(form) {
    const f = (n) => form.elements[n];
    const kind = f("kind").value;
    const body = { name: f("name").value, severity: f("severity").value, kind, for_duration: f("for_duration").value,
      enabled: f("enabled").checked, labels: parsePairs(f("labels").value, "="),
      annotations: {}, channels: $$("input[name=channels]:checked", form).map((c) => Number(c.value)) };
    for (const a of ["summary", "description", "runbook_url"]) { if (f(a).value) body.annotations[a] = f(a).value; }
    if (kind === "threshold") {
      body.query = f("query").value; body.comparator = f("comparator").value;
      body.threshold = f("threshold").value === "" ? null : Number(f("threshold").value);
    } else if (kind === "promql") { body.expr = f("expr").value; } else {
      body.log_query = f("log_query").value; body.log_count = Number(f("log_count").value);
      body.log_window_minutes = Number(f("log_window_minutes").value);
    }
    if (state.template) body.template = state.template;
    return body;
  }

  function fillForm(form, r) {
    const set = (n, v) => { if (v !== undefined && v !== null && form.elements[n]) form.elements[n].value = v; };
    ["name", "severity", "kind", "for_duration", "query", "comparator", "threshold", "expr", "log_query",
      "log_count", "log_window_minutes"].forEach((n) => set(n, r[n]));
    const ann = r.annotations || {};
    set("summary", ann.summary || ""); set("description", ann.description || ""); set("runbook_url", ann.runbook_url || "");
    set("labels", Object.entries(r.labels || {}).map(([k, v]) => k + "=" + v).join("\n"));
    if (r.enabled !== undefined) form.elements.enabled.checked = r.enabled;
    $$("input[name=channels]", form).forEach((c) => { c.checked = (r.channels || []).includes(Number(c.value)); });
    showKind(form);
  }

  function showKind(form) {
    const kind = form.elements.kind.value;
    $$(".kind", form).forEach((node) => { node.hidden = !node.classList.contains("kind-" + kind); });
  }

  async function applyTemplate(form) {
    const key = $("#tpl").value;
    const box = $("#tpl-params");
    box.replaceChildren();
    state.template = key || "";
    if (!key) return;
    const tpl = config.templates.find((t) => t.key === key);
    box.append(...tpl.params.map((p) => el("div", {},
      el("label", { for: "tp-" + p.name }, p.label),
      el("input", { id: "tp-" + p.name, "data-param": p.name, value: p.default, oninput: () => buildTemplate(form, tpl) }))));
    buildTemplate(form, tpl);
  }

  function buildTemplate(form, tpl) {
    // The server builds the rule from the template (one implementation); the form shows the result.
    const params = {};
    $$("[data-param]").forEach((i) => { params[i.dataset.param] = i.value; });
    clearTimeout(buildTemplate.t);
    buildTemplate.t = setTimeout(async () => {
      const built = await api.post("/alerts/rules/from-template/", { template: tpl.key, params }, { dry_run: 1 });
      fillForm(form, built);
    }, 150);
  }

  function initEditor() {
    const form = $("#rule-form");
    const err = $("#form-error");
    form.elements.kind.addEventListener("change", () => showKind(form));
    showKind(form);
    $("#tpl").addEventListener("change", () => applyTemplate(form));
    const ruleId = config.rule_id;
    if (ruleId) { api.get("/alerts/rules/" + ruleId + "/").then((r) => { state.template = r.template; fillForm(form, r); }); }
    $("#btn-preview").addEventListener("click", () => preview(form, err));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError(err, null);
      try {
        if (ruleId) await api.put("/alerts/rules/" + ruleId + "/", ruleFromForm(form));
        else await api.post("/alerts/rules/", ruleFromForm(form));
        location.href = config.base + "/alerts/";
      } catch (e) { showError(err, e); }
    });
  }

  async function preview(form, err) {
    showError(err, null);
    const box = $("#preview");
    box.replaceChildren(el("div", { class: "muted" }, "Loading…"));
    let data;
    try { data = await api.post("/alerts/rules/preview/", ruleFromForm(form)); } catch (e) {
      box.replaceChildren(); showError(err, e); return;
    }
    box.replaceChildren();
    const traces = data.series.map((s) => ({ type: "scatter", mode: s.points.length < 60 ? "lines+markers" : "lines", name: JSON.stringify(s.labels),
      x: s.points.map((p) => new Date(p[0] * 1000)), y: s.points.map((p) => p[1]) }));
    const start = new Date(data.start * 1000), end = new Date(data.end * 1000);
    if (data.threshold !== null) {
      traces.push({ type: "scatter", mode: "lines", name: "threshold", line: { dash: "dash", color: "#d33" },
        x: [start, end], y: [data.threshold, data.threshold] });
    }
    const shapes = data.firing_spans.map((s) => ({ type: "rect", xref: "x", yref: "paper", y0: 0, y1: 1,
      x0: new Date(s[0] * 1000 - data.step * 500), x1: new Date(s[1] * 1000 + data.step * 500),
      fillcolor: "rgba(220,50,50,0.15)", line: { width: 0 } }));
    window.Plotly.newPlot(box, traces, { height: 320, margin: { t: 30, r: 10, b: 40, l: 50 }, shapes,
      title: { text: `${data.series.length} series · ${data.firing_spans.length} span(s) where it would fire (ignoring 'for')`, font: { size: 13 } },
      xaxis: { range: [start, end] }, showlegend: data.series.length <= 5 }, { displaylogo: false, responsive: true });
    box.dataset.spans = String(data.firing_spans.length);
  }

  // --- channels and routing ---------------------------------------------------------------------
  function initChannels() {
    $$("[data-test-channel]").forEach((b) => b.addEventListener("click", async () => {
      const out = $(`[data-test-result="${b.dataset.testChannel}"]`);
      out.textContent = "sending…";
      try {
        const r = await api.post("/alerts/channels/" + b.dataset.testChannel + "/test/");
        out.textContent = r.ok ? `delivered${r.status ? " (HTTP " + r.status + ")" : ""}` : `failed: ${r.detail}`;
        out.className = "test-result " + (r.ok ? "ok" : "bad");
      } catch (e) { out.textContent = e.message; out.className = "test-result bad"; }
    }));
    $$("[data-delete-channel]").forEach((b) => b.addEventListener("click", async () => {
      if (!confirm("Delete this channel?")) return;
      await api.delete("/alerts/channels/" + b.dataset.deleteChannel + "/"); location.reload();
    }));
    const form = $("#channel-form");
    if (!form) return;
    const showCk = () => $$(".ck", form).forEach((node) => { node.hidden = !node.classList.contains("ck-" + form.elements.kind.value); });
    form.elements.kind.addEventListener("change", showCk); showCk();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = form.elements, kind = f.kind.value;
      const body = { name: f.name.value, kind, config: {}, secrets: {},
        severities: $$("input[name=sev]:checked", form).map((c) => c.value) };
      if (kind === "email") body.config.addresses = f.addresses.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (kind === "slack" || kind === "teams") body.secrets.webhook_url = f.webhook_url.value;
      if (kind === "slack" && f.channel.value) body.config.channel = f.channel.value;
      if (kind === "pagerduty") body.secrets.routing_key = f.routing_key.value;
      if (kind === "webhook") { body.secrets.url = f.url.value; body.secrets.hmac_secret = f.hmac_secret.value;
        body.secrets.headers = parsePairs(f.headers.value, ":"); }
      try { await api.post("/alerts/channels/", body); location.reload(); } catch (e) { showError($("#form-error"), e); }
    });
    const pf = $("#policy-form");
    api.get("/alerts/policy/").then((p) => {
      pf.elements.group_by.value = (p.group_by || []).join(", "); pf.elements.group_wait.value = p.group_wait;
      pf.elements.group_interval.value = p.group_interval; pf.elements.repeat_interval.value = p.repeat_interval;
      pf.elements.mute_time_intervals.value = (p.mute_time_intervals || []).length ? JSON.stringify(p.mute_time_intervals) : "";
    });
    pf.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = pf.elements;
      let mute = [];
      try { mute = f.mute_time_intervals.value.trim() ? JSON.parse(f.mute_time_intervals.value) : []; } catch (e) {
        showError($("#policy-error"), { message: "mute_time_intervals: not valid JSON", details: { field: "mute_time_intervals" } }); return;
      }
      try {
        await api.put("/alerts/policy/", { group_by: f.group_by.value.split(",").map((s) => s.trim()).filter(Boolean),
          group_wait: f.group_wait.value, group_interval: f.group_interval.value, repeat_interval: f.repeat_interval.value,
          mute_time_intervals: mute });
        showError($("#policy-error"), null); $("#policy-saved").textContent = "saved";
      } catch (e) { showError($("#policy-error"), e); }
    });
  }

  // --- silences ---------------------------------------------------------------------------------
  function initSilences() {
    $$("[data-expire]").forEach((b) => b.addEventListener("click", async () => {
      await api.delete("/alerts/silences/" + b.dataset.expire + "/"); location.reload();
    }));
    const form = $("#silence-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const matchers = form.elements.matchers.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
        const m = l.match(/^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?$/);
        if (!m) return { name: "", value: l };
        return { name: m[1], value: m[3], isRegex: m[2].includes("~"), isEqual: !m[2].startsWith("!") };
      });
      try {
        await api.post("/alerts/silences/", { matchers, duration_minutes: Number(form.elements.duration_minutes.value),
          comment: form.elements.comment.value });
        location.reload();
      } catch (e) { showError($("#form-error"), e); }
    });
  }

  const init = { "alerts": initList, "alert-rule": initEditor, "alert-channels": initChannels, "alert-silences": initSilences };
  init[config.page]();
})();
