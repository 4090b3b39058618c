/* The front-end kernel every page script is built on (no build step, one global: window.Portal):
   the page config rendered by base.html, the API client and its one error type, URL state, escaping,
   a DOM builder (text nodes only: data never becomes HTML), formatters and the few UI pieces that
   several pages share (flash message, query error with caret, key/value table, logs time range). */
"use strict";
window.Portal = (function () {
  const configNode = document.getElementById("page-config");
  /* {page, org, api, base, csrf, can_write, is_staff, ...what the page's view adds}. */
  const config = configNode ? JSON.parse(configNode.textContent) : {};

  // --- API client -----------------------------------------------------------------------------

  /* Every failed API call rejects with this: the project's {"error": {status, code, message, details}}. */
  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message || ("HTTP " + status));
      this.name = "ApiError";
      this.status = status;
      this.code = code || "";
      this.details = details || {};
    }

    static fromResponse(status, body) {
      const err = (body && typeof body === "object" && body.error) || {};
      return new ApiError(status, err.code, err.message, err.details);
    }
  }

  async function request(method, path, options) {
    const opts = options || {};
    const headers = { "X-Portal-Org": config.org, "Accept": "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = config.csrf;
    if (opts.body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(opts.body); }
    let resp;
    try {
      resp = await fetch((config.api || "/api/v1") + path + query(opts.params || {}), init);
    } catch (e) {
      throw new ApiError(0, "network_error", "The portal could not be reached: " + e.message);
    }
    const text = resp.status === 204 ? "" : await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }  // a proxy's HTML error page
    if (!resp.ok) throw ApiError.fromResponse(resp.status, data);
    return data;
  }

  /* Paths are relative to config.api ("/api/v1"), params become the query string. */
  const api = {
    get: (path, params) => request("GET", path, { params }),
    post: (path, body, params) => request("POST", path, { body, params }),
    put: (path, body) => request("PUT", path, { body }),
    patch: (path, body) => request("PATCH", path, { body }),
    delete: (path) => request("DELETE", path),
  };

  // --- query string and URL state -------------------------------------------------------------

  function isEmpty(v) { return v === undefined || v === null || v === ""; }

  /* "?a=1&b=x&b=y" from {a: 1, b: ["x", "y"], c: ""}; empty values are left out; "" when nothing is left. */
  function query(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (Array.isArray(v)) v.filter((x) => !isEmpty(x)).forEach((x) => u.append(k, x));
      else if (!isEmpty(v)) u.append(k, v);
    }
    const s = u.toString();
    return s ? "?" + s : "";
  }

  /* The page's own URL state (what survives a reload or a shared link). */
  const url = {
    params: () => new URL(window.location.href).searchParams,
    get: (name) => new URL(window.location.href).searchParams.get(name),
    /* Set (value or list), or delete (empty) keys; keys starting with a `drop` prefix go first. */
    update(changes, drop) {
      const u = new URL(window.location.href);
      for (const prefix of [].concat(drop || [])) {
        [...u.searchParams.keys()].filter((k) => k.startsWith(prefix)).forEach((k) => u.searchParams.delete(k));
      }
      for (const [k, v] of Object.entries(changes)) {
        u.searchParams.delete(k);
        [].concat(isEmpty(v) ? [] : v).filter((x) => !isEmpty(x)).forEach((x) => u.searchParams.append(k, x));
      }
      window.history.replaceState(null, "", u);
    },
  };

  // --- escaping -------------------------------------------------------------------------------

  /* HTML escaping, for the rare string that must go into markup (page scripts build DOM nodes instead). */
  function esc(s) {
    return String(isEmpty(s) ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  /* A value in the portal's search language (logs and traces): bare when it can be (unless `quoted`),
     else double-quoted with its backslashes and quotes escaped. */
  function searchValue(v, quoted) {
    const s = String(v);
    return !quoted && /^[\w./:{}-]+$/.test(s) ? s : '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  // --- DOM builder ----------------------------------------------------------------------------

  const PROPS = new Set(["value", "checked", "selected", "multiple", "size"]);

  /* el("a", {class: "x", href, onclick: fn, hidden: true}, "text", child, [more], null) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
      else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    append(node, children);
    return node;
  }

  /* Children: nodes, strings and numbers (as text nodes), nested lists; null/undefined/false are skipped. */
  function append(node, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(node, c);
      else node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const byId = (id) => document.getElementById(id);

  // --- formatters -----------------------------------------------------------------------------

  const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  const BIN = [[1024 ** 5, "PiB"], [1024 ** 4, "TiB"], [1024 ** 3, "GiB"], [1024 ** 2, "MiB"], [1024, "KiB"]];

  /* Decimals by magnitude unless given: 3 significant-ish digits, integers stay integers. */
  function num(v, decimals) {
    const d = isEmpty(decimals) ? (Number.isInteger(v) || Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2) : decimals;
    return Number(v).toFixed(d);
  }

  function short(v, decimals) {
    for (const [size, sfx] of SI) { if (Math.abs(v) >= size) return num(v / size, decimals) + sfx; }
    return num(v, decimals);
  }

  function bytes(n, decimals) {
    const v = Number(n) || 0;
    for (const [size, sfx] of BIN) { if (Math.abs(v) >= size) return num(v / size, decimals) + " " + sfx; }
    return num(v, decimals) + " B";
  }

  function duration(sec, decimals) {
    const a = Math.abs(sec);
    if (a === 0) return "0 s";
    if (a < 1e-3) return num(sec * 1e6, decimals) + " µs";
    if (a < 1) return num(sec * 1e3, decimals) + " ms";
    if (a < 120) return num(sec, decimals) + " s";
    if (a < 7200) return num(sec / 60, decimals) + " min";
    if (a < 172800) return num(sec / 3600, decimals) + " h";
    return num(sec / 86400, decimals) + " d";
  }

  /* A value in a panel unit (bytes, seconds, percent, req/s, …); "–" for no value. */
  function value(v, unit, decimals) {
    if (isEmpty(v) || Number.isNaN(Number(v))) return "–";
    const x = Number(v);
    if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
    switch (unit) {
      case "bytes": return bytes(x, decimals);
      case "bps": return bytes(x, decimals) + "/s";
      case "seconds": return duration(x, decimals);
      case "ms": return duration(x / 1000, decimals);
      case "percent": return num(x, decimals ?? 1) + "%";
      case "percentunit": return num(x * 100, decimals ?? 1) + "%";
      case "reqps": return short(x, decimals) + " req/s";
      case "ops": return short(x, decimals) + " ops/s";
      case "none": return num(x, decimals);
      default: return short(x, decimals);
    }
  }

  /* An API timestamp ("2024-05-01T10:00:00.123456+00:00") as "2024-05-01 10:00:00.123" (UTC). */
  function timestamp(iso) {
    return iso ? String(iso).replace("T", " ").replace(/(\.\d{3})\d*/, "$1").replace(/(Z|\+00:00)$/, "") : "";
  }

  const format = { num, short, bytes, duration, ms: (ms, decimals) => duration(ms / 1000, decimals), value, timestamp,
    percent: (ratio) => (ratio * 100).toFixed(1) + "%" };

  // --- shared UI pieces -----------------------------------------------------------------------

  /* The page's #flash line (logs pages); a string or nodes; hides itself after a while unless sticky. */
  function flash(content, kind, sticky) {
    const box = byId("flash");
    if (!box) return;
    box.replaceChildren(...[].concat(content));
    box.className = "flash " + (kind || "info");
    box.hidden = false;
    clearTimeout(flash.timer);
    if (!sticky) flash.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  /* An ApiError in a query-error box: its message, and the query with a caret under details.position. */
  function queryError(box, err, typed) {
    if (!err) { box.hidden = true; box.replaceChildren(); delete box.dataset.position; return; }
    box.replaceChildren(el("div", { class: "msg" }, err.message));
    const d = err.details || {};
    const q = isEmpty(d.query) ? (typed || "") : String(d.query);
    if (typeof d.position === "number" && d.position >= 0) {
      const p = Math.min(d.position, q.length);
      box.dataset.position = String(p);
      box.append(el("pre", { class: "error-position" }, q + "\n" + " ".repeat(p), el("span", { class: "caret" }, "^")));
    } else {
      delete box.dataset.position;
    }
    box.hidden = false;
  }

  /* A key/value table of an attribute map (sorted keys; objects as JSON). */
  function kvTable(obj) {
    const keys = Object.keys(obj || {}).sort();
    if (!keys.length) return el("span", { class: "muted" }, "none");
    return el("table", { class: "kv" }, keys.map((k) => {
      const v = obj[k];
      return el("tr", {}, el("th", {}, k), el("td", {}, typeof v === "object" && v !== null ? JSON.stringify(v) : v));
    }));
  }

  /* The logs pages' time range control (templates/logs_app/_timerange.html); custom inputs are UTC. */
  const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const timeRange = {
    /* The chosen range as {start, end} ISO strings. */
    get() {
      const sel = byId("range");
      if (!sel) return {};
      if (sel.value === "custom") {
        const f = byId("from").value, t = byId("to").value;
        return { start: f ? f + "Z" : "", end: t ? t + "Z" : "" };
      }
      const m = /^(\d+)([smhdw])$/.exec(sel.value);
      const end = new Date();
      return { start: new Date(end.getTime() - Number(m[1]) * UNITS[m[2]] * 1000).toISOString(), end: end.toISOString() };
    },
    setCustom(start, end) {
      byId("range").value = "custom";
      byId("custom-range").hidden = false;
      byId("from").value = new Date(start).toISOString().slice(0, 19);
      byId("to").value = new Date(end).toISOString().slice(0, 19);
    },
    setPreset(value) { byId("range").value = value; byId("custom-range").hidden = true; },
    /* The range kept in the page URL (?since=1h, or ?start=…&end=… for a custom one): restore it … */
    fromUrl() {
      const since = url.get("since"), start = url.get("start"), end = url.get("end");
      if (start && end) timeRange.setCustom(start, end);
      else if (since && [...byId("range").options].some((o) => o.value === since)) timeRange.setPreset(since);
    },
    /* … and write the chosen one back, returning it as API params (a preset stays relative). */
    toUrl() {
      const sel = byId("range");
      if (sel.value !== "custom") { url.update({ since: sel.value, start: "", end: "" }); return { since: sel.value }; }
      const r = timeRange.get();
      url.update({ since: "", start: r.start, end: r.end });
      return { start: r.start, end: r.end };
    },
    /* onChange runs when a preset is picked (a custom range waits for the form's submit). */
    init(onChange) {
      const sel = byId("range");
      if (!sel) return;
      sel.addEventListener("change", () => {
        const custom = sel.value === "custom";
        byId("custom-range").hidden = !custom;
        if (custom && !byId("from").value) { const end = Date.now(); timeRange.setCustom(end - 3600e3, end); }
        if (!custom && onChange) onChange();
      });
    },
  };

  const ui = { flash, queryError, kvTable, timeRange, levelBadge: (level) => el("span", { class: "lvl lvl-" + level }, level) };

  return { config, ApiError, api, query, url, esc, searchValue, el, append, $, $$, byId, format, ui };
})();
