/* Trace search (service, operation, duration, errors, any span query) and the service map. */
(function () {
  "use strict";
  const T = window.Telemetry;
  const $ = function (id) { return document.getElementById(id); };

  function quoteIfNeeded(v) { return /^[\w./:{}-]+$/.test(v) ? v : '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"'; }
  function buildQuery() {
    const parts = [];
    if ($("service").value.trim()) parts.push("service=" + quoteIfNeeded($("service").value.trim()));
    if ($("operation").value.trim()) parts.push("name=" + quoteIfNeeded($("operation").value.trim()));
    if ($("min-duration").value.trim()) parts.push("duration>=" + $("min-duration").value.trim());
    if ($("errors-only").checked) parts.push("status=error");
    if ($("tq").value.trim()) parts.push($("tq").value.trim());
    return parts.join(" ");
  }

  async function run() {
    const r = T.range();
    const q = buildQuery();
    T.showQueryError(null);
    const tbody = $("traces").querySelector("tbody");
    try {
      const found = await T.api("traces/search/?" + T.qs({q: q, start: r.start, end: r.end, limit: 100}));
      const map = await T.api("service-map/?" + T.qs({start: r.start, end: r.end}));
      tbody.innerHTML = found.traces.length ? found.traces.map(function (t) {
        return "<tr><td class=\"mono\">" + T.esc(T.fmtTime(t.start)) + "</td><td>" + T.esc(t.root_service) + " · " + T.esc(t.root_name) +
          "</td><td>" + T.fmtMs(t.duration_ms) + "</td><td>" + t.span_count + "</td><td>" + (t.error_count ? '<span class="lvl lvl-error">' + t.error_count + "</span>" : "0") +
          '</td><td><a class="mono" href="' + T.BASE + "/traces/" + T.esc(t.trace_id) + '/">' + T.esc(t.trace_id.slice(0, 12)) + "…</a></td></tr>";
      }).join("") : '<tr><td colspan="6" class="empty">No traces match.</td></tr>';
      drawMap(map);
    } catch (err) { T.showQueryError(err); }
  }

  function drawMap(map) {
    const nodes = map.nodes, n = nodes.length;
    const pos = {};
    nodes.forEach(function (node, i) {
      const a = 2 * Math.PI * i / Math.max(n, 1) - Math.PI / 2;
      pos[node.service] = n === 1 ? [0, 0] : [Math.cos(a), Math.sin(a)];
    });
    const annotations = map.edges.map(function (e) {
      const s = pos[e.source], t = pos[e.target];
      return {x: t[0], y: t[1], ax: s[0], ay: s[1], xref: "x", yref: "y", axref: "x", ayref: "y", showarrow: true,
        arrowhead: 3, arrowsize: 1.4, arrowwidth: 1.5, standoff: 22, startstandoff: 22, arrowcolor: e.errors ? "#d43c3c" : "#7d8a99"};
    });
    const nodeTrace = {type: "scatter", mode: "markers+text", x: nodes.map(function (d) { return pos[d.service][0]; }),
      y: nodes.map(function (d) { return pos[d.service][1]; }), text: nodes.map(function (d) { return d.service; }), textposition: "bottom center",
      marker: {size: 30, color: nodes.map(function (d) { return d.errors ? "#f3b5b5" : "#bcd3f5"; }), line: {width: 2, color: "#3b6ee8"}},
      hovertext: nodes.map(function (d) { return d.service + ": " + d.spans + " spans, " + d.errors + " errors"; }), hoverinfo: "text"};
    Plotly.react($("service-map"), [nodeTrace], {annotations: annotations, showlegend: false, height: 320, margin: {l: 10, r: 10, t: 10, b: 10},
      xaxis: {visible: false, range: [-1.6, 1.6]}, yaxis: {visible: false, range: [-1.5, 1.4]}}, {displayModeBar: false, responsive: true});
    $("edges").querySelector("tbody").innerHTML = map.edges.map(function (e) {
      return "<tr><td>" + T.esc(e.source) + " → " + T.esc(e.target) + "</td><td>" + e.calls + "</td><td>" + e.errors + "</td><td>" + T.fmtMs(e.avg_ms) + "</td></tr>";
    }).join("") || '<tr><td colspan="4" class="muted">No calls between services in this range.</td></tr>';
  }

  $("trace-form").addEventListener("submit", function (e) { e.preventDefault(); run(); });
  T.initRange(run);
  run();
})();
