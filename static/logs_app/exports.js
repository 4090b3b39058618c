/* Exports: start one, watch progress (rows, percent), cancel, download, delete; schedules. */
(function () {
  "use strict";
  const T = window.Telemetry;
  const $ = function (id) { return document.getElementById(id); };
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  let timer = null;

  function progress(ex) {
    const pct = ex.percent === null ? 0 : ex.percent;
    return '<div class="bar" title="' + pct + '%"><div style="width:' + pct + '%"></div></div><span class="mono">' +
      ex.rows_written.toLocaleString() + (ex.rows_total !== null ? " / " + ex.rows_total.toLocaleString() : "") + " rows" + (ex.percent !== null ? " · " + ex.percent + "%" : "") + "</span>";
  }
  async function load() {
    const list = await T.api("exports/?page_size=100");
    const quota = await T.api("exports/quota/");
    $("quota").textContent = "Using " + T.fmtBytes(quota.used_bytes) + " of " + T.fmtBytes(quota.quota_bytes) + ".";
    const rows = list.results;
    $("exports").querySelector("tbody").innerHTML = rows.map(function (ex) {
      const actions = [];
      if (ex.download_url) actions.push('<a class="button small download" href="' + T.esc(ex.download_url) + '">Download</a>');
      if (ex.status === "pending" || ex.status === "running") actions.push('<button type="button" class="small danger cancel" data-id="' + ex.id + '">Cancel</button>');
      else actions.push('<button type="button" class="small secondary delete" data-id="' + ex.id + '">Delete</button>');
      return '<tr data-id="' + ex.id + '"><td>' + ex.id + '</td><td class="mono">' + T.esc(ex.query || "(all)") + "</td><td class=\"mono\">" + T.esc(T.fmtTime(ex.start)) + " →<br>" + T.esc(T.fmtTime(ex.end)) +
        "</td><td>" + ex.format + (ex.gzip ? ".gz" : "") + '</td><td class="status st-' + ex.status + '">' + ex.status + (ex.error ? '<br><span class="muted">' + T.esc(ex.error) + "</span>" : "") +
        "</td><td>" + progress(ex) + "</td><td>" + T.fmtBytes(ex.size_bytes) + "</td><td>" + actions.join(" ") + "</td></tr>";
    }).join("") || '<tr><td colspan="8" class="empty">No exports yet.</td></tr>';
    clearTimeout(timer);
    if (rows.some(function (ex) { return ex.status === "pending" || ex.status === "running"; })) timer = setTimeout(load, 1000);
  }
  async function loadSchedules() {
    const list = await T.api("exports/schedules/?page_size=100");
    $("schedules").querySelector("tbody").innerHTML = list.results.map(function (s) {
      const when = s.frequency === "weekly" ? "weekly, " + DAYS[s.weekday] + " " + s.at_time.slice(0, 5) : "daily " + s.at_time.slice(0, 5);
      return "<tr><td>" + T.esc(s.name) + '</td><td class="mono">' + T.esc(s.query || "(all)") + "</td><td>" + when + " UTC</td><td>" + s.format + (s.gzip ? ".gz" : "") +
        "</td><td>" + s.owner + '</td><td class="mono">' + T.esc(T.fmtTime(s.next_run_at)) + '</td><td><button type="button" class="small secondary del-schedule" data-id="' + s.id + '">Delete</button></td></tr>';
    }).join("") || '<tr><td colspan="7" class="empty">No schedules.</td></tr>';
  }

  $("export-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    const r = T.range();
    try {
      await T.api("exports/", {method: "POST", body: {query: $("q").value.trim(), start: r.start, end: r.end, format: $("format").value, gzip: $("gzip").checked}});
      load();
    } catch (err) { T.flash(err.message, "error"); }
  });
  $("schedule-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    try {
      await T.api("exports/schedules/", {method: "POST", body: {name: $("s-name").value, query: $("s-query").value.trim(), frequency: $("s-frequency").value,
        weekday: Number($("s-weekday").value), at_time: $("s-time").value, format: $("s-format").value, gzip: true}});
      loadSchedules();
    } catch (err) { T.flash(err.message, "error"); }
  });
  document.addEventListener("click", async function (e) {
    const b = e.target.closest("button.cancel, button.delete, button.del-schedule"); if (!b) return;
    try {
      if (b.classList.contains("cancel")) await T.api("exports/" + b.dataset.id + "/cancel/", {method: "POST"});
      else if (b.classList.contains("delete")) await T.api("exports/" + b.dataset.id + "/", {method: "DELETE"});
      else { await T.api("exports/schedules/" + b.dataset.id + "/", {method: "DELETE"}); loadSchedules(); return; }
      load();
    } catch (err) { T.flash(err.message, "error"); }
  });
  T.initRange(null);
  load().then(loadSchedules);
})();
