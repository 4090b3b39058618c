/* Exports: start one, watch progress (rows, percent), cancel, download, delete; schedules. */
"use strict";
(function () {
  const { api, el, byId, format, ui } = window.Portal;
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  let timer = null;

  function progress(ex) {
    const pct = ex.percent === null ? 0 : ex.percent;
    return [el("div", { class: "bar", title: pct + "%" }, el("div", { style: { width: pct + "%" } })),
      el("span", { class: "mono" }, ex.rows_written.toLocaleString() + (ex.rows_total !== null ? " / " + ex.rows_total.toLocaleString() : "") +
        " rows" + (ex.percent !== null ? " · " + ex.percent + "%" : ""))];
  }

  function exportRow(ex) {
    const running = ex.status === "pending" || ex.status === "running";
    return el("tr", { "data-id": ex.id },
      el("td", {}, ex.id),
      el("td", { class: "mono" }, ex.query || "(all)"),
      el("td", { class: "mono" }, format.timestamp(ex.start) + " →", el("br"), format.timestamp(ex.end)),
      el("td", {}, ex.format + (ex.gzip ? ".gz" : "")),
      el("td", { class: "status st-" + ex.status }, ex.status, ex.error ? [el("br"), el("span", { class: "muted" }, ex.error)] : null),
      el("td", {}, progress(ex)),
      el("td", {}, format.bytes(ex.size_bytes)),
      el("td", {},
        ex.download_url ? [el("a", { class: "button small download", href: ex.download_url }, "Download"), " "] : null,
        running ? el("button", { type: "button", class: "small danger cancel", "data-id": ex.id }, "Cancel")
          : el("button", { type: "button", class: "small secondary delete", "data-id": ex.id }, "Delete")));
  }

  async function load() {
    const list = await api.get("/exports/", { page_size: 100 });
    const quota = await api.get("/exports/quota/");
    byId("quota").textContent = "Using " + format.bytes(quota.used_bytes) + " of " + format.bytes(quota.quota_bytes) + ".";
    const rows = list.results;
    byId("exports").querySelector("tbody").replaceChildren(...(rows.length ? rows.map(exportRow)
      : [el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No exports yet."))]));
    clearTimeout(timer);
    if (rows.some((ex) => ex.status === "pending" || ex.status === "running")) timer = setTimeout(load, 1000);
  }

  function scheduleRow(s) {
    const when = s.frequency === "weekly" ? "weekly, " + DAYS[s.weekday] + " " + s.at_time.slice(0, 5) : "daily " + s.at_time.slice(0, 5);
    return el("tr", {},
      el("td", {}, s.name), el("td", { class: "mono" }, s.query || "(all)"), el("td", {}, when + " UTC"),
      el("td", {}, s.format + (s.gzip ? ".gz" : "")), el("td", {}, s.owner), el("td", { class: "mono" }, format.timestamp(s.next_run_at)),
      el("td", {}, el("button", { type: "button", class: "small secondary del-schedule", "data-id": s.id }, "Delete")));
  }

  async function loadSchedules() {
    const list = await api.get("/exports/schedules/", { page_size: 100 });
    byId("schedules").querySelector("tbody").replaceChildren(...(list.results.length ? list.results.map(scheduleRow)
      : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No schedules."))]));
  }

  byId("export-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = ui.timeRange.get();
    try {
      await api.post("/exports/", { query: byId("q").value.trim(), start: r.start, end: r.end, format: byId("format").value, gzip: byId("gzip").checked });
      load();
    } catch (err) { ui.flash(err.message, "error"); }
  });
  byId("schedule-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api.post("/exports/schedules/", { name: byId("s-name").value, query: byId("s-query").value.trim(), frequency: byId("s-frequency").value,
        weekday: Number(byId("s-weekday").value), at_time: byId("s-time").value, format: byId("s-format").value, gzip: true });
      loadSchedules();
    } catch (err) { ui.flash(err.message, "error"); }
  });
  document.addEventListener("click", async (e) => {
    const b = e.target.closest("button.cancel, button.delete, button.del-schedule");
    if (!b) return;
    try {
      if (b.classList.contains("cancel")) await api.post("/exports/" + b.dataset.id + "/cancel/");
      else if (b.classList.contains("delete")) await api.delete("/exports/" + b.dataset.id + "/");
      else { await api.delete("/exports/schedules/" + b.dataset.id + "/"); loadSchedules(); return; }
      load();
    } catch (err) { ui.flash(err.message, "error"); }
  });
  ui.timeRange.init(null);
  load().then(loadSchedules);
})();
