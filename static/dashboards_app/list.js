/* Dashboard list: import a portal export or a Grafana dashboard through the API. */
"use strict";
(function () {
  const { api, config, byId } = window.Portal;
  const btn = byId("import-button");
  if (!btn) return;
  const area = byId("import-json");
  const errorBox = byId("import-error");
  byId("import-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (f) area.value = await f.text();
  });
  btn.addEventListener("click", async () => {
    errorBox.textContent = "";
    let payload;
    try { payload = JSON.parse(area.value); } catch (e) { errorBox.textContent = "Not valid JSON: " + e.message; return; }
    try {
      const made = await api.post("/dashboards/import/", payload);
      window.location = config.base + "/dashboards/" + made.uid + "/";
    } catch (e) { errorBox.textContent = e.message; }
  });
})();
