/* One trace: a waterfall (span tree by start time), span attributes and events, and the trace's logs beside. */
(function () {
  "use strict";
  const T = window.Telemetry;
  const $ = function (id) { return document.getElementById(id); };
  const traceId = $("trace-root").dataset.trace;

  function order(spans) {
    // Depth-first by parent, children by start time; spans whose parent is missing become roots.
    const byId = {}, children = {};
    spans.forEach(function (s) { byId[s.span_id] = s; });
    spans.forEach(function (s) {
      const p = s.parent_span_id && byId[s.parent_span_id] ? s.parent_span_id : "";
      (children[p] = children[p] || []).push(s);
    });
    const out = [];
    (function walk(parent, depth) {
      (children[parent] || []).sort(function (a, b) { return a.start < b.start ? -1 : 1; }).forEach(function (s) {
        out.push({span: s, depth: depth}); walk(s.span_id, depth + 1);
      });
    })("", 0);
    return out;
  }

  function render(trace) {
    const spans = trace.spans;
    const t0 = Math.min.apply(null, spans.map(function (s) { return Date.parse(s.start); }));
    const t1 = Math.max.apply(null, spans.map(function (s) { return Date.parse(s.end); }));
    const total = Math.max(t1 - t0, 0.001);
    const services = Array.from(new Set(spans.map(function (s) { return s.service; })));
    const palette = ["#3b6ee8", "#2e9d5b", "#a15be0", "#e07b1a", "#1aa3b8", "#c2477a"];
    $("trace-summary").textContent = spans.length + " spans · " + services.length + " services · " + T.fmtMs(total);
    const rows = order(spans).map(function (x, i) {
      const s = x.span;
      const left = (Date.parse(s.start) - t0) / total * 100, width = Math.max(s.duration_ms / total * 100, 0.3);
      const color = s.status === "error" ? "#d43c3c" : palette[services.indexOf(s.service) % palette.length];
      return '<div class="wf-row' + (s.status === "error" ? " err" : "") + '" data-i="' + i + '" tabindex="0">' +
        '<div class="wf-name" style="padding-left:' + (x.depth * 14 + 4) + 'px"><span class="svc" style="border-color:' + color + '">' + T.esc(s.service) + "</span> " + T.esc(s.name) + "</div>" +
        '<div class="wf-track"><div class="wf-bar" style="left:' + left + "%;width:" + width + "%;background:" + color + '"></div>' +
        (left + width > 85 ? '<span class="wf-dur inside" style="right:' + Math.max(100 - left - width, 0) + '%">' : '<span class="wf-dur" style="left:' + (left + width) + '%">') + T.fmtMs(s.duration_ms) + "</span></div></div>";
    });
    $("waterfall").innerHTML = '<div class="wf-head"><div class="wf-name">Span</div><div class="wf-track">0 — ' + T.fmtMs(total) + "</div></div>" + rows.join("");
    const ordered = order(spans);
    $("waterfall").addEventListener("click", function (e) {
      const row = e.target.closest(".wf-row"); if (!row) return;
      document.querySelectorAll(".wf-row.sel").forEach(function (r) { r.classList.remove("sel"); });
      row.classList.add("sel");
      showSpan(ordered[Number(row.dataset.i)].span, trace.logs);
    });
    if (ordered.length) { $("waterfall").querySelector(".wf-row").classList.add("sel"); showSpan(ordered[0].span, trace.logs); }
    renderLogs(trace.logs, null);
  }

  function showSpan(s, logs) {
    const d = $("span-detail");
    d.hidden = false;
    d.innerHTML = "<h2>" + T.esc(s.service) + " · " + T.esc(s.name) + "</h2>" +
      T.kv({span_id: s.span_id, parent_span_id: s.parent_span_id || "(root)", kind: s.kind, status: s.status + (s.status_message ? ": " + s.status_message : ""),
        start: T.fmtTime(s.start), duration: T.fmtMs(s.duration_ms)}) +
      "<h3>Attributes</h3>" + T.kv(s.attributes) + "<h3>Resource</h3>" + T.kv(s.resource) +
      "<h3>Events</h3>" + (s.events.length ? '<table class="list events">' + s.events.map(function (ev) {
        return '<tr><td class="mono">' + T.esc(T.fmtTime(ev.time)) + "</td><td><strong>" + T.esc(ev.name) + "</strong></td><td>" + T.kv(ev.attributes) + "</td></tr>";
      }).join("") + "</table>" : '<span class="muted">none</span>');
    renderLogs(logs, s.span_id);
  }

  function renderLogs(logs, spanId) {
    if (!logs.length) { $("trace-logs").innerHTML = '<div class="empty">No log records carry this trace id.</div>'; return; }
    $("trace-logs").innerHTML = '<table class="list logs">' + logs.map(function (r) {
      return '<tr class="' + (spanId && r.span_id === spanId ? "here" : "") + '"><td class="t mono">' + T.esc(T.fmtTime(r.time)) + "</td><td>" + T.levelBadge(r.level) +
        "</td><td>" + T.esc(r.service) + '</td><td class="body">' + T.esc(r.body) +
        (r.correlation_id ? ' <a class="muted" href="' + T.BASE + "/logs/?q=" + encodeURIComponent('correlation_id="' + r.correlation_id + '"') + '">cid</a>' : "") + "</td></tr>";
    }).join("") + "</table>";
  }

  T.api("traces/" + traceId + "/").then(render).catch(function (err) { T.flash(err.message, "error"); });
})();
