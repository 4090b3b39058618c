/* Panel renderers (Plotly.js + plain DOM). render(el, panel, targets) draws one panel from the
   /data/ API's targets and returns the number of data points drawn (set as data-points on el). */
"use strict";
window.Panels = (function () {
  const { el, format } = window.Portal;
  const fmt = format.value;
  const PALETTE = ["#3274d9", "#2e9e4f", "#e8891b", "#d63b3b", "#8f3bb8", "#1fa2a2", "#c2185b", "#7b8c1f", "#5c6bc0", "#8d6e63"];
  const PLOT_CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
  // With nothing to draw, Plotly's default date axis starts in January 2000: hide the axes instead and let
  // the "No data" / error overlay speak.
  // One line of tick labels, as Grafana draws them: Plotly's default adds the date on a second line, where
  // it collides with a bottom legend.
  const TIME_TICKS = [
    { dtickrange: [null, 1000], value: "%H:%M:%S.%L" },
    { dtickrange: [1000, 60000], value: "%H:%M:%S" },
    { dtickrange: [60000, 86400000], value: "%H:%M" },
    { dtickrange: [86400000, null], value: "%b %d" },
  ];
  const NO_AXES = { xaxis: { visible: false }, yaxis: { visible: false }, shapes: [] };

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

  function axisFormat(unit) {
    switch (unit) {
      case "percentunit": return { tickformat: ".0%" };
      case "percent": return { ticksuffix: "%" };
      case "bytes": return { tickformat: "~s", ticksuffix: "B" };
      case "bps": return { tickformat: "~s", ticksuffix: "B/s" };
      case "seconds": return { tickformat: "~s", ticksuffix: "s" };
      case "ms": return { tickformat: "~s", ticksuffix: "ms" };
      case "reqps": return { tickformat: "~s", ticksuffix: " req/s" };
      case "ops": return { tickformat: "~s", ticksuffix: " ops/s" };
      default: return { tickformat: "~s" };
    }
  }

  function reduce(values, how) {
    const nums = values.map((v) => Number(v[1])).filter((v) => !Number.isNaN(v));
    if (!nums.length) return null;
    switch (how) {
      case "mean": return nums.reduce((a, b) => a + b, 0) / nums.length;
      case "max": return Math.max(...nums);
      case "min": return Math.min(...nums);
      case "sum": return nums.reduce((a, b) => a + b, 0);
      default: return nums[nums.length - 1];
    }
  }

  /* One {name, metric, value, values} per series of every target (range or instant). */
  function flatten(targets, reduceHow) {
    const out = [];
    for (const t of targets) {
      for (const s of t.result || []) {
        const values = s.values || (s.value ? [s.value] : []);
        out.push({ name: legendName(t.legend, s.metric || {}, t.refId), metric: s.metric || {}, values,
                   value: reduce(values, reduceHow), refId: t.refId, legend: t.legend });
      }
    }
    return out;
  }

  function errors(targets) {
    return targets.filter((t) => t.error).map((t) => {
      const pos = t.error.details && t.error.details.position;
      return t.refId + ": " + t.error.message + (pos !== undefined && pos !== null ? " (at position " + pos + ")" : "");
    });
  }

  function thresholdShapes(panel) {
    return (panel.thresholds || []).filter((t) => t.value !== null).map((t) => ({
      type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: t.value, y1: t.value,
      line: { color: color(t.color), width: 1.5, dash: "dash" },
    }));
  }

  function layout(panel, extra) {
    return Object.assign({
      margin: { l: 60, r: 12, t: 6, b: panel.legend && panel.legend.show ? 28 : 24 },
      showlegend: !!(panel.legend && panel.legend.show),
      legend: { orientation: "h", y: -0.15, font: { size: 10 } },
      font: { size: 11, family: "system-ui, sans-serif" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      xaxis: { type: "date", gridcolor: "#eee", tickformatstops: TIME_TICKS },
      yaxis: Object.assign({ gridcolor: "#eee", rangemode: "tozero" }, axisFormat(panel.unit),
        panel.min !== null && panel.max !== null && panel.min !== undefined ? { range: [panel.min, panel.max] } : {}),
      uirevision: "keep",
    }, extra || {});
  }

  /* --- forecasts (dashboards_app/forecast.py): dashed lines from now on, the limit, "reached in N days" --- */
  const metricKey = (m) => JSON.stringify(Object.entries(m || {}).filter(([k]) => k !== "__name__").sort());

  function untilText(seconds) {
    if (seconds <= 0) return "reached";
    const days = seconds / 86400;
    if (days >= 1) return "in " + (days >= 10 ? Math.round(days) : days.toFixed(1)) + " days";
    const hours = seconds / 3600;
    return hours >= 1 ? "in " + hours.toFixed(1) + " hours" : "in " + Math.max(1, Math.round(seconds / 60)) + " min";
  }

  /* One line per forecast series: "acme: token quota reached in 12 days (linear)". */
  function forecastLine(fc, fs, name, unit) {
    const label = fc.limit_label || "limit";
    const method = " (" + fs.method + ")";
    switch (fs.status) {
      case "reached": return name + ": " + label + " reached (" + fmt(fs.limit, unit) + ")";
      case "within_horizon": return name + ": " + label + " reached " + untilText(fs.time_to_limit) + method;
      case "not_within_horizon": return name + ": " + label + " not reached within " + Math.round(fc.horizon / 86400) + " days" + method;
      case "insufficient_data": return name + ": not enough history to forecast";
      default: return name + ": forecast" + method + ", no " + label;
    }
  }

  /* Dashed forecast traces in the colour of the series they continue, a dotted line per limit, a "now"
     line, and the notes; `observed` are the drawn series (to match colours by label set). */
  function forecastParts(panel, targets, observed) {
    const traces = [], shapes = [], notes = [], limits = new Map();
    let origin = null;
    for (const t of targets) {
      const fc = t.forecast;
      if (!fc) continue;
      if (fc.error) { notes.push({ text: "forecast: " + fc.error.message, error: true }); continue; }
      origin = fc.from;
      for (const fs of fc.series || []) {
        const idx = observed.findIndex((s) => s.refId === t.refId && metricKey(s.metric) === metricKey(fs.metric));
        const colour = PALETTE[(idx >= 0 ? idx : observed.length + traces.length) % PALETTE.length];
        const name = legendName(t.legend, fs.metric || {}, t.refId);
        notes.push({ text: forecastLine(fc, fs, name, panel.unit), status: fs.status });
        if (fs.limit !== null && fs.limit !== undefined) limits.set(String(fs.limit), { value: fs.limit, label: fc.limit_label || "limit" });
        if (!(fs.values || []).length) continue;
        traces.push({
          // In the legend only when it continues no drawn series: the dash and colour already say which.
          type: "scatter", mode: "lines", name: name + " forecast (" + fs.method + ")", showlegend: idx < 0,
          line: { width: 1.5, dash: "dash", color: colour }, forecast: true,
          x: fs.values.map((v) => new Date(v[0] * 1000)), y: fs.values.map((v) => Number(v[1])),
          text: fs.values.map((v) => fmt(v[1], panel.unit, panel.decimals)), hovertemplate: "%{text}<extra>%{fullData.name}</extra>",
        });
      }
    }
    for (const l of limits.values()) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: l.value, y1: l.value, line: { color: "#d63b3b", width: 1.5, dash: "dot" } });
    }
    if (origin !== null) {
      const now = new Date(origin * 1000);
      shapes.push({ type: "line", xref: "x", x0: now, x1: now, yref: "paper", y0: 0, y1: 1, line: { color: "#999", width: 1, dash: "dot" } });
    }
    return { traces, shapes, notes, limits: [...limits.values()] };
  }

  function forecastNote(box, notes) {
    if (!notes.length) return;
    const shown = notes.slice(0, 4);
    const more = notes.length - shown.length;
    box.append(el("div", { class: "forecast-note", role: "status",
      style: "position:absolute;left:64px;top:4px;z-index:4;font-size:11px;line-height:1.35;background:rgba(255,255,255,.85);padding:2px 6px;border-radius:3px;pointer-events:none;max-width:70%" },
      ...shown.map((n) => el("div", { class: "forecast-line" + (n.status ? " forecast-" + n.status : ""),
        style: n.error || n.status === "reached" || n.status === "within_horizon" ? "color:#b00020" : "color:#555" }, n.text)),
      more > 0 ? el("div", {}, "+" + more + " more") : null));
  }

  function timeseries(box, panel, targets, bar) {
    const series = flatten(targets);
    const traces = series.map((s, i) => ({
      // A series with one or two points (young data, long step) is invisible as a line alone.
      type: "scatter", mode: s.values.length > 2 ? "lines" : "lines+markers", name: s.name, line: { width: 1.5, color: PALETTE[i % PALETTE.length] },
      x: s.values.map((v) => new Date(v[0] * 1000)), y: s.values.map((v) => Number(v[1])),
      text: s.values.map((v) => fmt(v[1], panel.unit, panel.decimals)), hovertemplate: "%{text}<extra>%{fullData.name}</extra>",
      stackgroup: panel.options && panel.options.stack ? "one" : undefined,
    }));
    const fc = forecastParts(panel, targets, series);
    traces.push(...fc.traces);
    // Many series: the legend goes to the right, so that it does not squeeze the plot.
    const side = traces.filter((t) => t.showlegend !== false).length > 6 ? { legend: { orientation: "v", x: 1.01, y: 1, font: { size: 10 } }, margin: { l: 60, r: 10, t: 6, b: 24 } } : {};
    Plotly.react(box, traces, layout(panel, Object.assign({ shapes: thresholdShapes(panel).concat(fc.shapes), hovermode: "x unified" }, side, traces.length ? {} : NO_AXES)), PLOT_CONFIG);
    forecastNote(box, fc.notes);
    box.dataset.forecastPoints = String(fc.traces.reduce((n, t) => n + t.x.length, 0));
    return series.reduce((n, s) => n + s.values.length, 0);
  }

  function bar(box, panel, targets) {
    const series = flatten(targets, (panel.options || {}).reduce);
    const colors = series.map((s, i) => thresholdColor(panel.thresholds, s.value) || PALETTE[i % PALETTE.length]);
    const trace = { type: "bar", x: series.map((s) => s.name), y: series.map((s) => s.value), marker: { color: colors },
                    text: series.map((s) => fmt(s.value, panel.unit, panel.decimals)), textposition: "auto",
                    hovertemplate: "%{x}: %{text}<extra></extra>" };
    Plotly.react(box, [trace], layout(panel, Object.assign({ xaxis: { type: "category" }, showlegend: false, shapes: thresholdShapes(panel) },
      series.length ? {} : NO_AXES)), PLOT_CONFIG);
    return series.length;
  }

  function stat(box, panel, targets) {
    const series = flatten(targets, (panel.options || {}).reduce);
    const mapping = (panel.options || {}).mapping || {};
    box.replaceChildren();
    box.classList.add("stat-box");
    for (const s of series) {
      const raw = s.value === null ? null : String(Math.round(s.value * 1e6) / 1e6);
      const text = raw !== null && mapping[raw] !== undefined ? mapping[raw] : fmt(s.value, panel.unit, panel.decimals);
      const bg = thresholdColor(panel.thresholds, s.value);
      const tile = el("div", { class: "stat-tile", "data-value": s.value === null ? "" : s.value, style: bg ? "background:" + bg + ";color:#fff" : "" },
        el("div", { class: "stat-value" }, text), series.length > 1 || s.legend ? el("div", { class: "stat-name" }, s.name) : null);
      box.append(tile);
    }
    return series.filter((s) => s.value !== null).length;
  }

  function gauge(box, panel, targets) {
    const series = flatten(targets, (panel.options || {}).reduce).slice(0, 4);
    const min = panel.min ?? 0;
    const max = panel.max ?? Math.max(1, ...series.map((s) => (s.value || 0) * 1.2));
    const steps = [];
    const th = (panel.thresholds || []);
    th.forEach((t, i) => {
      const lo = t.value === null ? min : t.value;
      const hi = i + 1 < th.length ? th[i + 1].value : max;
      steps.push({ range: [lo, hi], color: color(t.color) + "55" });
    });
    const traces = series.map((s, i) => ({
      type: "indicator", mode: "gauge+number", value: s.value,
      number: { valueformat: panel.unit === "percentunit" ? ".1%" : "~s", suffix: panel.unit === "bytes" ? "B" : panel.unit === "seconds" ? "s" : "" },
      title: { text: series.length > 1 ? s.name : "", font: { size: 11 } },
      domain: { x: [i / series.length, (i + 1) / series.length - 0.02], y: [0, 1] },
      gauge: { axis: { range: [min, max], tickformat: panel.unit === "percentunit" ? ".0%" : "~s" },
               bar: { color: thresholdColor(th, s.value) || PALETTE[0] }, steps },
    }));
    Plotly.react(box, traces, { margin: { l: 20, r: 20, t: 20, b: 10 }, paper_bgcolor: "rgba(0,0,0,0)", font: { size: 11 } }, PLOT_CONFIG);
    return series.filter((s) => s.value !== null).length;
  }

  function table(box, panel, targets) {
    const rows = new Map();
    const cols = [];
    const labelKeys = new Set();
    for (const t of targets) {
      const col = t.legend && !t.legend.includes("{{") ? t.legend : (t.refId || "value");
      cols.push(col);
      for (const s of t.result || []) {
        const m = Object.assign({}, s.metric || {});
        delete m.__name__;
        Object.keys(m).forEach((k) => labelKeys.add(k));
        const key = JSON.stringify(Object.entries(m).sort());
        const row = rows.get(key) || { labels: m, values: {} };
        const values = s.values || (s.value ? [s.value] : []);
        row.values[col] = reduce(values, "last");
        rows.set(key, row);
      }
    }
    const keys = [...labelKeys].sort();
    const head = el("tr", {}, ...keys.map((k) => el("th", {}, k)), ...cols.map((c) => el("th", { class: "num" }, c)));
    const body = [...rows.values()].sort((a, b) => (b.values[cols[0]] ?? -Infinity) - (a.values[cols[0]] ?? -Infinity)).map((r) => el("tr", {},
      ...keys.map((k) => el("td", {}, r.labels[k] ?? "")),
      ...cols.map((c) => {
        const bg = thresholdColor(panel.thresholds, r.values[c]);
        return el("td", { class: "num", style: bg ? "background:" + bg + "33" : "" }, fmt(r.values[c], panel.unit, panel.decimals));
      })));
    box.replaceChildren(el("table", { class: "list panel-table" }, el("thead", {}, head), el("tbody", {}, ...body)));
    return rows.size;
  }

  function heatmap(box, panel, targets) {
    const series = flatten(targets).filter((s) => s.metric.le !== undefined);
    // Prometheus writes the last bucket "+Inf", which Number() reads as NaN (and a NaN breaks the sort).
    const bound = (le) => (le === "+Inf" ? Infinity : Number(le));
    series.sort((a, b) => bound(a.metric.le) - bound(b.metric.le));
    if (!series.length) { return timeseries(box, panel, targets); }
    const times = series[0].values.map((v) => v[0]);
    const z = series.map((s, i) => {
      const prev = i > 0 ? series[i - 1] : null;
      const prevAt = new Map(prev ? prev.values.map((v) => [v[0], Number(v[1])]) : []);
      const at = new Map(s.values.map((v) => [v[0], Number(v[1])]));
      // Buckets are cumulative: each cell is this bucket minus the one below it.
      return times.map((t) => Math.max(0, (at.get(t) ?? 0) - (prev ? (prevAt.get(t) ?? 0) : 0)));
    });
    const trace = { type: "heatmap", x: times.map((t) => new Date(t * 1000)), y: series.map((s) => s.metric.le === "+Inf" ? "+Inf" : fmt(s.metric.le, panel.unit)),
                    z, colorscale: "YlOrRd", reversescale: true, showscale: false, hovertemplate: "≤ %{y}: %{z:.3~s}/s<extra></extra>" };
    Plotly.react(box, [trace], layout(panel, { yaxis: { type: "category" }, showlegend: false }), PLOT_CONFIG);
    return z.reduce((n, r) => n + r.length, 0);
  }

  function render(box, panel, targets) {
    targets = targets || [];
    const errs = errors(targets);
    let points = 0;
    box.classList.remove("stat-box");
    box.querySelectorAll(":scope > .nodata, :scope > .panel-error, :scope > .forecast-note").forEach((e) => e.remove());
    if (panel.type === "placeholder") {
      box.replaceChildren(el("div", { class: "placeholder" }, (panel.options || {}).reason || "This panel type is not supported."));
    } else if (panel.type === "text") {
      box.replaceChildren(el("div", { class: "text-panel" }, (panel.options || {}).content || ""));
    } else {
      if (!box.classList.contains("js-plotly-plot")) box.replaceChildren();
      const draw = { timeseries, bar, stat, gauge, table, heatmap }[panel.type] || timeseries;
      if (["stat", "table"].includes(panel.type) && box.classList.contains("js-plotly-plot")) { Plotly.purge(box); box.replaceChildren(); }
      points = draw(box, panel, targets);
      if (!points && !errs.length) {
        box.append(el("div", { class: "nodata" }, "No data"));
      }
    }
    if (errs.length) box.append(el("div", { class: "panel-error", role: "alert" }, errs.join("; ")));
    box.dataset.points = String(points);
    return points;
  }

  function resize(box) { if (box.classList.contains("js-plotly-plot")) Plotly.Plots.resize(box); }

  return { render, resize, flatten, legendName };
})();
