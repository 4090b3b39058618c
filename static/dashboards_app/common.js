/* Shared helpers of the dashboards pages: config, API calls (session + X-Portal-Org + CSRF), units. */
"use strict";
window.Dash = (function () {
  const config = JSON.parse(document.getElementById("dash-config").textContent);

  class ApiError extends Error {
    constructor(status, body) {
      const err = (body && body.error) || {};
      super(err.message || ("HTTP " + status));
      this.status = status; this.code = err.code; this.details = err.details || {};
    }
  }

  async function api(method, path, body) {
    const opts = { method, headers: { "X-Portal-Org": config.org, "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") { opts.headers["X-CSRFToken"] = config.csrf; }
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const resp = await fetch(config.api + path, opts);
    const text = await resp.text();
    const data = text ? JSON.parse(text) : null;
    if (!resp.ok) { throw new ApiError(resp.status, data); }
    return data;
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) { v.forEach((x) => u.append(k, x)); } else { u.append(k, v); }
    }
    const s = u.toString();
    return s ? "?" + s : "";
  }

  const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  const BIN = [[1024 ** 5, "PiB"], [1024 ** 4, "TiB"], [1024 ** 3, "GiB"], [1024 ** 2, "MiB"], [1024, "KiB"]];

  function num(v, decimals) {
    const d = decimals === null || decimals === undefined ? (Number.isInteger(v) || Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2) : decimals;
    return Number(v).toFixed(d);
  }

  function short(v, decimals) {
    for (const [size, sfx] of SI) { if (Math.abs(v) >= size) return num(v / size, decimals) + sfx; }
    return num(v, decimals);
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

  /* Format a value in a panel's unit (bytes, seconds, percent, req/s, …). */
  function fmt(value, unit, decimals) {
    if (value === null || value === undefined || value === "" || Number.isNaN(Number(value))) return "–";
    const v = Number(value);
    if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
    switch (unit) {
      case "bytes": for (const [size, sfx] of BIN) { if (Math.abs(v) >= size) return num(v / size, decimals) + " " + sfx; } return num(v, decimals) + " B";
      case "bps": return fmt(v, "bytes", decimals) + "/s";
      case "seconds": return duration(v, decimals);
      case "ms": return duration(v / 1000, decimals);
      case "percent": return num(v, decimals ?? 1) + "%";
      case "percentunit": return num(v * 100, decimals ?? 1) + "%";
      case "reqps": return short(v, decimals) + " req/s";
      case "ops": return short(v, decimals) + " ops/s";
      case "none": return num(v, decimals);
      default: return short(v, decimals);
    }
  }

  /* "{{route}} p95" with the series' labels; default: the label set. */
  function legendName(tpl, metric, fallback) {
    if (tpl) return tpl.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, k) => (metric[k] ?? ""));
    const parts = Object.entries(metric).filter(([k]) => k !== "__name__").map(([k, v]) => k + '="' + v + '"');
    return (metric.__name__ || "") + (parts.length ? "{" + parts.join(", ") + "}" : "") || fallback || "value";
  }

  const COLORS = { green: "#2e9e4f", red: "#d63b3b", orange: "#e8891b", yellow: "#e0c42c", blue: "#3274d9", purple: "#8f3bb8", text: "#333", transparent: "transparent" };
  function color(c) { return COLORS[c] || c || "#3274d9"; }

  /* The step that applies to a value: the last one whose value is <= it. */
  function thresholdColor(thresholds, v) {
    let c = null;
    for (const t of thresholds || []) { if (t.value === null || v >= t.value) c = t.color; }
    return c ? color(c) : null;
  }

  function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) { if (c !== null && c !== undefined) e.append(c); }
    return e;
  }

  return { config, api, qs, fmt, legendName, color, thresholdColor, esc, el, ApiError };
})();
