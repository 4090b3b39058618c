/* Shared helpers of the logs/traces/performance/exports pages: org-scoped API calls, time ranges, formatting. */
(function () {
  "use strict";
  const root = document.getElementById("telemetry");
  const ORG = root.dataset.org;
  const BASE = root.dataset.base;
  const csrf = (root.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({"X-Portal-Org": ORG, "Accept": "application/json"}, opts.headers || {});
    if (opts.body && typeof opts.body !== "string") { opts.body = JSON.stringify(opts.body); headers["Content-Type"] = "application/json"; }
    if (opts.method && opts.method !== "GET") headers["X-CSRFToken"] = csrf;
    const resp = await fetch("/api/v1/" + path, Object.assign({}, opts, {headers: headers, credentials: "same-origin"}));
    let data = null;
    if (resp.status !== 204) { try { data = await resp.json(); } catch (e) { data = null; } }
    if (!resp.ok) {
      const err = new Error((data && data.error && data.error.message) || ("HTTP " + resp.status));
      err.status = resp.status; err.details = data && data.error && data.error.details; err.code = data && data.error && data.error.code;
      throw err;
    }
    return data;
  }

  function qs(params) {
    const u = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k] !== undefined && params[k] !== null && params[k] !== "") u.set(k, params[k]); });
    return u.toString();
  }

  const UNITS = {s: 1, m: 60, h: 3600, d: 86400, w: 604800};
  function toLocalInput(d) { return d.toISOString().slice(0, 19); }
  /* The chosen time range as {start, end} ISO strings (UTC); the custom inputs are UTC too. */
  function range() {
    const sel = document.getElementById("range");
    if (!sel) return {};
    if (sel.value === "custom") {
      const f = document.getElementById("from").value, t = document.getElementById("to").value;
      return {start: f ? f + "Z" : "", end: t ? t + "Z" : ""};
    }
    const m = /^(\d+)([smhdw])$/.exec(sel.value);
    const end = new Date();
    const start = new Date(end.getTime() - Number(m[1]) * UNITS[m[2]] * 1000);
    return {start: start.toISOString(), end: end.toISOString()};
  }
  function setCustomRange(start, end) {
    const sel = document.getElementById("range");
    sel.value = "custom";
    document.getElementById("custom-range").hidden = false;
    document.getElementById("from").value = toLocalInput(new Date(start));
    document.getElementById("to").value = toLocalInput(new Date(end));
  }
  function initRange(onChange) {
    const sel = document.getElementById("range");
    if (!sel) return;
    sel.addEventListener("change", function () {
      const custom = sel.value === "custom";
      document.getElementById("custom-range").hidden = !custom;
      if (custom && !document.getElementById("from").value) {
        const end = new Date(); setCustomRange(end.getTime() - 3600e3, end.getTime());
      }
      if (!custom && onChange) onChange();
    });
  }

  function esc(s) {
    return String(s === undefined || s === null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmtTime(iso) { return iso ? String(iso).replace("T", " ").replace(/(\.\d{3})\d*/, "$1").replace(/(Z|\+00:00)$/, "") : ""; }
  function fmtMs(ms) { return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : (ms >= 10 ? ms.toFixed(0) : ms.toFixed(1)) + " ms"; }
  function fmtBytes(n) { if (!n) return "0 B"; const u = ["B", "KB", "MB", "GB"]; let i = 0; while (n >= 1024 && i < 3) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + " " + u[i]; }
  const LEVEL_COLORS = {trace: "#9aa3ad", debug: "#7d8a99", info: "#3b82c4", warn: "#e0a100", error: "#d43c3c", fatal: "#8b1a1a"};
  function levelBadge(level) { return '<span class="lvl lvl-' + esc(level) + '">' + esc(level) + "</span>"; }

  function flash(msg, kind) {
    const el = document.getElementById("flash");
    el.textContent = msg; el.className = "flash " + (kind || "info"); el.hidden = false;
    clearTimeout(flash._t); flash._t = setTimeout(function () { el.hidden = true; }, 6000);
  }
  function showQueryError(err) {
    const box = document.getElementById("query-error");
    if (!box) { flash(err.message, "error"); return; }
    if (!err) { box.hidden = true; return; }
    let html = esc(err.message);
    if (err.details && err.details.caret) html += "<pre>" + esc(err.details.query || "") + "\n" + esc(err.details.caret) + "</pre>";
    box.innerHTML = html; box.hidden = false;
  }
  function kv(obj) {
    const keys = Object.keys(obj || {}).sort();
    if (!keys.length) return '<span class="muted">none</span>';
    return "<table class=\"kv\">" + keys.map(function (k) {
      const v = obj[k];
      return "<tr><th>" + esc(k) + "</th><td>" + esc(typeof v === "object" ? JSON.stringify(v) : v) + "</td></tr>";
    }).join("") + "</table>";
  }

  window.Telemetry = {ORG: ORG, BASE: BASE, api: api, qs: qs, range: range, initRange: initRange, setCustomRange: setCustomRange,
    esc: esc, fmtTime: fmtTime, fmtMs: fmtMs, fmtBytes: fmtBytes, LEVEL_COLORS: LEVEL_COLORS, levelBadge: levelBadge,
    flash: flash, showQueryError: showQueryError, kv: kv};
})();
